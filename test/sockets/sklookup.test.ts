/**
 * sk_lookup and flow_dissector on a network namespace, against the real kernel. Each test runs in
 * a child process in a namespace of its own (so nothing here steers another process's traffic):
 * an sk_lookup program sends connections to a range of ports to one listening Node server.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { asm } from "../../src/isa/template.js";
import { WrongProgramTypeError } from "../../src/link/errors.js";
import { attachFlowDissector, attachSkLookup, NotANetnsError } from "../../src/link/sklookup.js";
import { Program } from "../../src/program/program.js";
import { InputError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";
import { RPS_SETUP, runInNetns, SRC, TESTS } from "./support.js";

const FIRST = 8000;
const COUNT = 5;

test("attachSkLookup: connections to a range of ports all land on one listening socket; closing the link stops it", (t) => {
  if (!needsRoot(t)) return;
  const r = runInNetns(`
    import net from "node:net";
    import { once } from "node:events";
    import { statSync } from "node:fs";
    const { u32, u64 } = await import("${SRC}codec/index.ts");
    const { asm } = await import("${SRC}isa/template.ts");
    const { BpfMap } = await import("${SRC}map/map.ts");
    const { Program } = await import("${SRC}program/program.ts");
    const { addSocket } = await import("${SRC}link/sockmap.ts");
    const { attachSkLookup } = await import("${SRC}link/sklookup.ts");
    const server = net.createServer();
    const landed = [];
    server.on("connection", (s) => { landed.push(s.localPort); s.destroy(); });
    server.listen(7000, "127.0.0.1");
    await once(server, "listening");
    const socks = BpfMap.create({ type: "sockmap", keySize: 4, valueSize: 4, maxEntries: 1 });
    addSocket(socks, 0, server);
    const count = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 1 });
    const program = Program.load({
      type: "sk_lookup",
      expectedAttachType: "sk_lookup",
      instructions: asm\`
        r6 = r1
        r2 = *(u32 *)(r6 + 60)     // local_port, host order
        if r2 < ${FIRST} goto pass
        if r2 >= ${FIRST + COUNT} goto pass
        r1 = 0
        *(u32 *)(r10 - 4) = r1
        r2 = r10
        r2 += -4
        r1 = \${count}
        call bpf_map_lookup_elem
        if r0 == 0 goto find
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1
      find:
        r2 = r10
        r2 += -4
        r1 = \${socks}
        call bpf_map_lookup_elem
        if r0 == 0 goto pass
        r7 = r0
        r1 = r6
        r2 = r7
        r3 = 0
        call bpf_sk_assign
        r1 = r7
        call bpf_sk_release
      pass:
        r0 = 1
        exit
      \`,
    });
    const attempt = (port) => new Promise((resolve) => {
      const c = net.connect(port, "127.0.0.1");
      c.on("connect", () => { c.destroy(); resolve("connected"); });
      c.on("error", (e) => resolve(e.code));
    });
    const link = attachSkLookup(program);
    const info = link.info();
    const inRange = [];
    for (let p = ${FIRST}; p < ${FIRST + COUNT}; p++) inRange.push(await attempt(p));
    const outside = await attempt(${FIRST + COUNT});
    await new Promise((r) => setTimeout(r, 50));
    const runs = String(count.get(0));
    link.close();
    const afterClose = await attempt(${FIRST});
    server.close();
    console.log(JSON.stringify({ info, ino: statSync("/proc/self/ns/net").ino, inRange, outside, afterClose, landed, runs,
      programId: program.info().id }));
  `);
  assert.equal(r.status, 0, `the child failed:\n${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as {
    info: { type: string; programId: number; netnsInode: number; attachType: string };
    ino: number;
    inRange: string[];
    outside: string;
    afterClose: string;
    landed: number[];
    runs: string;
    programId: number;
  };
  assert.deepEqual(out.inRange, Array(COUNT).fill("connected"), "every port of the range answers");
  assert.deepEqual(
    [...out.landed].sort(),
    Array.from({ length: COUNT }, (_, i) => FIRST + i),
    "one server (listening on 7000) accepted them all, each keeping the port it was dialled on",
  );
  assert.equal(out.outside, "ECONNREFUSED", "a port outside the range is left to the normal lookup");
  assert.equal(out.afterClose, "ECONNREFUSED", "closing the link stops the steering");
  assert.equal(out.runs, String(COUNT), "the program picked a socket once per connection");
  assert.equal(out.info.type, "netns");
  assert.equal(out.info.attachType, "sk_lookup");
  assert.equal(out.info.programId, out.programId);
  assert.equal(out.info.netnsInode, out.ino, "the link is on the child's namespace");
});

test("attachFlowDissector: the kernel's flow dissector runs the program for each packet lo receives with RPS on, until the link closes", (t) => {
  if (!needsRoot(t)) return;
  const r = runInNetns(
    `
    import dgram from "node:dgram";
    import { once } from "node:events";
    const { u32, u64 } = await import("${SRC}codec/index.ts");
    const { BpfMap } = await import("${SRC}map/map.ts");
    const { Program } = await import("${SRC}program/program.ts");
    const { attachFlowDissector } = await import("${SRC}link/sklookup.ts");
    const { countThen } = await import("${TESTS}programs.ts");
    const count = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 1 });
    const load = () => Program.load({ type: "flow_dissector", instructions: countThen(count)\`
        r0 = 0
        exit\` });
    const program = load();
    const server = dgram.createSocket("udp4");
    server.bind(0, "127.0.0.1");
    await once(server, "listening");
    let received = 0;
    server.on("message", () => received++);
    const client = dgram.createSocket("udp4");
    const send = async (n) => {
      for (let i = 0; i < n; i++) await new Promise((r) => client.send("x", server.address().port, "127.0.0.1", r));
      const end = Date.now() + 5000;
      while (received < sent + n && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      sent += n;
    };
    let sent = 0;
    await send(2);
    const before = String(count.get(0));
    const link = attachFlowDissector(program);
    const info = link.info();
    let second = "attached";
    try { attachFlowDissector(load()).close(); } catch (e) { second = (e.errnoName ?? "") + " " + e.message; }
    await send(3);
    const during = String(count.get(0));
    link.close();
    await send(2);
    const after = String(count.get(0));
    client.close(); server.close();
    console.log(JSON.stringify({ before, during, after, received, second, info, programId: program.info().id }));
  `,
    RPS_SETUP,
  );
  assert.equal(r.status, 0, `the child failed:\n${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as {
    before: string;
    during: string;
    after: string;
    received: number;
    second: string;
    info: { type: string; attachType: string; programId: number };
    programId: number;
  };
  assert.equal(out.received, 7, "every datagram arrived");
  assert.equal(out.before, "0", "nothing ran before the attach");
  assert.equal(out.during, "3", "one run per datagram while attached");
  assert.equal(out.after, "3", "nothing ran after close");
  assert.match(out.second, /^E2BIG .*runs one flow_dissector program/, "one flow dissector per namespace");
  assert.equal(out.info.type, "netns");
  assert.equal(out.info.attachType, "flow_dissector");
  assert.equal(out.info.programId, out.programId);
});

test("attachSkLookup / attachFlowDissector: bad input is refused before the kernel", (t) => {
  if (!needsRoot(t)) return;
  using sf = Program.load({ type: "socket_filter", instructions: asm`r0 = 0\nexit` });
  assert.throws(() => attachSkLookup(sf), WrongProgramTypeError);
  assert.throws(() => attachFlowDissector(sf), WrongProgramTypeError);
  using fd = Program.load({
    type: "flow_dissector",
    instructions: asm`r0 = 0\nexit`,
  });
  assert.throws(
    () => attachFlowDissector(fd, "/etc/hostname"),
    (e: unknown) => e instanceof NotANetnsError && /not a namespace file/.test(e.message),
  );
  assert.throws(
    () => attachFlowDissector(fd, "/proc/no/ns/net"),
    (e: unknown) => e instanceof NotANetnsError && /ENOENT/.test(e.message),
  );
  assert.throws(() => attachFlowDissector(fd, -1), InputError);
});
