/**
 * The encoding rules of one instruction: which opcodes exist, which fields each one uses, and
 * which must be zero. The rules are the union of RFC 9669 ("unused fields must be zero") and what
 * the Linux 6.18 verifier calls "reserved fields" or "unknown opcode". Shared by the encoder, the
 * decoder, the builder and the assembler, so all of them refuse the same things.
 */

import { InvalidInstructionError } from "./errors.js";
import type { Instruction } from "./insn.js";
import {
  AluOp,
  AtomicOp,
  Class,
  JmpOp,
  LD_IMM64,
  MAX_REGISTER,
  Mode,
  PseudoCall,
  PseudoLoad,
  Size,
  Source,
} from "./opcode.js";

const INT16_MIN = -0x8000;
const INT16_MAX = 0x7fff;
const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;

const ALU_NAMES = [
  "add",
  "sub",
  "mul",
  "div",
  "or",
  "and",
  "lsh",
  "rsh",
  "neg",
  "mod",
  "xor",
  "mov",
  "arsh",
  "end",
];
const JMP_NAMES = [
  "ja",
  "jeq",
  "jgt",
  "jge",
  "jset",
  "jne",
  "jsgt",
  "jsge",
  "call",
  "exit",
  "jlt",
  "jle",
  "jslt",
  "jsle",
  "jcond",
];
const CLASS_NAMES = ["ld", "ldx", "st", "stx", "alu", "jmp", "jmp32", "alu64"];
const SIZE_NAMES = ["w", "h", "b", "dw"];

function isInt(value: unknown, min: number, max: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}

function hex(value: number): string {
  return "0x" + value.toString(16).padStart(2, "0");
}

/** A short, readable name of an opcode for error messages, e.g. `add64 K (0x07)`. */
export function describeOpcode(code: number): string {
  const cls = code & 0x07;
  if (cls === Class.ALU || cls === Class.ALU64 || cls === Class.JMP || cls === Class.JMP32) {
    if (cls === Class.ALU64 && (code & 0xf0) === AluOp.END) return `bswap (opcode ${hex(code)})`;
    if (cls === Class.ALU && (code & 0xf0) === AluOp.END)
      return `${code & Source.X ? "be" : "le"} (opcode ${hex(code)})`;
    const names = cls === Class.ALU || cls === Class.ALU64 ? ALU_NAMES : JMP_NAMES;
    const name = names[(code & 0xf0) >> 4] ?? `op${hex(code & 0xf0)}`;
    const width = cls === Class.ALU64 ? "64" : cls === Class.JMP32 || cls === Class.ALU ? "32" : "";
    const source = code & Source.X ? "X" : "K";
    return `${name}${width} ${source} (opcode ${hex(code)})`;
  }
  const mode = ["imm", "abs", "ind", "mem", "memsx", "mode0xa0", "atomic", "mode0xe0"][(code & 0xe0) >> 5];
  return `${CLASS_NAMES[cls]}${SIZE_NAMES[(code & 0x18) >> 3]} ${mode} (opcode ${hex(code)})`;
}

function unused(code: number, field: string, value: number): string {
  return `${describeOpcode(code)}: ${field} is unused by this instruction and must be 0, found ${value}`;
}

