/**
 * A tracepoint program that reads past the tracepoint's record is refused before the kernel with a
 * TracepointRecordError naming the offset, the record's size (from tracefs) and the instruction,
 * where the kernel alone says EACCES at attach. The kernel is the oracle: the same programs
 * attached through the raw system calls (perf_event_open, BPF_LINK_CREATE) are refused exactly
 * when rawbpf refuses them.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeAssembled } from "../../src/isa/asm/assemble.js";
import { ctxReads, furthestCtxRead } from "../../src/isa/ctx-reads.js";
import { encode } from "../../src/isa/encode.js";
import { asm } from "../../src/isa/template.js";
import { attachTracepoint, TracepointRecordError, tracepointId } from "../../src/link/index.js";
import { recordSizeOf } from "../../src/link/tracepoint.js";
import { Program } from "../../src/program/program.js";
import { attachTypeNumber } from "../../src/program/types.js";
import { BpfError } from "../../src/sys/error.js";
import { closeRaw } from "../../src/sys/fd.js";
import { linkCreate, perfEventOpenTracepoint } from "../../src/sys/link.js";
import { needsRoot } from "../support/privilege.js";

/** The kernel's own verdict: "ok", or the errno name of BPF_LINK_CREATE. */
function kernelVerdict(program: Program, category: string, name: string): string {
  const perf = perfEventOpenTracepoint(tracepointId(category, name), "test");
  try {
    const link = linkCreate({
      progFd: program.fd,
      target: perf,
      attachType: attachTypeNumber("perf_event"),
      extra: { kind: "perf_event", cookie: 0n },
    });
    closeRaw(link);
    return "ok";
  } catch (e) {
    if (e instanceof BpfError) return e.errnoName;
    throw e;
  } finally {
    closeRaw(perf);
  }
}

/** rawbpf's verdict: "ok", or the error's name. */
function ourVerdict(program: Program, category: string, name: string): { verdict: string; error?: unknown } {
  try {
    attachTracepoint(program, category, name).close();
    return { verdict: "ok" };
  } catch (e) {
    return { verdict: e instanceof Error ? e.name : String(e), error: e };
  }
}

const SIZE = { 1: "u8", 2: "u16", 4: "u32", 8: "u64" } as const;
const load = (offset: number, size: 1 | 2 | 4 | 8) =>
  Program.load({
    type: "tracepoint",
    instructions: asm`r0 = *(${SIZE[size]} *)(r1 + ${offset}); r0 = 0; exit`,
  });

test("the record's size is the largest offset + size in the tracefs format", (t) => {
  if (!needsRoot(t)) return;
  const getppid = recordSizeOf("syscalls", "sys_enter_getppid");
  assert.equal(getppid?.size, 12, "common fields (8 bytes) and __syscall_nr (offset 8, 4 bytes)");
  assert.match(getppid?.path ?? "", /events\/syscalls\/sys_enter_getppid\/format$/);
  assert.equal(
    recordSizeOf("syscalls", "sys_enter_read")?.size,
    40,
    "__syscall_nr and three 8-byte args from 16",
  );
});

test("reads past the record are refused exactly when the kernel refuses them, before the kernel, naming offset, size and instruction", (t) => {
  if (!needsRoot(t)) return;
  const cases: [string, string, number, 1 | 2 | 4 | 8][] = [
    ["syscalls", "sys_enter_getppid", 8, 2],
    ["syscalls", "sys_enter_getppid", 8, 4],
    ["syscalls", "sys_enter_getppid", 11, 1],
    ["syscalls", "sys_enter_getppid", 12, 1],
    ["syscalls", "sys_enter_getppid", 12, 4],
    ["syscalls", "sys_enter_getppid", 8, 8],
    ["syscalls", "sys_enter_getppid", 16, 8],
    ["syscalls", "sys_enter_read", 32, 8],
    ["syscalls", "sys_enter_read", 40, 8],
  ];
  let refused = 0;
  for (const [category, name, offset, size] of cases) {
    using program = load(offset, size);
    const kernel = kernelVerdict(program, category, name);
    const ours = ourVerdict(program, category, name);
    const what = `${category}/${name}: ${size} bytes at ${offset}`;
    if (kernel === "ok") {
      assert.equal(ours.verdict, "ok", `${what}: the kernel accepts, rawbpf refused: ${String(ours.error)}`);
      continue;
    }
    refused++;
    assert.equal(kernel, "EACCES", `${what}: the kernel's refusal`);
    const e = ours.error;
    assert.ok(e instanceof TracepointRecordError, `${what}: a TracepointRecordError, got ${String(e)}`);
    const record = recordSizeOf(category, name)!.size;
    assert.equal(e.offset, offset);
    assert.equal(e.size, size);
    assert.equal(e.recordSize, record);
    assert.equal(e.insn, 0);
    assert.ok(
      e.message.includes(
        `reads ${size} byte${size === 1 ? "" : "s"} at offset ${offset} of tracepoint ${category}/${name}'s record at instruction 0 (r0 = *(${SIZE[size]} *)(r1 + ${offset}))`,
      ) && e.message.includes(`but the record is ${record} bytes`),
      e.message,
    );
  }
  assert.ok(refused >= 4, `the kernel refused ${refused} of the cases`);
});

