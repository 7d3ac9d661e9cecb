/**
 * Loads and stores: `ldx("w", R1, R6, 4)` is `r1 = *(u32 *)(r6 + 4)`, `stx("dw", R10, -8, R1)` is
 * `*(u64 *)(r10 - 8) = r1`, `st("w", R10, -4, 0)` is `*(u32 *)(r10 - 4) = 0`; and the wide
 * `ld_imm64` forms, which load a constant, a map, a map value address, a function or a kernel
 * variable.
 */

import type { Instruction } from "../insn.js";
import { Class, LD_IMM64, Mode, PseudoLoad, Size } from "../opcode.js";
import { imm32, OperandError, off16, type Register, regIndex } from "./operand.js";
import { type AccessSize, sizeBits } from "./size.js";

/** `dst = *(size *)(src + off)` */
export function ldx(size: AccessSize, dst: Register, src: Register, off: number): Instruction {
  return {
    code: Mode.MEM | sizeBits(size) | Class.LDX,
    dst: regIndex(dst, "destination"),
    src: regIndex(src, "base"),
    off: off16(off),
    imm: 0,
  };
}

/** `dst = *(s8|s16|s32 *)(src + off)`: sign-extending load */
export function ldxs(size: "b" | "h" | "w", dst: Register, src: Register, off: number): Instruction {
  const bits = sizeBits(size);
  if (bits === Size.DW) throw new OperandError('there is no sign-extending 8-byte load; use ldx("dw", ...)');
  return {
    code: Mode.MEMSX | bits | Class.LDX,
    dst: regIndex(dst, "destination"),
    src: regIndex(src, "base"),
    off: off16(off),
    imm: 0,
  };
}

/** `*(size *)(dst + off) = imm` */
export function st(size: AccessSize, dst: Register, off: number, imm: number): Instruction {
  return {
    code: Mode.MEM | sizeBits(size) | Class.ST,
    dst: regIndex(dst, "base"),
    src: 0,
    off: off16(off),
    imm: imm32(imm),
  };
}

/** `*(size *)(dst + off) = src` */
export function stx(size: AccessSize, dst: Register, off: number, src: Register): Instruction {
  return {
    code: Mode.MEM | sizeBits(size) | Class.STX,
    dst: regIndex(dst, "base"),
    src: regIndex(src, "source"),
    off: off16(off),
    imm: 0,
  };
}

type Load = (dst: Register, src: Register, off: number) => Instruction;
type Store = (dst: Register, off: number, src: Register) => Instruction;
type StoreImmediate = (dst: Register, off: number, imm: number) => Instruction;

/** `dst = *(u8 *)(src + off)` */
export const ldxb: Load = (dst, src, off) => ldx("b", dst, src, off);
/** `dst = *(u16 *)(src + off)` */
export const ldxh: Load = (dst, src, off) => ldx("h", dst, src, off);
/** `dst = *(u32 *)(src + off)` */
export const ldxw: Load = (dst, src, off) => ldx("w", dst, src, off);
/** `dst = *(u64 *)(src + off)` */
export const ldxdw: Load = (dst, src, off) => ldx("dw", dst, src, off);
/** `dst = *(s8 *)(src + off)` */
export const ldxsb: Load = (dst, src, off) => ldxs("b", dst, src, off);
/** `dst = *(s16 *)(src + off)` */
export const ldxsh: Load = (dst, src, off) => ldxs("h", dst, src, off);
/** `dst = *(s32 *)(src + off)` */
export const ldxsw: Load = (dst, src, off) => ldxs("w", dst, src, off);
/** `*(u8 *)(dst + off) = src` */
export const stxb: Store = (dst, off, src) => stx("b", dst, off, src);
/** `*(u16 *)(dst + off) = src` */
export const stxh: Store = (dst, off, src) => stx("h", dst, off, src);
/** `*(u32 *)(dst + off) = src` */
export const stxw: Store = (dst, off, src) => stx("w", dst, off, src);
/** `*(u64 *)(dst + off) = src` */
export const stxdw: Store = (dst, off, src) => stx("dw", dst, off, src);
/** `*(u8 *)(dst + off) = imm` */
export const stb: StoreImmediate = (dst, off, imm) => st("b", dst, off, imm);
/** `*(u16 *)(dst + off) = imm` */
export const sth: StoreImmediate = (dst, off, imm) => st("h", dst, off, imm);
/** `*(u32 *)(dst + off) = imm` */
export const stw: StoreImmediate = (dst, off, imm) => st("w", dst, off, imm);
/** `*(u64 *)(dst + off) = imm` (imm sign-extended to 64 bits) */
export const stdw: StoreImmediate = (dst, off, imm) => st("dw", dst, off, imm);

