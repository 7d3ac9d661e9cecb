/**
 * fast-check arbitraries of valid instructions, one generator per kind of instruction, so every
 * opcode the encoder, decoder, assembler and disassembler know is exercised. Reusable by any test.
 */

import fc from "fast-check";
import type { Instruction } from "../../src/isa/insn.js";
import { AluOp, AtomicOp, Class, JmpOp, LD_IMM64, Mode, Size, Source } from "../../src/isa/opcode.js";

/** A register r0..r10. */
export const arbitraryRegister: fc.Arbitrary<number> = fc.integer({ min: 0, max: 10 });
/** A signed 16-bit offset. */
export const arbitraryOffset: fc.Arbitrary<number> = fc.integer({ min: -0x8000, max: 0x7fff });
/** A signed 32-bit immediate. */
export const arbitraryImmediate: fc.Arbitrary<number> = fc.integer({ min: -0x80000000, max: 0x7fffffff });

const aluClass = fc.constantFrom(Class.ALU, Class.ALU64);
const jumpClass = fc.constantFrom(Class.JMP, Class.JMP32);
const allSizes = fc.constantFrom(Size.W, Size.H, Size.B, Size.DW);
const plainAluOps = [
  AluOp.ADD,
  AluOp.SUB,
  AluOp.MUL,
  AluOp.OR,
  AluOp.AND,
  AluOp.LSH,
  AluOp.RSH,
  AluOp.XOR,
  AluOp.ARSH,
];
const conditionalOps = [
  JmpOp.JEQ,
  JmpOp.JGT,
  JmpOp.JGE,
  JmpOp.JSET,
  JmpOp.JNE,
  JmpOp.JSGT,
  JmpOp.JSGE,
  JmpOp.JLT,
  JmpOp.JLE,
  JmpOp.JSLT,
  JmpOp.JSLE,
];
const rmwOps = [
  AtomicOp.ADD,
  AtomicOp.OR,
  AtomicOp.AND,
  AtomicOp.XOR,
  AtomicOp.ADD | AtomicOp.FETCH,
  AtomicOp.OR | AtomicOp.FETCH,
  AtomicOp.AND | AtomicOp.FETCH,
  AtomicOp.XOR | AtomicOp.FETCH,
  AtomicOp.XCHG,
  AtomicOp.CMPXCHG,
];

function insn(code: number, dst: number, src: number, off: number, imm: number): Instruction {
  return { code, dst, src, off, imm };
}

const aluImmediate = fc
  .tuple(aluClass, fc.constantFrom(...plainAluOps, AluOp.MOV), arbitraryRegister, arbitraryImmediate)
  .map(([cls, op, dst, imm]) => insn(op | Source.K | cls, dst, 0, 0, imm));
const aluRegister = fc
  .tuple(aluClass, fc.constantFrom(...plainAluOps, AluOp.MOV), arbitraryRegister, arbitraryRegister)
  .map(([cls, op, dst, src]) => insn(op | Source.X | cls, dst, src, 0, 0));
const divMod = fc
  .tuple(
    aluClass,
    fc.constantFrom(AluOp.DIV, AluOp.MOD),
    fc.boolean(),
    fc.constantFrom(0, 1),
    arbitraryRegister,
    arbitraryRegister,
    arbitraryImmediate,
  )
  .map(([cls, op, isX, off, dst, src, imm]) =>
    isX ? insn(op | Source.X | cls, dst, src, off, 0) : insn(op | Source.K | cls, dst, 0, off, imm),
  );
const neg = fc.tuple(aluClass, arbitraryRegister).map(([cls, dst]) => insn(AluOp.NEG | cls, dst, 0, 0, 0));
const byteSwap = fc
  .tuple(
    fc.constantFrom(
      AluOp.END | Source.K | Class.ALU,
      AluOp.END | Source.X | Class.ALU,
      AluOp.END | Source.K | Class.ALU64,
    ),
    arbitraryRegister,
    fc.constantFrom(16, 32, 64),
  )
  .map(([code, dst, imm]) => insn(code, dst, 0, 0, imm));
const moveSignExtend = fc.oneof(
  fc
    .tuple(fc.constantFrom(8, 16), arbitraryRegister, arbitraryRegister)
    .map(([off, dst, src]) => insn(AluOp.MOV | Source.X | Class.ALU, dst, src, off, 0)),
  fc
    .tuple(fc.constantFrom(8, 16, 32), arbitraryRegister, arbitraryRegister)
    .map(([off, dst, src]) => insn(AluOp.MOV | Source.X | Class.ALU64, dst, src, off, 0)),
);
const addrSpaceCast = fc
  .tuple(arbitraryRegister, arbitraryRegister, fc.constantFrom(1, 0x10000))
  .map(([dst, src, imm]) => insn(AluOp.MOV | Source.X | Class.ALU64, dst, src, 1, imm));

const conditionalJump = fc
  .tuple(
    jumpClass,
    fc.constantFrom(...conditionalOps),
    fc.boolean(),
    arbitraryRegister,
    arbitraryRegister,
    arbitraryOffset,
    arbitraryImmediate,
  )
  .map(([cls, op, isX, dst, src, off, imm]) =>
    isX ? insn(op | Source.X | cls, dst, src, off, 0) : insn(op | Source.K | cls, dst, 0, off, imm),
  );
