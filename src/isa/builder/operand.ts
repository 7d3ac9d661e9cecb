/**
 * Operands of the builder: registers as values, and the checks that make a bad operand fail where
 * the instruction is written rather than when the program is loaded.
 */

import { INSPECT, shortText } from "../../util/print.js";

/** An operand that does not fit the instruction: a register, immediate or offset out of range. */
export class OperandError extends Error {
  override readonly name = "OperandError";
  /** `console.log`/`util.inspect` print the message and the stack frames, not every field. */
  [INSPECT](): string {
    return shortText(this, {});
  }
}

/** One of the eleven registers r0..r10. Compare by identity or by `index`. */
export class Register {
  /** the register number, 0..10 */
  readonly index: number;
  /** @internal use {@link R0}..{@link R10} or {@link register} */
  constructor(index: number) {
    this.index = index;
    Object.freeze(this);
  }
  /** `r0`..`r10` */
  toString(): string {
    return `r${this.index}`;
  }
}

/** return value of calls and of the program */
export const R0: Register = new Register(0);
/** first argument (the context on entry) */
export const R1: Register = new Register(1);
/** second argument */
export const R2: Register = new Register(2);
/** third argument */
export const R3: Register = new Register(3);
/** fourth argument */
export const R4: Register = new Register(4);
/** fifth argument */
export const R5: Register = new Register(5);
/** callee-saved */
export const R6: Register = new Register(6);
/** callee-saved */
export const R7: Register = new Register(7);
/** callee-saved */
export const R8: Register = new Register(8);
/** callee-saved */
export const R9: Register = new Register(9);
/** the read-only frame pointer */
export const R10: Register = new Register(10);

const REGISTERS: readonly Register[] = [R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10];

/**
 * The register with that number.
 * @throws OperandError unless 0 <= index <= 10
 */
export function register(index: number): Register {
  const r = Number.isInteger(index) ? REGISTERS[index] : undefined;
  if (r === undefined) throw new OperandError(`register r${index} does not exist; registers are r0..r10`);
  return r;
}

/** The number of a register operand, checked. */
export function regIndex(r: Register, role: string): number {
  if (!(r instanceof Register))
    throw new OperandError(`${role} must be a register (R0..R10), got ${String(r)}`);
  return r.index;
}

/** A signed 32-bit immediate, checked. */
export function imm32(value: number, role = "immediate"): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
    const hint =
      Number.isInteger(value) && value >= 0 && value <= 0xffffffff
        ? `; to mean the same 32 bits write ${value | 0}, or load a 64-bit constant with ldImm64`
        : "; 64-bit constants need ldImm64";
    throw new OperandError(
      `${role} ${String(value)} does not fit in a signed 32-bit immediate (-2147483648..2147483647)${hint}`,
    );
  }
  return value;
}

/** A signed 16-bit offset, checked. */
export function off16(value: number, role = "offset"): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < -0x8000 || value > 0x7fff)
    throw new OperandError(`${role} ${String(value)} does not fit in a signed 16-bit offset (-32768..32767)`);
  return value;
}
