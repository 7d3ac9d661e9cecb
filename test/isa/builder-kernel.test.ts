/**
 * Builder programs run by the kernel: the verifier accepts them and BPF_PROG_TEST_RUN computes
 * what the instructions say. This covers what LLVM 19 cannot assemble (load-acquire,
 * store-release) and what only the kernel can judge (callbacks, may_goto, gotol).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as b from "../../src/isa/builder/index.js";
import { ProgramBuilder, R0, R1, R2, R6, R10 } from "../../src/isa/builder/index.js";
import { encode } from "../../src/isa/encode.js";
import type { Instruction } from "../../src/isa/insn.js";
import { closeRaw } from "../../src/sys/fd.js";
import { progLoad, progTestRun } from "../../src/sys/prog.js";
import { needsRoot } from "../support/privilege.js";

const SOCKET_FILTER = 1;
// a socket filter sees the packet after its 14-byte Ethernet header
const packet = new Uint8Array(64);
packet[14 + 2] = 0xab;
packet[14 + 3] = 0xcd;

/** Loads the program as a socket filter, runs it once on `packet`, returns r0 (32 bits). */
function run(program: Instruction[] | ProgramBuilder): number {
  const insns = program instanceof ProgramBuilder ? program.build().insns : program;
  const { fd } = progLoad({ progType: SOCKET_FILTER, insns: encode(insns), license: "GPL" });
  try {
    return progTestRun({ fd, dataIn: packet }).retval >>> 0;
  } finally {
    closeRaw(fd);
  }
}

const u32 = (v: bigint): number => Number(BigInt.asUintN(32, v));

test("signed division and modulo, sign-extending moves and loads", (t) => {
  if (!needsRoot(t)) return;
  assert.equal(run([b.mov(R0, -7), b.sdiv(R0, 2), b.exit()]), u32(-3n));
  assert.equal(run([b.mov(R0, -7), b.mov(R1, 3), b.smod(R0, R1), b.exit()]), u32(-1n));
  assert.equal(run([b.mov32(R0, -7), b.sdiv32(R0, 2), b.exit()]), u32(-3n));
  assert.equal(run([b.mov(R1, 0x80), b.movsx(R0, R1, 8), b.exit()]), u32(-128n));
  assert.equal(run([b.mov32(R1, 0x8000), b.movsx32(R0, R1, 16), b.exit()]), 0xffff8000);
  assert.equal(
    run([b.mov(R1, 0x1ff), b.movsx(R0, R1, 8), b.rsh(R0, 32), b.exit()]),
    0xffffffff,
    "movsx r0 = (s8)0xff fills the upper half",
  );
  assert.equal(
    run([b.stb(R10, -1, 0xf0), b.ldxsb(R0, R10, -1), b.rsh(R0, 32), b.exit()]),
    0xffffffff,
    "ldxsb sign-extends to 64 bits",
  );
  assert.equal(run([b.sth(R10, -2, 0x7fff), b.ldxsh(R0, R10, -2), b.exit()]), 0x7fff);
});

test("byte swaps", (t) => {
  if (!needsRoot(t)) return;
  assert.equal(run([b.mov(R0, 0x12345678), b.bswap32(R0), b.exit()]), 0x78563412);
  assert.equal(run([b.mov(R0, 0x1234), b.bswap16(R0), b.exit()]), 0x3412);
  assert.equal(run([b.ldImm64(R0, 0x1122334455667788n), b.bswap64(R0), b.rsh(R0, 32), b.exit()]), 0x88776655);
  assert.equal(run([b.mov(R0, 0x1234), b.be16(R0), b.exit()]), 0x3412);
  assert.equal(run([b.mov(R0, 0x12345678), b.le16(R0), b.exit()]), 0x5678);
});

test("atomics, load-acquire and store-release", (t) => {
  if (!needsRoot(t)) return;
  assert.equal(
    run([
      b.mov(R1, 5),
      b.atomic.storeRelease("dw", R10, -8, R1),
      b.mov(R1, 3),
      b.atomic.fetchAdd("dw", R10, -8, R1), // r1 = 5, mem = 8
      b.mov(R0, 8),
      b.mov(R2, 100),
      b.atomic.cmpxchg("dw", R10, -8, R2), // mem = 100, r0 = 8
      b.atomic.add("dw", R10, -8, R1), // mem = 105
      b.atomic.loadAcquire("dw", R0, R10, -8),
      b.exit(),
    ]),
    105,
  );
  assert.equal(
    run([
      b.mov32(R1, 0x1ff),
      b.atomic.storeRelease("b", R10, -1, R1),
      b.atomic.loadAcquire("b", R0, R10, -1),
      b.exit(),
    ]),
    0xff,
  );
  assert.equal(
    run([
      b.stw(R10, -4, 0b1100),
      b.mov32(R1, 0b1010),
      b.atomic.fetchXor("w", R10, -4, R1), // r1 = 0b1100, mem = 0b0110
      b.atomic.loadAcquire("w", R0, R10, -4),
      b.lsh(R0, 4),
      b.or(R0, R1),
      b.exit(),
    ]),
    0b0110_1100,
  );
});

test("local calls into functions placed after the main program", (t) => {
  if (!needsRoot(t)) return;
  // (a callback passed by ldFunc needs BTF func_info, which the BTF layer provides)
  const p = new ProgramBuilder("main")
    .emit(b.mov(R1, 4), b.callLocal("double"), b.mov(R1, R0), b.callLocal("double"), b.exit())
    .function("double", (f) => f.emit(b.callLocal("plus_one"), b.lsh(R0, 1), b.exit()))
    .function("plus_one", (f) => f.emit(b.mov(R0, R1), b.add(R0, 1), b.exit()));
  // (((4 + 1) * 2) + 1) * 2
  assert.equal(run(p), 22);
});

test("labels, may_goto and a ja that had to become gotol", (t) => {
  if (!needsRoot(t)) return;
  const loop = new ProgramBuilder()
    .emit(b.mov(R0, 0))
    .label("again")
    .emit(b.mayGoto("out"), b.add(R0, 1), b.jlt(R0, 1000, "again"))
    .label("out")
    .emit(b.exit());
  assert.equal(run(loop), 1000);
  // the conditional jump keeps the skipped instructions reachable, as the verifier wants
  const far = new ProgramBuilder().emit(b.mov(R0, 2), b.jne(R0, 2, "skipped"), b.ja("far")).label("skipped");
  for (let i = 0; i < 40000; i++) far.emit(b.mov(R0, 1));
  far.label("far").emit(b.exit());
  assert.equal(far.build().insns[2]!.code, 0x06);
  assert.equal(run(far), 2);
});

test("legacy packet loads", (t) => {
  if (!needsRoot(t)) return;
  assert.equal(run([b.mov(R6, R1), b.ldAbs("h", 2), b.exit()]), 0xabcd);
  assert.equal(run([b.mov(R6, R1), b.mov(R2, 1), b.ldInd("b", R2, 2), b.exit()]), 0xcd);
});
