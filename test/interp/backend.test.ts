/**
 * One API, two back ends: the same user code (BpfMap.create, Program.load, testRun, map reads)
 * runs against the kernel and against memory, with the same results.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { u32, u64 } from "../../src/codec/index.js";
import { BudgetExceededError } from "../../src/interp/errors.js";
import { assemble } from "../../src/isa/asm/index.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { BpfError, InputError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";

const SOURCE = `.map counts type=hash key=4 value=8 entries=3
r6 = *(u32 *)(r1 + 0)
r7 = *(u32 *)(r1 + 4)
r2 = r6
r2 += 14
if r2 > r7 goto out
r1 = *(u8 *)(r6 + 13)
*(u32 *)(r10 - 4) = r1
r1 = map_fd(counts)
r2 = r10
r2 += -4
call bpf_map_lookup_elem
if r0 == 0 goto new
r1 = 1
lock *(u64 *)(r0 + 0) += r1
goto out
new:
r1 = 1
*(u64 *)(r10 - 16) = r1
r1 = map_fd(counts)
r2 = r10
r2 += -4
r3 = r10
r3 += -16
r4 = 1
call bpf_map_update_elem
out:
r0 = 2
exit
`;

function scenario(backend: "kernel" | "memory") {
  using counts = BpfMap.create({ type: "hash", key: u32, value: u64, maxEntries: 3, backend });
  using prog = Program.load({ type: "xdp", instructions: assemble(SOURCE), maps: { counts }, backend });
  const retvals: number[] = [];
  for (const t of [1, 2, 1, 3, 1, 4, 2]) {
    const data = new Uint8Array(20);
    data[13] = t;
    retvals.push(prog.testRun({ data }).retval);
  }
  const entries = [...counts.entries()].map(([k, v]) => `${k}=${v}`).sort();
  // the kernel's errnos from the syscall side
  let full = "";
  try {
    counts.set(9, 1n, "BPF_NOEXIST");
  } catch (e) {
    full = (e as BpfError).errnoName;
  }
  let exists = "";
  try {
    counts.set(1, 5n, "BPF_NOEXIST");
  } catch (e) {
    exists = (e as BpfError).errnoName;
  }
  return { retvals, entries, full, exists, backend: prog.backend };
}

test("the memory back end needs no bpf() and answers like the kernel", () => {
  const m = scenario("memory");
  assert.equal(m.backend, "memory");
  assert.deepEqual(m.entries, ["1=3", "2=2", "3=1"]);
  assert.deepEqual(m.retvals, [2, 2, 2, 2, 2, 2, 2]);
  assert.equal(m.full, "E2BIG");
  assert.equal(m.exists, "EEXIST");
});

test("the same code against the kernel gives the same results", (t) => {
  if (!needsRoot(t)) return;
  const k = scenario("kernel");
  const m = scenario("memory");
  assert.equal(k.backend, "kernel");
  assert.deepEqual({ ...m, backend: "" }, { ...k, backend: "" });
});

test("memory per-CPU and array maps read back like the kernel's", (t) => {
  using a = BpfMap.create({ type: "percpu_array", key: u32, value: u64, maxEntries: 2, backend: "memory" });
  a.set(1, 7n);
  const v = a.get(1) as bigint[];
  assert.ok(v.length >= 1 && v.every((x) => x === 7n), `per-CPU values ${v}`);
  assert.throws(
    () => a.set(5, 1n),
    (e: unknown) => e instanceof BpfError && e.errnoName === "E2BIG",
  );
  if (!needsRoot(t)) return;
  using k = BpfMap.create({ type: "percpu_array", key: u32, value: u64, maxEntries: 2 });
  k.set(1, 7n);
  assert.deepEqual(k.get(1), v);
});

test("testRun's env and budget set what the memory back end's helpers answer; a kernel program refuses them", (t) => {
  const source = `call bpf_get_current_pid_tgid
r6 = r0
call bpf_ktime_get_ns
r7 = r0
call bpf_ktime_get_ns
r0 -= r7
r6 >>= 32
r0 += r6
exit`;
  using prog = Program.load({ type: "socket_filter", instructions: assemble(source), backend: "memory" });
  const data = new Uint8Array(20);
  // tgid in the high half of pid_tgid, plus how far the clock moved between two reads
  const r = prog.testRun({ data, env: { tgid: 4242, timeStepNs: 7n } });
  assert.equal(r.retval, 4242 + 7);
  assert.equal(r.steps, 9);
  assert.equal(prog.testRun({ data }).retval, 1000 + 1000, "the defaults: tgid 1000, a step of 1000 ns");
  assert.throws(() => prog.testRun({ data, budget: 5 }), BudgetExceededError);
  assert.throws(() => prog.testRun({ data, env: 5 as never }), InputError);
  if (!needsRoot(t)) return;
  using k = Program.load({ type: "socket_filter", instructions: assemble(source) });
  assert.throws(
    () => k.testRun({ data, env: { tgid: 1 } }),
    (e: Error) => e instanceof InputError && /env is an option of the memory back end/.test(e.message),
  );
  assert.throws(() => k.testRun({ data, budget: 10 }), /budget is an option of the memory back end/);
});
