/** A minimal local instruction vocabulary for the program tests (independent of the builder). */
import type { Instruction } from "../../src/isa/insn.js";

const i = (code: number, dst = 0, src = 0, off = 0, imm = 0): Instruction => ({ code, dst, src, off, imm });

/** dst = imm (64-bit) */
export const movImm = (dst: number, imm: number) => i(0xb7, dst, 0, 0, imm);
/** dst = src (64-bit) */
export const movReg = (dst: number, src: number) => i(0xbf, dst, src);
/** dst += imm */
export const addImm = (dst: number, imm: number) => i(0x07, dst, 0, 0, imm);
/** exit */
export const exit = () => i(0x95);
/** ja off */
export const ja = (off: number) => i(0x05, 0, 0, off);
/** if dst == imm goto off */
export const jeqImm = (dst: number, imm: number, off: number) => i(0x15, dst, 0, off, imm);
/** *(u64 *)(dst + off) = imm */
export const stDw = (dst: number, off: number, imm: number) => i(0x7a, dst, 0, off, imm);
/** dst = *(u64 *)(src + off) */
export const ldxDw = (dst: number, src: number, off: number) => i(0x79, dst, src, off);
/** dst = *(u32 *)(src + off) */
export const ldxW = (dst: number, src: number, off: number) => i(0x61, dst, src, off);
/** call helper */
export const call = (helper: number) => i(0x85, 0, 0, 0, helper);
/** r = map (ld_imm64 with a map reference by name) */
export const ldMap = (dst: number, name: string, map?: unknown): Instruction => ({
  ...i(0x18, dst, 1, 0, 0),
  imm2: 0,
  ref: map === undefined ? { kind: "map", name } : { kind: "map", name, map },
});

/** `r0 = value; exit` */
export const returnValue = (value: number): Instruction[] => [movImm(0, value), exit()];
