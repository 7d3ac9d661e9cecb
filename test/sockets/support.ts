/** TCP connections through a Node server on 127.0.0.1, and byte collectors for the socket tests. */
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import net from "node:net";

/** What arrived on a socket, as one string. */
export class Collector {
  text = "";
  constructor(readonly socket: net.Socket) {
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      this.text += d;
    });
  }

  /** Waits until `expected` bytes arrived (or `ms` passed: the caller's assert then says what came). */
  async until(length: number, ms = 5000): Promise<string> {
    const end = Date.now() + ms;
    while (this.text.length < length && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    return this.text;
  }
}

/** A listening server with `n` connections: each client and the server's socket of it. */
export interface Connections {
  server: net.Server;
  port: number;
  /** the client ends, in connection order */
  clients: Collector[];
  /** the server's ends, clients[i]'s peer at accepted[i] */
  accepted: Collector[];
  close(): void;
}

/** Opens a server on 127.0.0.1 and `n` client connections to it. */
export async function connections(n: number): Promise<Connections> {
  const server = net.createServer();
  const byPort = new Map<number, net.Socket>();
  server.on("connection", (s) => {
    byPort.set(s.remotePort ?? -1, s);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as net.AddressInfo).port;
  const clients: Collector[] = [];
  for (let i = 0; i < n; i++) {
    const c = net.connect(port, "127.0.0.1");
    await once(c, "connect");
    clients.push(new Collector(c));
  }
  const end = Date.now() + 5000;
  while (byPort.size < n && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  const accepted = clients.map((c) => {
    const s = byPort.get(c.socket.localPort ?? -2);
    if (s === undefined)
      throw new Error(`the server did not accept the connection from port ${c.socket.localPort}`);
    return new Collector(s);
  });
  return {
    server,
    port,
    clients,
    accepted,
    close() {
      for (const c of [...clients, ...accepted]) c.socket.destroy();
      server.close();
    },
  };
}

/** The repository's src folder, as a file URL, for the code of child processes. */
export const SRC = new URL("../../src/", import.meta.url).href;

/** This folder, as a file URL, for child processes that import `programs.ts`. */
export const TESTS = new URL("./", import.meta.url).href;

/** What a child process did. */
export interface NetnsChild {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `code` (an ES module, through tsx) in a child Node process in a network namespace of its
 * own (`unshare --net --mount`; `setup`, a shell command, runs first: by default `ip` brings lo up):
 * what it attaches to its namespace or its lo touches no other process. The code imports rawbpf
 * from `${SRC}...`.
 */
export function runInNetns(code: string, setup = "ip link set lo up"): NetnsChild {
  const r = spawnSync(
    "unshare",
    [
      "--net",
      "--mount",
      "sh",
      "-c",
      `${setup} && exec "$0" --import tsx --input-type=module -e "$1"`,
      process.execPath,
      code,
    ],
    { encoding: "utf8", timeout: 120_000 },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `setup` for {@link runInNetns} that also turns RPS on for lo (so received packets are dissected). */
export const RPS_SETUP =
  "mount -t sysfs sysfs /sys && ip link set lo up && echo 1 > /sys/class/net/lo/queues/rx-0/rps_cpus";