function aluProblem(code: number, src: number, off: number, imm: number): string | undefined {
  const op = code & 0xf0;
  const isX = (code & Source.X) !== 0;
  const is64 = (code & 0x07) === Class.ALU64;
  if (op > AluOp.END) return `unknown arithmetic operation ${hex(op)} in opcode ${hex(code)}`;
  switch (op) {
    case AluOp.NEG:
      if (isX)
        return `${describeOpcode(code)}: neg has no register form; use opcode ${hex(code & ~Source.X)}`;
      if (src !== 0) return unused(code, "src", src);
      if (off !== 0) return unused(code, "off", off);
      if (imm !== 0) return unused(code, "imm", imm);
      return undefined;
    case AluOp.END:
      if (is64 && isX)
        return `${describeOpcode(code)}: the 64-bit byte swap (bswap) exists only with the TO_LE bit clear (opcode 0xd7)`;
      if (src !== 0) return unused(code, "src", src);
      if (off !== 0) return unused(code, "off", off);
      if (imm !== 16 && imm !== 32 && imm !== 64)
        return `${describeOpcode(code)}: the byte swap width (imm) must be 16, 32 or 64, found ${imm}`;
      return undefined;
    case AluOp.MOV:
      if (!isX) {
        if (src !== 0) return unused(code, "src", src);
        if (off !== 0) return unused(code, "off", off);
        return undefined;
      }
      if (is64 && off === 1) {
        if (imm !== 1 && imm !== 0x10000)
          return `${describeOpcode(code)}: addr_space_cast (off 1) converts between address spaces 0 and 1 only: imm must be 1 (as(1) to as(0)) or 65536 (as(0) to as(1)), found ${imm}`;
        return undefined;
      }
      if (off !== 0 && off !== 8 && off !== 16 && (!is64 || off !== 32))
        return `${describeOpcode(code)}: off of a move selects sign extension and must be 0, 8, 16${is64 ? ", 32 (or 1 for addr_space_cast)" : ""}, found ${off}`;
      if (imm !== 0) return unused(code, "imm", imm);
      return undefined;
    default:
      if (off !== 0 && !(off === 1 && (op === AluOp.DIV || op === AluOp.MOD)))
        return op === AluOp.DIV || op === AluOp.MOD
          ? `${describeOpcode(code)}: off of div/mod must be 0 (unsigned) or 1 (signed), found ${off}`
          : unused(code, "off", off);
      if (isX && imm !== 0) return unused(code, "imm", imm);
      if (!isX && src !== 0) return unused(code, "src", src);
      return undefined;
  }
}

function jumpProblem(code: number, dst: number, src: number, off: number, imm: number): string | undefined {
  const op = code & 0xf0;
  const isX = (code & Source.X) !== 0;
  const is32 = (code & 0x07) === Class.JMP32;
  switch (op) {
    case 0xf0:
      return `unknown jump operation 0xf0 in opcode ${hex(code)}`;
    case JmpOp.JA:
      if (isX) return `${describeOpcode(code)}: ja has no register form`;
      if (dst !== 0) return unused(code, "dst", dst);
      if (src !== 0) return unused(code, "src", src);
      if (is32 && off !== 0)
        return `${describeOpcode(code)}: gotol takes its target in imm; off must be 0, found ${off}`;
      if (!is32 && imm !== 0)
        return `${describeOpcode(code)}: ja takes its target in off; imm must be 0, found ${imm} (for 32-bit targets use gotol, opcode 0x06)`;
      return undefined;
    case JmpOp.CALL:
      if (is32) return `${describeOpcode(code)}: call exists only in class JMP (opcode 0x85), not JMP32`;
      if (isX) {
        if (src !== 0) return unused(code, "src", src);
        if (off !== 0) return unused(code, "off", off);
        if (imm !== 0) return unused(code, "imm", imm);
        return undefined;
      }
      if (dst !== 0) return unused(code, "dst", dst);
      if (src !== PseudoCall.HELPER && src !== PseudoCall.CALL && src !== PseudoCall.KFUNC_CALL)
        return `${describeOpcode(code)}: src selects the kind of call and must be 0 (helper), 1 (bpf-to-bpf) or 2 (kfunc), found ${src}`;
      if (src !== PseudoCall.KFUNC_CALL && off !== 0) return unused(code, "off", off);
      return undefined;
    case JmpOp.EXIT:
      if (is32) return `${describeOpcode(code)}: exit exists only in class JMP (opcode 0x95), not JMP32`;
      if (isX) return `${describeOpcode(code)}: exit has no register form; use opcode 0x95`;
      if (dst !== 0) return unused(code, "dst", dst);
      if (src !== 0) return unused(code, "src", src);
      if (off !== 0) return unused(code, "off", off);
      if (imm !== 0) return unused(code, "imm", imm);
      return undefined;
    case JmpOp.JCOND:
      if (is32) return `${describeOpcode(code)}: may_goto exists only in class JMP (opcode 0xe5), not JMP32`;
      if (isX) return `${describeOpcode(code)}: may_goto has no register form; use opcode 0xe5`;
      if (src !== 0)
        return `${describeOpcode(code)}: src must be 0 (may_goto, the only conditional pseudo jump), found ${src}`;
      if (dst !== 0) return unused(code, "dst", dst);
      if (imm !== 0) return unused(code, "imm", imm);
      return undefined;
    default:
      if (isX && imm !== 0) return unused(code, "imm", imm);
      if (!isX && src !== 0) return unused(code, "src", src);
      return undefined;
  }
}