test("reads through copies of the context pointer (registers, stack slots, one branch) are found; an opened program is read from the kernel", (t) => {
  if (!needsRoot(t)) return;
  const programs = [
    // a copy in a callee-saved register, across a helper call
    asm`r6 = r1; call bpf_get_smp_processor_id; r0 = *(u64 *)(r6 + 16); r0 = 0; exit`,
    // spilled to the stack and filled into another register
    asm`*(u64 *)(r10 - 8) = r1; r1 = 0; r7 = *(u64 *)(r10 - 8); r0 = *(u64 *)(r7 + 16); r0 = 0; exit`,
    // on one branch only
    asm`r6 = r1; call bpf_get_prandom_u32; if r0 == 0 goto +2; r0 = *(u64 *)(r6 + 16); exit; r0 = 0; exit`,
  ];
  for (const [index, instructions] of programs.entries()) {
    using program = Program.load({ type: "tracepoint", instructions });
    assert.equal(kernelVerdict(program, "syscalls", "sys_enter_getppid"), "EACCES", `program ${index}`);
    const ours = ourVerdict(program, "syscalls", "sys_enter_getppid");
    assert.ok(ours.error instanceof TracepointRecordError, `program ${index}: ${String(ours.error)}`);
    const read = furthestCtxRead(encode(program.instructions!))!;
    assert.equal(ours.error.insn, read.insn, `program ${index}`);
    assert.equal(ours.error.offset, 16);
    // the same program opened from its descriptor: rawbpf has no instructions, the kernel's are read
    using opened = Program.fromFd(program.fd);
    assert.equal(opened.instructions, undefined);
    const fromKernel = ourVerdict(opened, "syscalls", "sys_enter_getppid");
    assert.ok(
      fromKernel.error instanceof TracepointRecordError,
      `opened program ${index}: ${String(fromKernel.error)}`,
    );
    assert.match(fromKernel.error.message, /of the program as the kernel translated it/);
  }
});

test("a read on a path the verifier proves dead is not counted by the kernel, nor by rawbpf", (t) => {
  if (!needsRoot(t)) return;
  // r2 is 0, so the jump is always taken and the load at 16 is never explored
  using program = Program.load({
    type: "tracepoint",
    instructions: asm`r2 = 0; if r2 == 0 goto +1; r0 = *(u64 *)(r1 + 16); r0 = 0; exit`,
  });
  assert.deepEqual(
    ctxReads(encode(program.instructions!)).map((r) => [r.insn, r.offset]),
    [[2, 16]],
    "the scan of the instructions sees the load",
  );
  assert.equal(kernelVerdict(program, "syscalls", "sys_enter_getppid"), "ok", "the kernel accepts");
  assert.equal(ourVerdict(program, "syscalls", "sys_enter_getppid").verdict, "ok", "rawbpf accepts");
});

test("the scan: copies, offsets added, stack slots overwritten, merges that disagree", () => {
  const at = (insns: ReturnType<typeof asm>) =>
    ctxReads(encodeAssembled(insns)).map((r) => [r.insn, r.offset, r.size]);
  assert.deepEqual(at(asm`r0 = *(u32 *)(r1 + 4); r2 = r1; r2 += 8; r0 = *(u16 *)(r2 + 2); exit`), [
    [0, 4, 4],
    [3, 10, 2],
  ]);
  // the slot is overwritten by a 4-byte store: the fill no longer holds the context
  assert.deepEqual(
    at(
      asm`*(u64 *)(r10 - 8) = r1; *(u32 *)(r10 - 4) = 0; r3 = *(u64 *)(r10 - 8); r0 = *(u64 *)(r3 + 0); exit`,
    ),
    [],
  );
  // r1 is clobbered by a call; r6 is not
  assert.deepEqual(at(asm`r6 = r1; call 1; r0 = *(u64 *)(r1 + 0); r0 = *(u8 *)(r6 + 3); exit`), [[3, 3, 1]]);
  // two paths give r2 different offsets: each read is at its path's offset before they merge
  assert.deepEqual(at(asm`r2 = r1; if r3 == 0 goto +1; r2 += 8; r0 = *(u64 *)(r2 + 0); exit`), [[3, 0, 8]]);
});
