/**
 * CO-RE through BpfObject: a C object whose programs and .text subprograms read the current task
 * with BPF_CORE_READ, relocated by rawbpf before linking as libbpf does. Oracles: libbpf loading
 * the same object (same xlated instructions, same return values), the kernel relocating the same
 * programs itself (BPF_PROG_LOAD's core_relos; same xlated instructions), vmlinux BTF for the
 * offsets and sizes, and /proc for the task's ids and name.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { vmlinuxBtf } from "../../src/btf/kernel.js";
import { BpfObject, CorePoisonRejectedError } from "../../src/index.js";
import { xlated } from "../btf/core/helpers.js";
import { needsRoot } from "../support/privilege.js";
import { compileFixture } from "./compile.js";
import { normaliseXlated, sameAsLibbpf } from "./oracle.js";

const PROGRAMS = ["core_task", "core_parent"] as const;

function vmlinuxMember(structName: string, member: string): { offset: number; size: number } {
  const btf = vmlinuxBtf();
  const id = btf.findId(structName, "struct");
  assert.ok(id !== undefined, `vmlinux has struct ${structName}`);
  const t = btf.type(id);
  assert.ok(t.kind === "struct", "a struct");
  const m = t.members.find((x) => x.name === member);
  assert.ok(m, `struct ${structName} has ${member}`);
  return { offset: m.bitOffset / 8, size: btf.sizeOf(m.type) };
}

test("core.c: relocations move with the code they are linked into; the spec keeps them per program", () => {
  const obj = BpfObject.open(compileFixture("core"));
  const task = obj.spec.programs.find((p) => p.name === "core_task");
  const parent = obj.spec.programs.find((p) => p.name === "core_parent");
  assert.ok(task && parent, "both programs parsed");
  assert.deepEqual([...task.subprograms].sort(), ["parent_tgid", "record_comm"], "core_task's subprograms");
  // .text has relocations in both subprograms; each program carries its own copy of them
  for (const p of [task, parent]) {
    const last = p.coreRelocations.at(-1);
    assert.ok(last && last.insnOffset < p.insns.length, `${p.name}: relocations inside its linked code`);
    for (const r of p.coreRelocations) {
      const op = p.insns[r.insnOffset] as number;
      assert.ok(op !== 0x85 || r.kind !== 0, `${p.name}: a byte_off relocation is not on a call`);
    }
  }
});

test("core.c: rawbpf's CO-RE equals libbpf's and the kernel's, and reads this process", (t) => {
  if (!needsRoot(t)) return;
  const path = compileFixture("core");
  using obj = BpfObject.open(path).load();
  const results = obj.relocate();
  assert.deepEqual([...results.keys()].sort(), ["core_parent", "core_task", "core_unguarded"], "relocated");
  const poisoned = results.get("core_task")?.filter((r) => r.poisoned) ?? [];
  assert.equal(poisoned.length, 1, "the guarded read of the missing field is poisoned");
  assert.match(poisoned[0]?.local ?? "", /task_struct___old: no_such_field_anywhere/);

  // libbpf: same return values and xlated instructions
  sameAsLibbpf(obj, path, PROGRAMS, []);

  // the kernel relocating the same programs itself
  using byKernel = BpfObject.open(path).load({ core: "kernel" });
  for (const name of PROGRAMS)
    assert.equal(
      normaliseXlated(xlated(obj.program(name).fd)),
      normaliseXlated(xlated(byKernel.program(name).fd)),
      `${name}: rawbpf's relocation and the kernel's give the same xlated code`,
    );

  // what the programs read (test runs by sameAsLibbpf ran both in this thread)
  const out = obj.variable("out").bytes;
  const u64 = (i: number) => Buffer.from(out).readBigUInt64LE(i * 8);
  assert.equal(u64(0), BigInt(process.pid), "current->tgid");
  assert.equal(u64(1), BigInt(process.pid), "current->pid (the main thread)");
  assert.equal(u64(2), BigInt(process.ppid), "current->real_parent->tgid, through a static subprogram");
  const comm = readFileSync("/proc/thread-self/comm", "latin1").trim();
  const got = Buffer.from(out.subarray(24, 32)).toString("latin1").replace(/\0.*$/s, "");
  assert.equal(got, comm.slice(0, 8), "comm, read in a global subprogram");
  assert.equal(u64(4), BigInt(vmlinuxMember("task_struct", "comm").size), "sizeof comm");
  assert.ok(u64(5) === 0n || u64(5) === 1n, `a one-bit bitfield reads 0 or 1 (${u64(5)})`);
  assert.equal(u64(6), 1n, "the kernel has sched_contributes_to_load");
  assert.equal(u64(7), 0n, "no kernel has no_such_field_anywhere");
  assert.equal(u64(9), 3n, "PIDTYPE_SID");
  const vm = vmlinuxBtf();
  assert.equal(u64(10), BigInt(vm.sizeOf(vm.findId("task_struct", "struct") ?? 0)), "sizeof task_struct");
  assert.equal(u64(12), BigInt(process.ppid), "core_parent reads the parent");
  assert.equal(u64(13), BigInt(vmlinuxMember("task_struct", "real_parent").offset), "offsetof real_parent");
});

test("core.c: an unguarded read of a missing field is refused with the relocation named", (t) => {
  if (!needsRoot(t)) return;
  using obj = BpfObject.open(compileFixture("core"));
  let error: unknown;
  try {
    obj.load({ programs: ["core_unguarded"] });
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof CorePoisonRejectedError, `a CorePoisonRejectedError, got ${String(error)}`);
  assert.match(error.message, /program 'core_unguarded'/);
  assert.match(error.message, /struct task_struct___old: no_such_field_anywhere/);
  assert.match(error.message, /field_exists|bpf_core_field_exists/);
  assert.match(error.log.text, /invalid func unknown#195896080/, "the verifier's own words are kept");
});

test("core.c: a target BTF given as a path relocates as the running kernel's", () => {
  const path = compileFixture("core");
  const dflt = BpfObject.open(path).relocate();
  const given = BpfObject.open(path, { btf: "/sys/kernel/btf/vmlinux" }).relocate();
  const patches = (m: ReturnType<BpfObject["relocate"]>) =>
    [...m].map(([n, rs]) => `${n}: ${rs.map((r) => r.patch).join(", ")}`).join("\n");
  assert.equal(patches(given), patches(dflt), "same patches");
});
