/**
 * Netfilter links against the real kernel, in a child process with a network namespace of its own
 * (a program that drops every IPv4 packet there touches no one else): datagrams to 127.0.0.1 are
 * counted and dropped at local_in while the link is open, and arrive once it is closed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { asm } from "../../src/isa/template.js";
import { WrongProgramTypeError } from "../../src/link/errors.js";
import { attachNetfilter, type NetfilterOptions } from "../../src/link/netfilter.js";
import { Program } from "../../src/program/program.js";
import { InputError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";
import { runInNetns, SRC, TESTS } from "./support.js";

test("attachNetfilter: an ipv4 local_in program counts and drops the datagrams lo receives, until the link closes", (t) => {
  if (!needsRoot(t)) return;
  const r = runInNetns(`
    const { u32, u64 } = await import("${SRC}codec/index.ts");
    const { BpfMap } = await import("${SRC}map/map.ts");
    const { Program } = await import("${SRC}program/program.ts");
    const { attachNetfilter } = await import("${SRC}link/netfilter.ts");
    const { countThen, udpPair } = await import("${TESTS}programs.ts");
    const count = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 1 });
    const program = Program.load({ type: "netfilter", expectedAttachType: "netfilter", instructions: countThen(count)\`
        r0 = 0      // NF_DROP
        exit\` });
    const { got, send, settle, close } = await udpPair();
    await send("before");
    await settle(1);
    const link = attachNetfilter(program, { family: "ipv4", hook: "local_in", priority: -128 });
    const info = link.info();
    await send("dropped 1");
    await send("dropped 2");
    await new Promise((r) => setTimeout(r, 200));
    const during = [...got];
    const runs = String(count.get(0));
    link.close();
    await send("after");
    await settle(2);
    close();
    console.log(JSON.stringify({ during, got, runs, info, programId: program.info().id }));
  `);
  assert.equal(r.status, 0, `the child failed:\n${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as {
    during: string[];
    got: string[];
    runs: string;
    info: Record<string, unknown>;
    programId: number;
  };
  assert.deepEqual(out.during, ["before"], "nothing arrived while the program dropped");
  assert.equal(out.runs, "2", "the program ran once per datagram (nothing else moves in this namespace)");
  assert.deepEqual(out.got, ["before", "after"], "closing the link lets datagrams through again");
  const { id: _id, ...info } = out.info;
  assert.deepEqual(info, {
    programId: out.programId,
    type: "netfilter",
    family: "ipv4",
    hook: "local_in",
    priority: -128,
    defrag: false,
  });
});

test("attachNetfilter: bad options are refused before the kernel, saying what to do", (t) => {
  if (!needsRoot(t)) return;
  using p = Program.load({
    type: "netfilter",
    expectedAttachType: "netfilter",
    instructions: asm`r0 = 1\nexit`,
  });
  using sf = Program.load({ type: "socket_filter", instructions: asm`r0 = 0\nexit` });
  const ok: NetfilterOptions = { family: "ipv4", hook: "local_in", priority: 10 };
  const bad: [Partial<NetfilterOptions> | null, RegExp][] = [
    [null, /needs options/],
    [{ ...ok, family: "ipv5" as "ipv4" }, /'ipv4' or 'ipv6'/],
    [{ ...ok, hook: "input" as "local_in" }, /prerouting, local_in/],
    [{ ...ok, priority: 1.5 }, /integer from -2147483647/],
    [{ ...ok, priority: 2147483647 }, /the kernel keeps the two extremes/],
    [{ ...ok, priority: -2147483648 }, /the kernel keeps the two extremes/],
    [{ ...ok, defrag: true, priority: -400 }, /after reassembly: priority above -400/],
  ];
  for (const [options, message] of bad) {
    assert.throws(
      () => attachNetfilter(p, options as NetfilterOptions),
      (e: unknown) => e instanceof InputError && message.test(e.message),
      `${JSON.stringify(options)} → ${message}`,
    );
  }
  assert.throws(() => attachNetfilter(sf, ok), WrongProgramTypeError);
});
