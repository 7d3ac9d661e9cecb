import assert from "node:assert/strict";
import dgram from "node:dgram";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import net from "node:net";
import { test } from "node:test";
import { WrongProgramTypeError } from "../../src/link/errors.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import {
  attachFilter,
  detachFilter,
  NotASocketError,
  socketFd,
  socketPair,
} from "../../src/socket/socket.js";
import { BpfError } from "../../src/sys/error.js";
import { exit, jeqImm, ldxW, movImm, returnValue } from "../program/insns.js";
import { settledFdCount } from "../support/fds.js";
import { needsRoot } from "../support/privilege.js";

/** A filter that drops packets whose skb->len is `len` and keeps the rest whole. */
function dropLength(len: number): Program {
  return Program.load({
    type: "socket_filter",
    instructions: [ldxW(2, 1, 0), jeqImm(2, len, 2), movImm(0, 0xffff), exit(), movImm(0, 0), exit()],
  });
}

test("socketpair: r0 = 4 truncates every datagram, r0 = 0 drops it, detach restores", (t) => {
  if (!needsRoot(t)) return;
  using pair = socketPair();
  using four = Program.load({ type: "socket_filter", instructions: returnValue(4) });
  using none = Program.load({ type: "socket_filter", instructions: returnValue(0) });
  pair.send("hello, world");
  assert.deepEqual(pair.recvAll().map(String), ["hello, world"]);
  attachFilter(pair, four);
  pair.send("hello, world");
  pair.send("xy");
  assert.deepEqual(pair.recvAll().map(String), ["hell", "xy"]);
  attachFilter(pair, none);
  pair.send("dropped");
  assert.equal(pair.recv(), undefined);
  assert.equal(detachFilter(pair), true);
  assert.equal(detachFilter(pair), false, "nothing left to detach");
  pair.send("back");
  assert.deepEqual(pair.recvAll().map(String), ["back"]);
});

test("a socket pair owns two descriptors and closes them", (t) => {
  if (!needsRoot(t)) return;
  const before = settledFdCount("socket:");
  for (let i = 0; i < 1000; i++) socketPair("stream").close();
  const p = socketPair();
  assert.equal(settledFdCount("socket:"), before + 2);
  p.close();
  p.close();
  assert.equal(settledFdCount("socket:"), before);
  assert.throws(() => p.send("x"), /closed/);
});

async function collect(sock: dgram.Socket, until: string): Promise<string[]> {
  const got: string[] = [];
  for (;;) {
    const [msg] = (await once(sock, "message")) as [Buffer];
    got.push(msg.toString());
    if (msg.toString() === until) return got;
  }
}

test("Node dgram server on 127.0.0.1: the kernel drops datagrams before JavaScript sees them", async (t) => {
  if (!needsRoot(t)) return;
  const server = dgram.createSocket("udp4");
  const client = dgram.createSocket("udp4");
  try {
    assert.throws(() => socketFd(server), NotASocketError, "not bound yet");
    server.bind(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address();
    // a UDP socket filter sees the 8-byte UDP header before the payload
    using filter = dropLength(8 + "drop".length);
    attachFilter(server, filter);
    const done = collect(server, "end");
    for (const m of ["keep me", "drop", "kept too", "drop", "end"]) client.send(m, port, "127.0.0.1");
    assert.deepEqual(await done, ["keep me", "kept too", "end"]);
    assert.equal(detachFilter(server), true);
    const again = collect(server, "end");
    for (const m of ["drop", "end"]) client.send(m, port, "127.0.0.1");
    assert.deepEqual(await again, ["drop", "end"]);
  } finally {
    client.close();
    server.close();
  }
});

test("net.Server and net.Socket: filters attach to their descriptors", async (t) => {
  if (!needsRoot(t)) return;
  using keep = Program.load({ type: "socket_filter", instructions: returnValue(0xffff) });
  const server = net.createServer((s) => s.end("over tcp"));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  try {
    attachFilter(server, keep);
    const client = net.connect((server.address() as AddressInfo).port, "127.0.0.1");
    await once(client, "connect");
    attachFilter(client, keep);
    const chunks: Buffer[] = [];
    client.on("data", (c: Buffer) => chunks.push(c));
    await once(client, "end");
    assert.equal(Buffer.concat(chunks).toString(), "over tcp");
    assert.equal(detachFilter(client), true);
    assert.equal(detachFilter(server), true);
    assert.equal(detachFilter(server), false);
    client.destroy();
  } finally {
    server.close();
  }
});

test("bad sockets are typed errors", (t) => {
  if (!needsRoot(t)) return;
  using p = Program.load({ type: "socket_filter", instructions: returnValue(0) });
  assert.throws(() => attachFilter(-1, p), NotASocketError);
  assert.throws(() => attachFilter({}, p), NotASocketError);
  assert.throws(
    () => attachFilter(p.fd, p),
    (e: unknown) => e instanceof BpfError && e.errnoName === "ENOTSOCK",
  );
  using pair = socketPair();
  assert.throws(() => attachFilter(pair, { fd: -5 }), BpfError);
});

test("attachFilter on a closed socket says it is closed; with a program of another type it names the type before the kernel", async (t) => {
  if (!needsRoot(t)) return;
  using filter = Program.load({ type: "socket_filter", instructions: returnValue(0) });
  const udp = dgram.createSocket("udp4");
  udp.bind(0, "127.0.0.1");
  await once(udp, "listening");
  udp.close();
  assert.throws(() => attachFilter(udp, filter), {
    name: "NotASocketError",
    message: "the dgram socket is closed: create and bind a new one",
  });
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const client = net.connect((server.address() as AddressInfo).port, "127.0.0.1");
  await once(client, "connect");
  client.destroy();
  server.close();
  assert.throws(() => attachFilter(client, filter), /the socket is closed/);

  using xdp = Program.load({ type: "xdp", instructions: returnValue(2) });
  using pair = socketPair();
  assert.throws(
    () => attachFilter(pair, xdp),
    (e: unknown) =>
      e instanceof WrongProgramTypeError &&
      e.message.startsWith("attachFilter needs a 'socket_filter' program, got a 'xdp' program"),
  );
  // a raw descriptor of something that is not a program: what it is, before the kernel
  using map = BpfMap.create({ type: "array", keySize: 4, valueSize: 4, maxEntries: 1 });
  assert.throws(() => attachFilter(pair, map.fd), {
    message: `fd ${map.fd} is a BPF map, not a BPF program`,
  });
});
