/**
 * What the socket tests share, in their own process and in the child processes of
 * `runInNetns` (which import this file by URL, `${TESTS}programs.ts`): the counting prefix of
 * test/support/counting.ts, and a UDP server and client on 127.0.0.1.
 */
import dgram from "node:dgram";
import { once } from "node:events";

export { countThen } from "../support/counting.js";

/** A UDP server on 127.0.0.1 with what it received, and a client that sends to it. */
export interface UdpPair {
  /** the datagrams the server received, as text, in order */
  readonly got: string[];
  /** sends `text` from the client to the server */
  send(text: string): Promise<void>;
  /** waits until `n` datagrams arrived, or 5 s passed (the caller's assert then says what came) */
  settle(n: number): Promise<void>;
  close(): void;
}

/** Opens a {@link UdpPair}. */
export async function udpPair(): Promise<UdpPair> {
  const server = dgram.createSocket("udp4");
  server.bind(0, "127.0.0.1");
  await once(server, "listening");
  const got: string[] = [];
  server.on("message", (m) => got.push(String(m)));
  const client = dgram.createSocket("udp4");
  const port = server.address().port;
  return {
    got,
    send: (text) => new Promise<void>((r) => client.send(text, port, "127.0.0.1", () => r())),
    async settle(n) {
      const end = Date.now() + 5000;
      while (got.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    },
    close() {
      client.close();
      server.close();
    },
  };
}
