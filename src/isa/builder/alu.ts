/**
 * Arithmetic instructions: `add(R1, 8)` is `r1 += 8`, `add(R1, R2)` is `r1 += r2`; the `32`
 * variants (`add32`) work on the lower 32 bits and zero the upper half.
 */

import type { Instruction } from "../insn.js";
import { AluOp, Class, Endian, Source } from "../opcode.js";
import { imm32, OperandError, Register, regIndex } from "./operand.js";

function alu(cls: number, op: number, dst: Register, value: Register | number, off = 0): Instruction {
  const d = regIndex(dst, "destination");
  if (value instanceof Register) return { code: op | Source.X | cls, dst: d, src: value.index, off, imm: 0 };
  return { code: op | Source.K | cls, dst: d, src: 0, off, imm: imm32(value) };
}

/** A two-operand arithmetic constructor. */
export type Binary = (dst: Register, value: Register | number) => Instruction;
const op64 =
  (op: number, off = 0): Binary =>
  (dst, value) =>
    alu(Class.ALU64, op, dst, value, off);
const op32 =
  (op: number, off = 0): Binary =>
  (dst, value) =>
    alu(Class.ALU, op, dst, value, off);

/** `dst += value` (64-bit) */
export const add: Binary = op64(AluOp.ADD);
/** `dst -= value` (64-bit) */
export const sub: Binary = op64(AluOp.SUB);
/** `dst *= value` (64-bit) */
export const mul: Binary = op64(AluOp.MUL);
/** `dst /= value`, unsigned (64-bit) */
export const div: Binary = op64(AluOp.DIV);
/** `dst s/= value`, signed (64-bit) */
export const sdiv: Binary = op64(AluOp.DIV, 1);
/** `dst |= value` (64-bit) */
export const or: Binary = op64(AluOp.OR);
/** `dst &= value` (64-bit) */
export const and: Binary = op64(AluOp.AND);
/** `dst <<= value` (64-bit) */
export const lsh: Binary = op64(AluOp.LSH);
/** `dst >>= value`, logical (64-bit) */
export const rsh: Binary = op64(AluOp.RSH);
/** `dst %= value`, unsigned (64-bit) */
export const mod: Binary = op64(AluOp.MOD);
/** `dst s%= value`, signed (64-bit) */
export const smod: Binary = op64(AluOp.MOD, 1);
/** `dst ^= value` (64-bit) */
export const xor: Binary = op64(AluOp.XOR);
/** `dst = value` (64-bit) */
export const mov: Binary = op64(AluOp.MOV);
/** `dst s>>= value`, arithmetic (64-bit) */
export const arsh: Binary = op64(AluOp.ARSH);

/** `wdst += value` (32-bit) */
export const add32: Binary = op32(AluOp.ADD);
/** `wdst -= value` (32-bit) */
export const sub32: Binary = op32(AluOp.SUB);
/** `wdst *= value` (32-bit) */
export const mul32: Binary = op32(AluOp.MUL);
/** `wdst /= value`, unsigned (32-bit) */
export const div32: Binary = op32(AluOp.DIV);
/** `wdst s/= value`, signed (32-bit) */
export const sdiv32: Binary = op32(AluOp.DIV, 1);
/** `wdst |= value` (32-bit) */
export const or32: Binary = op32(AluOp.OR);
/** `wdst &= value` (32-bit) */
export const and32: Binary = op32(AluOp.AND);
/** `wdst <<= value` (32-bit) */
export const lsh32: Binary = op32(AluOp.LSH);
/** `wdst >>= value`, logical (32-bit) */
export const rsh32: Binary = op32(AluOp.RSH);
/** `wdst %= value`, unsigned (32-bit) */
export const mod32: Binary = op32(AluOp.MOD);
/** `wdst s%= value`, signed (32-bit) */
export const smod32: Binary = op32(AluOp.MOD, 1);
/** `wdst ^= value` (32-bit) */
export const xor32: Binary = op32(AluOp.XOR);
/** `wdst = value` (32-bit, zero-extended) */
export const mov32: Binary = op32(AluOp.MOV);
/** `wdst s>>= value`, arithmetic (32-bit) */
export const arsh32: Binary = op32(AluOp.ARSH);