function loadProblem(code: number, dst: number, src: number, off: number, imm2: number): string | undefined {
  if (code === LD_IMM64) {
    if (off !== 0) return unused(code, "off", off);
    if (src > PseudoLoad.MAP_IDX_VALUE)
      return `${describeOpcode(code)}: src selects what ld_imm64 loads and must be 0 (constant), 1 (map fd), 2 (map value), 3 (BTF id), 4 (function), 5 (map index) or 6 (map index value), found ${src}`;
    if (!isInt(imm2, INT32_MIN, INT32_MAX))
      return `${describeOpcode(code)}: imm2 ${imm2} does not fit in a signed 32-bit immediate`;
    if ((src === PseudoLoad.MAP_FD || src === PseudoLoad.MAP_IDX) && imm2 !== 0)
      return `${describeOpcode(code)}: a map reference (src ${src}) leaves the second slot's imm at 0, found ${imm2}`;
    return undefined;
  }
  const mode = code & 0xe0;
  if (mode === Mode.ABS || mode === Mode.IND) {
    if ((code & 0x18) === Size.DW)
      return `${describeOpcode(code)}: the legacy packet loads have no 8-byte (dw) size`;
    if (dst !== 0) return unused(code, "dst", dst);
    if (off !== 0) return unused(code, "off", off);
    if (mode === Mode.ABS && src !== 0) return unused(code, "src", src);
    return undefined;
  }
  return `unknown opcode ${hex(code)}: class LD holds only ld_imm64 (0x18) and the legacy packet loads (abs, ind)`;
}

function memoryProblem(code: number, src: number, imm: number): string | undefined {
  const cls = code & 0x07;
  const mode = code & 0xe0;
  const size = code & 0x18;
  if (cls === Class.LDX) {
    if (mode === Mode.MEMSX && size === Size.DW)
      return `${describeOpcode(code)}: there is no sign-extending 8-byte load; use the plain ldxdw (opcode 0x79)`;
    if (mode !== Mode.MEM && mode !== Mode.MEMSX)
      return `unknown opcode ${hex(code)}: class LDX has only the mem and memsx modes`;
    if (imm !== 0) return unused(code, "imm", imm);
    return undefined;
  }
  if (cls === Class.ST) {
    if (mode !== Mode.MEM) return `unknown opcode ${hex(code)}: class ST has only the mem mode`;
    if (src !== 0) return unused(code, "src", src);
    return undefined;
  }
  // STX
  if (mode === Mode.MEM) {
    if (imm !== 0) return unused(code, "imm", imm);
    return undefined;
  }
  if (mode !== Mode.ATOMIC) return `unknown opcode ${hex(code)}: class STX has only the mem and atomic modes`;
  switch (imm) {
    case AtomicOp.LOAD_ACQ:
    case AtomicOp.STORE_REL:
      return undefined;
    case AtomicOp.ADD:
    case AtomicOp.ADD | AtomicOp.FETCH:
    case AtomicOp.OR:
    case AtomicOp.OR | AtomicOp.FETCH:
    case AtomicOp.AND:
    case AtomicOp.AND | AtomicOp.FETCH:
    case AtomicOp.XOR:
    case AtomicOp.XOR | AtomicOp.FETCH:
    case AtomicOp.XCHG:
    case AtomicOp.CMPXCHG:
      if (size !== Size.W && size !== Size.DW)
        return `${describeOpcode(code)}: atomic read-modify-write operations exist only for 4 and 8 bytes (w, dw)`;
      return undefined;
    default:
      return `${describeOpcode(code)}: unknown atomic operation imm=${hex(imm)}; valid: add/or/and/xor (0x00/0x40/0x50/0xa0, |0x01 to fetch), xchg 0xe1, cmpxchg 0xf1, load_acquire 0x100, store_release 0x110`;
  }
}

