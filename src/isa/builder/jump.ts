/**
 * Jumps, calls and exit. A jump target is a label name (resolved by {@link ProgramBuilder.build})
 * or a number: the offset in instructions from the next instruction.
 */

import { findHelper, helperById, helperByName } from "../helpers.js";
import type { Instruction } from "../insn.js";
import { Class, JmpOp, PseudoCall, Source } from "../opcode.js";
import { imm32, OperandError, off16, Register, regIndex } from "./operand.js";

/** Where a jump goes: a label, or a relative offset in instructions. */
export type JumpTarget = string | number;

function target(insn: Instruction, to: JumpTarget, wide: boolean): Instruction {
  if (typeof to === "string") {
    if (to.length === 0) throw new OperandError("a jump target label must not be empty");
    insn.ref = { kind: "label", name: to };
  } else if (wide) insn.imm = imm32(to, "jump offset");
  else insn.off = off16(to, "jump offset");
  return insn;
}

function conditional(
  cls: number,
  op: number,
  dst: Register,
  value: Register | number,
  to: JumpTarget,
): Instruction {
  const d = regIndex(dst, "compared register");
  const insn: Instruction =
    value instanceof Register
      ? { code: op | Source.X | cls, dst: d, src: value.index, off: 0, imm: 0 }
      : { code: op | Source.K | cls, dst: d, src: 0, off: 0, imm: imm32(value) };
  return target(insn, to, false);
}

/** A conditional jump constructor. */
export type Conditional = (dst: Register, value: Register | number, to: JumpTarget) => Instruction;
const jump64 =
  (op: number): Conditional =>
  (dst, value, to) =>
    conditional(Class.JMP, op, dst, value, to);
const jump32 =
  (op: number): Conditional =>
  (dst, value, to) =>
    conditional(Class.JMP32, op, dst, value, to);

/** `if dst == value goto to` */
export const jeq: Conditional = jump64(JmpOp.JEQ);
/** `if dst != value goto to` */
export const jne: Conditional = jump64(JmpOp.JNE);
/** `if dst > value goto to` (unsigned) */
export const jgt: Conditional = jump64(JmpOp.JGT);
/** `if dst >= value goto to` (unsigned) */
export const jge: Conditional = jump64(JmpOp.JGE);
/** `if dst < value goto to` (unsigned) */
export const jlt: Conditional = jump64(JmpOp.JLT);
/** `if dst <= value goto to` (unsigned) */
export const jle: Conditional = jump64(JmpOp.JLE);
/** `if dst s> value goto to` (signed) */
export const jsgt: Conditional = jump64(JmpOp.JSGT);
/** `if dst s>= value goto to` (signed) */
export const jsge: Conditional = jump64(JmpOp.JSGE);
/** `if dst s< value goto to` (signed) */
export const jslt: Conditional = jump64(JmpOp.JSLT);
/** `if dst s<= value goto to` (signed) */
export const jsle: Conditional = jump64(JmpOp.JSLE);
/** `if dst & value goto to` */
export const jset: Conditional = jump64(JmpOp.JSET);

/** `if wdst == value goto to` (32-bit compare) */
export const jeq32: Conditional = jump32(JmpOp.JEQ);
/** `if wdst != value goto to` (32-bit compare) */
export const jne32: Conditional = jump32(JmpOp.JNE);
/** `if wdst > value goto to` (32-bit, unsigned) */
export const jgt32: Conditional = jump32(JmpOp.JGT);
/** `if wdst >= value goto to` (32-bit, unsigned) */
export const jge32: Conditional = jump32(JmpOp.JGE);
/** `if wdst < value goto to` (32-bit, unsigned) */
export const jlt32: Conditional = jump32(JmpOp.JLT);
/** `if wdst <= value goto to` (32-bit, unsigned) */
export const jle32: Conditional = jump32(JmpOp.JLE);
/** `if wdst s> value goto to` (32-bit, signed) */
export const jsgt32: Conditional = jump32(JmpOp.JSGT);
/** `if wdst s>= value goto to` (32-bit, signed) */
export const jsge32: Conditional = jump32(JmpOp.JSGE);
/** `if wdst s< value goto to` (32-bit, signed) */
export const jslt32: Conditional = jump32(JmpOp.JSLT);
/** `if wdst s<= value goto to` (32-bit, signed) */
export const jsle32: Conditional = jump32(JmpOp.JSLE);
/** `if wdst & value goto to` (32-bit) */
export const jset32: Conditional = jump32(JmpOp.JSET);

/** `goto to`, 16-bit offset (the builder turns it into gotol when the label is farther). */
export function ja(to: JumpTarget): Instruction {
  return target({ code: JmpOp.JA | Class.JMP, dst: 0, src: 0, off: 0, imm: 0 }, to, false);
}

/** `gotol to`, 32-bit offset. */
export function gotol(to: JumpTarget): Instruction {
  return target({ code: JmpOp.JA | Class.JMP32, dst: 0, src: 0, off: 0, imm: 0 }, to, true);
}

/** `may_goto to`: jump to `to` once the kernel's loop budget is spent, else fall through. */
export function mayGoto(to: JumpTarget): Instruction {
  return target({ code: JmpOp.JCOND | Class.JMP, dst: 0, src: 0, off: 0, imm: 0 }, to, false);
}

/** `exit`: return r0. */
export function exit(): Instruction {
  return { code: JmpOp.EXIT | Class.JMP, dst: 0, src: 0, off: 0, imm: 0 };
}

/**
 * `call helper`: call a helper by name (`"bpf_map_lookup_elem"`, prefix optional) or by id.
 * @throws UnknownHelperError / UnknownHelperIdError
 */
export function call(helper: string | number): Instruction {
  const h = typeof helper === "string" ? helperByName(helper) : helperById(helper);
  return {
    code: JmpOp.CALL | Class.JMP,
    dst: 0,
    src: PseudoCall.HELPER,
    off: 0,
    imm: h.id,
    ref: { kind: "helper", name: h.name },
  };
}

/** `call fn`: bpf-to-bpf call of a function defined with {@link ProgramBuilder.function}. */
export function callLocal(fn: string): Instruction {
  if (fn.length === 0) throw new OperandError("a function name must not be empty");
  return {
    code: JmpOp.CALL | Class.JMP,
    dst: 0,
    src: PseudoCall.CALL,
    off: 0,
    imm: 0,
    ref: { kind: "func", name: fn },
  };
}

/**
 * `call kfunc`: call a kernel function by name. Its BTF id (`imm`) and module (`off`) are filled
 * in against the kernel's BTF at load.
 */
export function callKfunc(kfunc: string): Instruction {
  if (kfunc.length === 0) throw new OperandError("a kfunc name must not be empty");
  if (findHelper(kfunc)?.name === kfunc)
    throw new OperandError(`"${kfunc}" is a helper, not a kfunc; call it with call("${kfunc}")`);
  return {
    code: JmpOp.CALL | Class.JMP,
    dst: 0,
    src: PseudoCall.KFUNC_CALL,
    off: 0,
    imm: 0,
    ref: { kind: "kfunc", name: kfunc },
  };
}

/** `callx reg`: indirect call through a register (LLVM's encoding; Linux 6.18 refuses it at load). */
export function callx(reg: Register): Instruction {
  return {
    code: JmpOp.CALL | Source.X | Class.JMP,
    dst: regIndex(reg, "call target"),
    src: 0,
    off: 0,
    imm: 0,
  };
}
