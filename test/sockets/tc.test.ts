/**
 * Legacy tc over rtnetlink against the real kernel, in a child network namespace: attachTc adds
 * the clsact qdisc and a direct-action cls_bpf filter on lo's ingress (no `tc` binary; `tc -j` is
 * the oracle), the program counts and drops the datagrams, and detach() lets them through again.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { asm } from "../../src/isa/template.js";
import { WrongProgramTypeError } from "../../src/link/errors.js";
import { attachTc } from "../../src/link/tc.js";
import { Program } from "../../src/program/program.js";
import { InputError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";
import { runInNetns, SRC, TESTS } from "./support.js";

test("attachTc: a cls_bpf filter on lo ingress counts and drops datagrams; tc sees it; detach and removeClsact undo it", (t) => {
  if (!needsRoot(t)) return;
  const r = runInNetns(`
    import { execFileSync } from "node:child_process";
    const { u32, u64 } = await import("${SRC}codec/index.ts");
    const { BpfMap } = await import("${SRC}map/map.ts");
    const { Program } = await import("${SRC}program/program.ts");
    const { attachTc, removeClsact } = await import("${SRC}link/tc.ts");
    const { countThen, udpPair } = await import("${TESTS}programs.ts");
    const tc = (...a) => JSON.parse(execFileSync("tc", ["-j", ...a], { encoding: "utf8" }) || "[]");
    const count = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 1 });
    const program = Program.load({ type: "sched_cls", instructions: countThen(count)\`
        r0 = 2      // TC_ACT_SHOT
        exit\` });
    const { got, send, settle, close } = await udpPair();
    const filter = attachTc(program, "lo", "ingress", { priority: 7, handle: 3, name: "dropper" });
    const qdiscs = tc("qdisc", "show", "dev", "lo");
    const filters = tc("filter", "show", "dev", "lo", "ingress");
    const info = filter.info();
    let again = "";
    try { attachTc(program, "lo", "ingress", { priority: 7, handle: 3 }); } catch (e) { again = e.errnoName + " " + e.message; }
    await send("dropped 1");
    await send("dropped 2");
    await new Promise((r) => setTimeout(r, 200));
    const during = [...got];
    const runs = String(count.get(0));
    filter.detach();
    const afterDetach = tc("filter", "show", "dev", "lo", "ingress");
    const infoAfter = filter.info() ?? null;
    await send("arrives");
    await settle(1);
    const removed = [removeClsact("lo"), removeClsact("lo")];
    const qdiscsAfter = tc("qdisc", "show", "dev", "lo");
    close();
    console.log(JSON.stringify({ qdiscs, filters, info, again, during, runs, afterDetach, infoAfter, got, removed, qdiscsAfter,
      programId: program.info().id }));
  `);
  assert.equal(r.status, 0, `the child failed:\n${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
  assert.ok(
    out.qdiscs.some((q: { kind: string }) => q.kind === "clsact"),
    `tc sees the clsact qdisc: ${JSON.stringify(out.qdiscs)}`,
  );
  const bpf = (out.filters as { kind: string; pref: number; options?: Record<string, unknown> }[]).find(
    (f) => f.kind === "bpf" && f.options !== undefined,
  );
  assert.ok(bpf, `tc sees a bpf filter: ${JSON.stringify(out.filters)}`);
  assert.equal(bpf.pref, 7, "tc: the priority");
  assert.equal(bpf.options?.handle, "0x3", "tc: the handle");
  assert.equal(bpf.options?.bpf_name, "dropper", "tc: the name");
  assert.equal(bpf.options?.["direct-action"], true, "tc: direct action");
  assert.equal((bpf.options?.prog as { id?: number } | undefined)?.id, out.programId, "tc: the program");
  assert.deepEqual(out.info, {
    ifindex: 1,
    direction: "ingress",
    priority: 7,
    handle: 3,
    programId: out.programId,
    name: "dropper",
    directAction: true,
  });
  assert.match(out.again, /^EEXIST .*already has a filter with priority 7 and handle 3: pick another/);
  assert.deepEqual(out.during, [], "nothing arrived while the filter dropped");
  assert.equal(out.runs, "2", "the program ran once per datagram");
  assert.deepEqual(
    out.afterDetach.filter((f: { options?: unknown }) => f.options !== undefined),
    [],
    "tc: no filter after detach",
  );
  assert.equal(out.infoAfter, null, "info() after detach: gone");
  assert.deepEqual(out.got, ["arrives"], "datagrams arrive again");
  assert.deepEqual(out.removed, [true, false], "removeClsact: removed, then nothing to remove");
  assert.ok(
    !out.qdiscsAfter.some((q: { kind: string }) => q.kind === "clsact"),
    "tc: no clsact qdisc after removeClsact",
  );
});

test("attachTc: bad input is refused before the kernel", (t) => {
  if (!needsRoot(t)) return;
  using sf = Program.load({ type: "socket_filter", instructions: asm`r0 = 0\nexit` });
  using cls = Program.load({ type: "sched_cls", instructions: asm`r0 = 0\nexit` });
  assert.throws(() => attachTc(sf, "lo", "ingress"), WrongProgramTypeError);
  assert.throws(() => attachTc(cls, "lo", "sideways" as "ingress"), /'ingress' or 'egress'/);
  for (const [options, message] of [
    [{ priority: 0 }, /priority is an integer from 1 to 65535, got 0/],
    [{ priority: 65536 }, /priority is an integer from 1 to 65535/],
    [{ handle: 0 }, /handle is an integer from 1 to 4294967295, got 0/],
    [{ name: "" }, /name is 1 to 255 characters/],
  ] as const) {
    assert.throws(
      () => attachTc(cls, "lo", "ingress", options),
      (e: unknown) => e instanceof InputError && message.test(e.message),
      String(message),
    );
  }
  assert.throws(() => attachTc(cls, "no-such-if0", "ingress"), /there is no network interface 'no-such-if0'/);
});