const ja = arbitraryOffset.map((off) => insn(JmpOp.JA | Class.JMP, 0, 0, off, 0));
const gotol = arbitraryImmediate.map((imm) => insn(JmpOp.JA | Class.JMP32, 0, 0, 0, imm));
const mayGoto = arbitraryOffset.map((off) => insn(JmpOp.JCOND | Class.JMP, 0, 0, off, 0));
const call = fc.oneof(
  fc
    .tuple(fc.constantFrom(0, 1), arbitraryImmediate)
    .map(([src, imm]) => insn(JmpOp.CALL | Class.JMP, 0, src, 0, imm)),
  fc
    .tuple(arbitraryOffset, arbitraryImmediate)
    .map(([off, imm]) => insn(JmpOp.CALL | Class.JMP, 0, 2, off, imm)),
  arbitraryRegister.map((dst) => insn(JmpOp.CALL | Source.X | Class.JMP, dst, 0, 0, 0)),
);
const exit = fc.constant(insn(JmpOp.EXIT | Class.JMP, 0, 0, 0, 0));

const loadImm64 = fc
  .tuple(arbitraryRegister, fc.integer({ min: 0, max: 6 }), arbitraryImmediate, arbitraryImmediate)
  .map(
    ([dst, src, imm, imm2]): Instruction => ({
      code: LD_IMM64,
      dst,
      src,
      off: 0,
      imm,
      imm2: src === 1 || src === 5 ? 0 : imm2,
    }),
  );
const legacyPacket = fc
  .tuple(
    fc.constantFrom(Mode.ABS, Mode.IND),
    fc.constantFrom(Size.W, Size.H, Size.B),
    arbitraryRegister,
    arbitraryImmediate,
  )
  .map(([mode, size, src, imm]) => insn(mode | size | Class.LD, 0, mode === Mode.ABS ? 0 : src, 0, imm));
const loadRegister = fc
  .tuple(allSizes, arbitraryRegister, arbitraryRegister, arbitraryOffset)
  .map(([size, dst, src, off]) => insn(Mode.MEM | size | Class.LDX, dst, src, off, 0));
const loadSignExtend = fc
  .tuple(fc.constantFrom(Size.W, Size.H, Size.B), arbitraryRegister, arbitraryRegister, arbitraryOffset)
  .map(([size, dst, src, off]) => insn(Mode.MEMSX | size | Class.LDX, dst, src, off, 0));
const storeImmediate = fc
  .tuple(allSizes, arbitraryRegister, arbitraryOffset, arbitraryImmediate)
  .map(([size, dst, off, imm]) => insn(Mode.MEM | size | Class.ST, dst, 0, off, imm));
const storeRegister = fc
  .tuple(allSizes, arbitraryRegister, arbitraryRegister, arbitraryOffset)
  .map(([size, dst, src, off]) => insn(Mode.MEM | size | Class.STX, dst, src, off, 0));
const atomic = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(Size.W, Size.DW),
      fc.constantFrom(...rmwOps),
      arbitraryRegister,
      arbitraryRegister,
      arbitraryOffset,
    )
    .map(([size, op, dst, src, off]) => insn(Mode.ATOMIC | size | Class.STX, dst, src, off, op)),
  fc
    .tuple(
      allSizes,
      fc.constantFrom(AtomicOp.LOAD_ACQ, AtomicOp.STORE_REL),
      arbitraryRegister,
      arbitraryRegister,
      arbitraryOffset,
    )
    .map(([size, op, dst, src, off]) => insn(Mode.ATOMIC | size | Class.STX, dst, src, off, op)),
);

/** Every kind of valid instruction, by name, so a test can pick one kind. */
export const arbitraryByKind = {
  aluImmediate,
  aluRegister,
  divMod,
  neg,
  byteSwap,
  moveSignExtend,
  addrSpaceCast,
  conditionalJump,
  ja,
  gotol,
  mayGoto,
  call,
  exit,
  loadImm64,
  legacyPacket,
  loadRegister,
  loadSignExtend,
  storeImmediate,
  storeRegister,
  atomic,
} as const;

/** Any valid instruction. */
export const arbitraryInstruction: fc.Arbitrary<Instruction> = fc.oneof(...Object.values(arbitraryByKind));

/** A list of valid instructions. */
export const arbitraryProgram: fc.Arbitrary<Instruction[]> = fc.array(arbitraryInstruction, {
  maxLength: 64,
});

/** Whether llvm-19's BPF assembler has syntax for the instruction (the LLVM oracle test and the asm bench use only those). */
export function llvmKnows(i: Instruction): boolean {
  const cls = i.code & 7;
  if (i.code === LD_IMM64) return i.src === 0;
  if (cls === Class.STX && (i.code & 0xe0) === Mode.ATOMIC)
    return i.imm !== AtomicOp.LOAD_ACQ && i.imm !== AtomicOp.STORE_REL;
  if (cls === Class.LD && (i.code & 0xe0) === Mode.IND) return i.imm === 0;
  if (cls === Class.JMP && (i.code & 0xf0) === JmpOp.CALL) return i.src === 0;
  // llvm-19 reads gotol's target as a 16-bit number only
  if (cls === Class.JMP32 && (i.code & 0xf0) === JmpOp.JA) return i.imm >= -0x8000 && i.imm <= 0x7fff;
  return true;
}
