/**
 * Atomic memory operations (`STX | ATOMIC`): `atomic.add("dw", R1, 8, R2)` is
 * `lock *(u64 *)(r1 + 8) += r2`; the `fetch` forms also put the old value in the source register.
 */

import type { Instruction } from "../insn.js";
import { AtomicOp, Class, Mode, Size } from "../opcode.js";
import { OperandError, off16, type Register, regIndex } from "./operand.js";
import { type AccessSize, sizeBits } from "./size.js";

function atomicInsn(op: number, size: AccessSize, dst: Register, off: number, src: Register): Instruction {
  const bits = sizeBits(size);
  if (op !== AtomicOp.LOAD_ACQ && op !== AtomicOp.STORE_REL && bits !== Size.W && bits !== Size.DW)
    throw new OperandError(`atomic read-modify-write operations exist only for "w" and "dw", not "${size}"`);
  return {
    code: Mode.ATOMIC | bits | Class.STX,
    dst: regIndex(dst, "base"),
    src: regIndex(src, "source"),
    off: off16(off),
    imm: op,
  };
}

type Rmw = (size: "w" | "dw", dst: Register, off: number, src: Register) => Instruction;
const rmw =
  (op: number): Rmw =>
  (size, dst, off, src) =>
    atomicInsn(op, size, dst, off, src);

/** Atomic operations. */
export const atomic = {
  /** `lock *(size *)(dst + off) += src` */
  add: rmw(AtomicOp.ADD),
  /** `lock *(size *)(dst + off) |= src` */
  or: rmw(AtomicOp.OR),
  /** `lock *(size *)(dst + off) &= src` */
  and: rmw(AtomicOp.AND),
  /** `lock *(size *)(dst + off) ^= src` */
  xor: rmw(AtomicOp.XOR),
  /** `src = atomic_fetch_add((size *)(dst + off), src)` */
  fetchAdd: rmw(AtomicOp.ADD | AtomicOp.FETCH),
  /** `src = atomic_fetch_or((size *)(dst + off), src)` */
  fetchOr: rmw(AtomicOp.OR | AtomicOp.FETCH),
  /** `src = atomic_fetch_and((size *)(dst + off), src)` */
  fetchAnd: rmw(AtomicOp.AND | AtomicOp.FETCH),
  /** `src = atomic_fetch_xor((size *)(dst + off), src)` */
  fetchXor: rmw(AtomicOp.XOR | AtomicOp.FETCH),
  /** `src = xchg((size *)(dst + off), src)` */
  xchg: rmw(AtomicOp.XCHG),
  /** `r0 = cmpxchg((size *)(dst + off), r0, src)`: store src if the memory equals r0; r0 gets the old value */
  cmpxchg: rmw(AtomicOp.CMPXCHG),
  /** `dst = load_acquire((size *)(src + off))` */
  loadAcquire(size: AccessSize, dst: Register, src: Register, off: number): Instruction {
    // load-acquire keeps the destination in dst and the address in src
    const insn = atomicInsn(AtomicOp.LOAD_ACQ, size, src, off, dst);
    return { ...insn, dst: insn.src, src: insn.dst };
  },
  /** `store_release((size *)(dst + off), src)` */
  storeRelease(size: AccessSize, dst: Register, off: number, src: Register): Instruction {
    return atomicInsn(AtomicOp.STORE_REL, size, dst, off, src);
  },
} as const;