/** `dst = -dst` (64-bit) */
export function neg(dst: Register): Instruction {
  return { code: AluOp.NEG | Class.ALU64, dst: regIndex(dst, "destination"), src: 0, off: 0, imm: 0 };
}

/** `wdst = -wdst` (32-bit) */
export function neg32(dst: Register): Instruction {
  return { code: AluOp.NEG | Class.ALU, dst: regIndex(dst, "destination"), src: 0, off: 0, imm: 0 };
}

/** `dst = (s8|s16|s32) src`: move with sign extension from the low `bits` bits (64-bit). */
export function movsx(dst: Register, src: Register, bits: 8 | 16 | 32): Instruction {
  if (bits !== 8 && bits !== 16 && bits !== 32)
    throw new OperandError(`movsx sign-extends from 8, 16 or 32 bits, not ${bits}`);
  regIndex(src, "source");
  return alu(Class.ALU64, AluOp.MOV, dst, src, bits);
}

/** `wdst = (s8|s16) wsrc`: 32-bit move with sign extension from the low `bits` bits. */
export function movsx32(dst: Register, src: Register, bits: 8 | 16): Instruction {
  if (bits !== 8 && bits !== 16)
    throw new OperandError(`movsx32 sign-extends from 8 or 16 bits, not ${bits}`);
  regIndex(src, "source");
  return alu(Class.ALU, AluOp.MOV, dst, src, bits);
}

function width(bits: number, what: string): 16 | 32 | 64 {
  if (bits !== 16 && bits !== 32 && bits !== 64)
    throw new OperandError(`${what} width must be 16, 32 or 64, not ${bits}`);
  return bits;
}

function endian(cls: number, order: number, dst: Register, bits: number): Instruction {
  return { code: AluOp.END | order | cls, dst: regIndex(dst, "destination"), src: 0, off: 0, imm: bits };
}

/** `dst = le<bits> dst`: convert the low `bits` bits to little endian (zero the rest). */
export function le(dst: Register, bits: 16 | 32 | 64): Instruction {
  return endian(Class.ALU, Endian.TO_LE, dst, width(bits, "le"));
}

/** `dst = be<bits> dst`: convert the low `bits` bits to big endian (zero the rest). */
export function be(dst: Register, bits: 16 | 32 | 64): Instruction {
  return endian(Class.ALU, Endian.TO_BE, dst, width(bits, "be"));
}

/** `dst = bswap<bits> dst`: unconditional byte swap of the low `bits` bits. */
export function bswap(dst: Register, bits: 16 | 32 | 64): Instruction {
  return endian(Class.ALU64, Endian.TO_LE, dst, width(bits, "bswap"));
}

/** `dst = bswap16 dst` */
export const bswap16 = (dst: Register): Instruction => bswap(dst, 16);
/** `dst = bswap32 dst` */
export const bswap32 = (dst: Register): Instruction => bswap(dst, 32);
/** `dst = bswap64 dst` */
export const bswap64 = (dst: Register): Instruction => bswap(dst, 64);
/** `dst = le16 dst` */
export const le16 = (dst: Register): Instruction => le(dst, 16);
/** `dst = le32 dst` */
export const le32 = (dst: Register): Instruction => le(dst, 32);
/** `dst = le64 dst` */
export const le64 = (dst: Register): Instruction => le(dst, 64);
/** `dst = be16 dst` */
export const be16 = (dst: Register): Instruction => be(dst, 16);
/** `dst = be32 dst` */
export const be32 = (dst: Register): Instruction => be(dst, 32);
/** `dst = be64 dst` */
export const be64 = (dst: Register): Instruction => be(dst, 64);

/**
 * `dst = addr_space_cast(src, to, from)`: convert a pointer between the BPF arena (address space 1)
 * and the kernel (address space 0).
 */
export function addrSpaceCast(dst: Register, src: Register, to: 0 | 1, from: 0 | 1): Instruction {
  if (!((to === 0 && from === 1) || (to === 1 && from === 0)))
    throw new OperandError(
      `addr_space_cast converts between address spaces 0 and 1, not from ${from} to ${to}`,
    );
  return {
    code: AluOp.MOV | Source.X | Class.ALU64,
    dst: regIndex(dst, "destination"),
    src: regIndex(src, "source"),
    off: 1,
    imm: (to << 16) | from,
  };
}