function wide(dst: Register, src: number, imm: number, imm2: number): Instruction {
  return { code: LD_IMM64, dst: regIndex(dst, "destination"), src, off: 0, imm, imm2 };
}

/**
 * `dst = value ll`: load a 64-bit constant. Numbers must be safe integers; bigints may be signed
 * or unsigned 64-bit.
 */
export function ldImm64(dst: Register, value: bigint | number): Instruction {
  let v: bigint;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value))
      throw new OperandError(`ldImm64 value ${value} is not a safe integer; pass a bigint (e.g. ${value}n)`);
    v = BigInt(value);
  } else v = value;
  if (v < -(1n << 63n) || v >= 1n << 64n)
    throw new OperandError(`ldImm64 value ${v} does not fit in 64 bits`);
  const u = BigInt.asUintN(64, v);
  return wide(dst, PseudoLoad.IMM, Number(BigInt.asIntN(32, u)), Number(BigInt.asIntN(32, u >> 32n)));
}

/** Anything that names a map; the Program patches its fd in at load. */
export interface MapLike {
  readonly name: string;
}

function checkMap(map: MapLike): void {
  if (map === null || typeof map !== "object" || typeof map.name !== "string")
    throw new OperandError(`a map reference must be an object with a name, got ${String(map)}`);
}

/** `dst = map`: load a map (ld_imm64 src=1); the fd is filled in at load. */
export function ldMapFd(dst: Register, map: MapLike): Instruction {
  checkMap(map);
  const insn = wide(dst, PseudoLoad.MAP_FD, 0, 0);
  insn.ref = { kind: "map", name: map.name, map };
  return insn;
}

/** `dst = &map.value[offset]`: address of an array map's value (ld_imm64 src=2). */
export function ldMapValue(dst: Register, map: MapLike, offset = 0): Instruction {
  checkMap(map);
  const insn = wide(dst, PseudoLoad.MAP_VALUE, 0, imm32(offset, "map value offset"));
  insn.ref = { kind: "map", name: map.name, map };
  return insn;
}

/** `dst = fn`: load a pointer to a function of this program (ld_imm64 src=4), for callbacks. */
export function ldFunc(dst: Register, fn: string): Instruction {
  if (fn.length === 0) throw new OperandError("a function name must not be empty");
  const insn = wide(dst, PseudoLoad.FUNC, 0, 0);
  insn.ref = { kind: "func", name: fn };
  return insn;
}

/**
 * `dst = &kernel_variable`: load the address of a kernel variable by BTF id (ld_imm64 src=3),
 * optionally in a module whose BTF fd is `btfFd`.
 */
export function ldBtfId(dst: Register, btfId: number, btfFd = 0): Instruction {
  return wide(dst, PseudoLoad.BTF_ID, imm32(btfId, "BTF id"), imm32(btfFd, "BTF fd"));
}

/** Legacy packet load `r0 = *(size *)skb[imm]` (socket filters). */
export function ldAbs(size: "b" | "h" | "w", imm: number): Instruction {
  const bits = sizeBits(size);
  if (bits === Size.DW) throw new OperandError("legacy packet loads have no 8-byte size");
  return { code: Mode.ABS | bits | Class.LD, dst: 0, src: 0, off: 0, imm: imm32(imm) };
}

/** Legacy packet load `r0 = *(size *)skb[src + imm]` (socket filters). */
export function ldInd(size: "b" | "h" | "w", src: Register, imm: number): Instruction {
  const bits = sizeBits(size);
  if (bits === Size.DW) throw new OperandError("legacy packet loads have no 8-byte size");
  return {
    code: Mode.IND | bits | Class.LD,
    dst: 0,
    src: regIndex(src, "offset register"),
    off: 0,
    imm: imm32(imm),
  };
}
