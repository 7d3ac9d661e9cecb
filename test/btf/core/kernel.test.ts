/**
 * CO-RE against the running kernel, proven by two oracles: the kernel relocating the same
 * program itself (BPF_PROG_LOAD's core_relos; the xlated instructions must be identical) and
 * libbpf (bpf_program__insns after bpf_object__load must equal rawbpf's patched bytes). The
 * program then runs (XDP test run) and reads the current task through the relocated offsets.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  applyCoreRelocations,
  encodeCoreRelocations,
  explainPoisonedRejection,
  POISON_IMM,
  parseCoreRelocations,
} from "../../../src/btf/core/index.js";
import { vmlinuxBtf } from "../../../src/btf/kernel.js";
import { Program } from "../../../src/program/program.js";
import { ProgramRejectedError } from "../../../src/program/rejected.js";
import { needsRoot } from "../../support/privilege.js";
import { compileFixture, libbpfRelocate, toolsPresent, xlated } from "./helpers.js";

function skipWithoutTools(t: { skip(m: string): void }): boolean {
  if (toolsPresent()) return false;
  if (process.env.CI === "true")
    throw new Error("clang-19, llvm-objcopy-19 and libbpf-dev are needed under CI=true");
  t.skip("clang-19 / llvm-objcopy-19 / libbpf-dev not installed");
  return true;
}

function memberOffset(structName: string, member: string): number {
  const btf = vmlinuxBtf();
  const id = btf.findId(structName, "struct");
  assert.ok(id !== undefined, `vmlinux has struct ${structName}`);
  const t = btf.type(id);
  assert.ok(t.kind === "struct", "a struct");
  const m = t.members.find((x) => x.name === member);
  assert.ok(m, `struct ${structName} has ${member}`);
  return m.bitOffset / 8;
}

test("task.c: rawbpf's relocation equals the kernel's (xlated) and libbpf's (insns), and reads the current task", (t) => {
  if (!needsRoot(t) || skipWithoutTools(t)) return;
  const c = compileFixture("task");
  const relos = parseCoreRelocations(c.ext, c.btf).get("xdp");
  assert.ok(relos && relos.length >= 16, `the fixture has CO-RE relocations (${relos?.length})`);
  const patched = new Uint8Array(c.code);
  const results = applyCoreRelocations(patched, relos, c.btf, vmlinuxBtf(), { section: "xdp" });
  assert.notDeepEqual(Buffer.from(patched), Buffer.from(c.code), "relocation changed the code");

  using kernel = Program.load({
    type: "xdp",
    instructions: c.code,
    btf: c.btfBytes,
    funcInfo: c.funcInfo,
    coreRelocations: encodeCoreRelocations(relos, c.btf),
  });
  using ours = Program.load({ type: "xdp", instructions: patched, btf: c.btfBytes, funcInfo: c.funcInfo });
  assert.deepEqual(
    xlated(ours.fd),
    xlated(kernel.fd),
    "rawbpf's and the kernel's relocation give the same xlated code",
  );

  const lib = libbpfRelocate(c.object);
  assert.equal(lib.load, 0, "libbpf loaded the object");
  assert.deepEqual(lib.insns.get("task"), Buffer.from(patched), "libbpf patched the same instructions");

  const data = new Uint8Array(256);
  const run = ours.testRun({ data });
  assert.equal(run.retval, 2, "the program ran to its end");
  const out = (i: number) => run.dataOut.readBigUInt64LE(i * 8);
  const vm = vmlinuxBtf();
  const taskId = vm.findId("task_struct", "struct")!;
  assert.equal(out(0), BigInt(process.pid), "current->tgid is this process");
  assert.equal(out(2), BigInt(process.ppid), "current->real_parent->tgid is the parent");
  const comm = readFileSync("/proc/thread-self/comm", "latin1").trim();
  const got = Buffer.alloc(8);
  got.writeBigUInt64LE(out(3));
  assert.equal(got.toString("latin1").replace(/\0.*$/s, ""), comm.slice(0, 8), "comm");
  assert.equal(out(4), 0n, "no_such_field does not exist");
  assert.equal(out(5), 16n, "sizeof comm");
  assert.equal(out(6), BigInt(memberOffset("task_struct", "tgid")), "offsetof tgid");
  assert.equal(out(7), 1n, "struct task_struct exists");
  assert.equal(out(8), 0n, "struct no_such_type_anywhere does not");
  assert.equal(out(9), BigInt(vm.sizeOf(taskId)), "sizeof task_struct");
  assert.equal(out(10), 1n, "struct list_head matches");
  assert.equal(out(11), 1n, "PIDTYPE_TGID exists");
  assert.equal(out(12), 3n, "PIDTYPE_SID is 3");
  assert.equal(out(13), 0n, "PIDTYPE_NOPE does not exist");
  assert.equal(out(14), BigInt(taskId), "the kernel's type id of task_struct");
  assert.equal(out(15), BigInt(relos.find((r) => r.kind === 6)!.typeId), "the local type id");
  assert.deepEqual(
    kernel.testRun({ data }).dataOut.subarray(0, 128),
    run.dataOut.subarray(0, 128),
    "the kernel-relocated program computes the same",
  );

  const poisoned = results.filter((r) => r.poisoned);
  assert.equal(poisoned.length, 1, "the guarded read of the missing field is poisoned");
  assert.match(poisoned[0]!.local, /struct task_struct___missing: no_such_field/);
  const v = new DataView(patched.buffer);
  assert.equal(patched[poisoned[0]!.insnIndex * 8], 0x85, "poisoned into a call");
  assert.equal(v.getInt32(poisoned[0]!.insnIndex * 8 + 4, true), POISON_IMM, "call 0xbad2310");
});

test("layout.c against vmlinux: reachable poisoned instructions are refused, and the error names the relocation", (t) => {
  if (!needsRoot(t) || skipWithoutTools(t)) return;
  const c = compileFixture("layout");
  const relos = parseCoreRelocations(c.ext, c.btf).get("xdp")!;
  const patched = new Uint8Array(c.code);
  const results = applyCoreRelocations(patched, relos, c.btf, vmlinuxBtf());
  const refuse = (load: () => Program): ProgramRejectedError => {
    try {
      load().close();
    } catch (e) {
      assert.ok(e instanceof ProgramRejectedError, `a verifier rejection, got ${String(e)}`);
      return e;
    }
    assert.fail("the load should have been refused");
  };
  const ours = refuse(() => Program.load({ type: "xdp", instructions: patched, logLevel: 1 }));
  const kernel = refuse(() =>
    Program.load({
      type: "xdp",
      instructions: c.code,
      btf: c.btfBytes,
      funcInfo: c.funcInfo,
      coreRelocations: encodeCoreRelocations(relos, c.btf),
      logLevel: 1,
    }),
  );
  const oursLog = ours.log.text;
  const kernelLog = kernel.log.text;
  assert.match(oursLog, /invalid func unknown#195896080/, "our poison reached the verifier");
  assert.match(kernelLog, /invalid func unknown#195896080/, "so did the kernel's");
  const message = explainPoisonedRejection(oursLog, results);
  assert.ok(message, "the rejection is explained");
  assert.match(
    message,
    /relocation #0 \(byte_off\) of struct pair: a: the target BTF has no struct named pair/,
  );
  assert.equal(
    explainPoisonedRejection(kernelLog, results),
    message,
    "the kernel's refusal is at the same instruction",
  );
});