/**
 * Checks only that each field fits its bit width: opcode a byte, registers 4 bits, `off` a signed
 * 16-bit and `imm` (and `imm2`) a signed 32-bit integer. Returns what is wrong, or undefined.
 */
export function fieldProblem(insn: Instruction): string | undefined {
  const { code, dst, src, off, imm } = insn;
  if (!isInt(code, 0, 0xff)) return `opcode ${String(code)} is not a byte (0..255)`;
  if (!isInt(dst, 0, 15)) return `dst ${String(dst)} is not a 4-bit register number`;
  if (!isInt(src, 0, 15)) return `src ${String(src)} is not a 4-bit register number`;
  if (!isInt(off, INT16_MIN, INT16_MAX))
    return `off ${String(off)} does not fit in a signed 16-bit offset (-32768..32767)`;
  if (!isInt(imm, INT32_MIN, INT32_MAX)) {
    const hint = isInt(imm, 0, 0xffffffff) ? `; write it as ${imm | 0} (the same 32 bits, signed)` : "";
    return `imm ${String(imm)} does not fit in a signed 32-bit immediate (-2147483648..2147483647)${hint}`;
  }
  if (code === LD_IMM64) {
    const imm2 = insn.imm2;
    if (imm2 !== undefined && !isInt(imm2, INT32_MIN, INT32_MAX)) {
      const hint = isInt(imm2, 0, 0xffffffff) ? `; write it as ${imm2 | 0} (the same 32 bits, signed)` : "";
      return `imm2 ${String(imm2)} does not fit in a signed 32-bit immediate${hint}`;
    }
  } else if (insn.imm2 !== undefined) {
    return `imm2 is used only by ld_imm64 (opcode 0x18), not by ${describeOpcode(code)}`;
  }
  return undefined;
}

/**
 * What is wrong with an instruction, or undefined when it is valid: field widths, unknown
 * opcodes, unused fields that are not zero, pseudo sources that do not exist, registers above
 * r10. Allocates nothing for a valid instruction.
 */
export function instructionProblem(insn: Instruction): string | undefined {
  const fields = fieldProblem(insn);
  if (fields !== undefined) return fields;
  return encodingProblem(insn.code, insn.dst, insn.src, insn.off, insn.imm, insn.imm2 ?? 0);
}

/**
 * {@link instructionProblem} of fields already known to fit their widths (as read from bytes):
 * the same rules, without an instruction object. `imm2` is 0 for instructions without one.
 */
export function encodingProblem(
  code: number,
  dst: number,
  src: number,
  off: number,
  imm: number,
  imm2: number,
): string | undefined {
  let problem: string | undefined;
  switch (code & 0x07) {
    case Class.LD:
      problem = loadProblem(code, dst, src, off, imm2);
      break;
    case Class.LDX:
    case Class.ST:
    case Class.STX:
      problem = memoryProblem(code, src, imm);
      break;
    case Class.ALU:
    case Class.ALU64:
      problem = aluProblem(code, src, off, imm);
      break;
    default:
      problem = jumpProblem(code, dst, src, off, imm);
  }
  if (problem !== undefined) return problem;
  if (dst > MAX_REGISTER)
    return `${describeOpcode(code)}: register r${dst} (dst) does not exist; registers are r0..r10`;
  if (src > MAX_REGISTER)
    return `${describeOpcode(code)}: register r${src} (src) does not exist; registers are r0..r10`;
  return undefined;
}

/** Throws an {@link InvalidInstructionError} unless the instruction is valid. */
export function validate(insn: Instruction): void {
  const problem = instructionProblem(insn);
  if (problem !== undefined) throw new InvalidInstructionError(problem);
}

/** Whether the instruction is valid (see {@link instructionProblem}). */
export function isValid(insn: Instruction): boolean {
  return instructionProblem(insn) === undefined;
}
