/**
 * The disassembler: bytes or instructions to kernel-syntax text that the assembler (and
 * llvm-mc) read back into the same bytes. Jump targets get labels (`L12:`), bpf-to-bpf call
 * targets become `.func` blocks, helper calls are named, and pseudo loads are spelled out.
 */

import { decode } from "./decode.js";
import { findHelper, HELPERS } from "./helpers.js";
import { Class, type Instruction, LD_IMM64 } from "./insn.js";
import { AluOp, AtomicOp, JmpOp, Mode, PseudoCall, PseudoLoad, Size, Source } from "./opcode.js";

/** Options of {@link disassemble}. */
export interface DisassembleOptions {
  /** name jump targets `L<slot>` and called functions `fn<slot>` (default true); else `+N` offsets */
  labels?: boolean;
  /** name helpers in calls (`call bpf_map_lookup_elem`, default true); else `call 1` */
  helperNames?: boolean;
  /** names of functions by their first slot, used instead of `fn<slot>` */
  functionNames?: ReadonlyMap<number, string>;
}

/** One disassembled instruction, as `rawbpf disasm --format json` prints it. */
export interface DisassembledInstruction {
  /** slot (8-byte unit) of the instruction */
  slot: number;
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
  imm2?: number;
  /** the label defined at this instruction, if any */
  label?: string;
  /** the instruction in kernel syntax */
  text: string;
}

const ALU_OPS: Record<number, string> = {
  [AluOp.ADD]: "+=",
  [AluOp.SUB]: "-=",
  [AluOp.MUL]: "*=",
  [AluOp.DIV]: "/=",
  [AluOp.OR]: "|=",
  [AluOp.AND]: "&=",
  [AluOp.LSH]: "<<=",
  [AluOp.RSH]: ">>=",
  [AluOp.MOD]: "%=",
  [AluOp.XOR]: "^=",
  [AluOp.ARSH]: "s>>=",
};

const JMP_OPS: Record<number, string> = {
  [JmpOp.JEQ]: "==",
  [JmpOp.JGT]: ">",
  [JmpOp.JGE]: ">=",
  [JmpOp.JSET]: "&",
  [JmpOp.JNE]: "!=",
  [JmpOp.JSGT]: "s>",
  [JmpOp.JSGE]: "s>=",
  [JmpOp.JLT]: "<",
  [JmpOp.JLE]: "<=",
  [JmpOp.JSLT]: "s<",
  [JmpOp.JSLE]: "s<=",
};

const ATOMIC_NAMES: Record<number, [string, string]> = {
  [AtomicOp.ADD]: ["+=", "add"],
  [AtomicOp.OR]: ["|=", "or"],
  [AtomicOp.AND]: ["&=", "and"],
  [AtomicOp.XOR]: ["^=", "xor"],
};

const SIZE_NAMES: Record<number, string> = { [Size.B]: "8", [Size.H]: "16", [Size.W]: "32", [Size.DW]: "64" };

function num(v: number): string {
  return v < 0 || v < 10 ? String(v) : `0x${v.toString(16)}`;
}

function addr(reg: number, off: number): string {
  return off < 0 ? `(r${reg} - ${-off})` : `(r${reg} + ${off})`;
}

function rel(v: number): string {
  return v < 0 ? String(v) : `+${v}`;
}

function valueOffset(v: number): string {
  return v === 0 ? "" : v < 0 ? String(v) : `+${v}`;
}

function imm64(lo: number, hi: number): string {
  const v = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  return `0x${v.toString(16)}`;
}

interface Targets {
  /** label of each slot that a jump lands on, by slot */
  jump: (string | undefined)[];
  /** name of each slot that a call or function pointer lands on, by slot */
  func: (string | undefined)[];
}

function slotsOf(insns: readonly Instruction[]): number[] {
  const slots = new Array<number>(insns.length);
  let s = 0;
  for (let i = 0; i < insns.length; i++) {
    slots[i] = s;
    s += (insns[i] as Instruction).code === LD_IMM64 ? 2 : 1;
  }
  return slots;
}

function jumpTarget(i: Instruction, slot: number): number | undefined {
  const cls = i.code & 7;
  if (cls !== Class.JMP && cls !== Class.JMP32) return undefined;
  const op = i.code & 0xf0;
  if (op === JmpOp.CALL || op === JmpOp.EXIT) return undefined;
  if (cls === Class.JMP32 && op === JmpOp.JA) return slot + 1 + i.imm;
  return slot + 1 + i.off;
}

function funcTarget(i: Instruction, slot: number): number | undefined {
  if (i.code === (JmpOp.CALL | Class.JMP) && i.src === PseudoCall.CALL && i.ref === undefined)
    return slot + 1 + i.imm;
  if (i.code === LD_IMM64 && i.src === PseudoLoad.FUNC && i.ref === undefined && !i.imm2)
    return slot + 1 + i.imm;
  return undefined;
}

function findTargets(
  insns: readonly Instruction[],
  slots: readonly number[],
  options: DisassembleOptions,
): Targets {
  const total =
    insns.length === 0
      ? 0
      : (slots[insns.length - 1] as number) +
        ((insns[insns.length - 1] as Instruction).code === LD_IMM64 ? 2 : 1);
  const starts = new Uint8Array(total + 1);
  for (let k = 0; k < slots.length; k++) starts[slots[k] as number] = 1;
  const jump: (string | undefined)[] = [];
  const func: (string | undefined)[] = [];
  for (let k = 0; k < insns.length; k++) {
    const i = insns[k] as Instruction;
    const slot = slots[k] as number;
    const f = funcTarget(i, slot);
    if (f !== undefined && f >= 0 && f < total && starts[f] === 1 && func[f] === undefined)
      func[f] = options.functionNames?.get(f) ?? `fn${f}`;
    const j = jumpTarget(i, slot);
    if (j !== undefined && j >= 0 && j < total && starts[j] === 1 && jump[j] === undefined) jump[j] = `L${j}`;
  }
  // a function entry that is also a jump target keeps the function's name
  for (let s = 0; s < func.length; s++) if (func[s] !== undefined) jump[s] = func[s];
  return { jump, func };
}

/** Formats one instruction; `slot` and `targets` give labels to jumps and calls. */
export function formatInstruction(
  i: Instruction,
  slot = 0,
  targets?: Targets,
  options: DisassembleOptions = {},
): string {
  const { code, dst, src, off, imm } = i;
  const cls = code & 7;
  const helperNames = options.helperNames !== false;
  switch (cls) {
    case Class.ALU:
    case Class.ALU64: {
      const r = cls === Class.ALU64 ? "r" : "w";
      const op = code & 0xf0;
      const x = (code & Source.X) !== 0;
      if (op === AluOp.NEG) return `${r}${dst} = -${r}${dst}`;
      if (op === AluOp.END) {
        const name = cls === Class.ALU64 ? "bswap" : x ? "be" : "le";
        return `r${dst} = ${name}${imm} r${dst}`;
      }
      if (op === AluOp.MOV) {
        if (!x) return `${r}${dst} = ${num(imm)}`;
        if (off === 0) return `${r}${dst} = ${r}${src}`;
        if (off === 1 && cls === Class.ALU64)
          return `r${dst} = addr_space_cast(r${src}, ${imm >>> 16}, ${imm & 0xffff})`;
        return `${r}${dst} = (s${off})${r}${src}`;
      }
      let sym = ALU_OPS[op] ?? "?=";
      if (off === 1 && (op === AluOp.DIV || op === AluOp.MOD)) sym = `s${sym}`;
      return `${r}${dst} ${sym} ${x ? `${r}${src}` : num(imm)}`;
    }
    case Class.LDX: {
      const signed = (code & 0xe0) === Mode.MEMSX;
      return `r${dst} = *(${signed ? "s" : "u"}${SIZE_NAMES[code & 0x18]} *)${addr(src, off)}`;
    }
    case Class.ST:
      return `*(u${SIZE_NAMES[code & 0x18]} *)${addr(dst, off)} = ${num(imm)}`;
    case Class.STX: {
      const bits = SIZE_NAMES[code & 0x18];
      if ((code & 0xe0) !== Mode.ATOMIC) return `*(u${bits} *)${addr(dst, off)} = r${src}`;
      const r = (code & 0x18) === Size.DW ? "r" : "w";
      if (imm === AtomicOp.LOAD_ACQ) return `r${dst} = load_acquire((u${bits} *)${addr(src, off)})`;
      if (imm === AtomicOp.STORE_REL) return `store_release((u${bits} *)${addr(dst, off)}, r${src})`;
      if (imm === AtomicOp.XCHG)
        return r === "r"
          ? `r${src} = xchg_64(r${dst} ${off < 0 ? "-" : "+"} ${Math.abs(off)}, r${src})`
          : `w${src} = xchg32_32(r${dst} ${off < 0 ? "-" : "+"} ${Math.abs(off)}, w${src})`;
      if (imm === AtomicOp.CMPXCHG)
        return r === "r"
          ? `r0 = cmpxchg_64(r${dst} ${off < 0 ? "-" : "+"} ${Math.abs(off)}, r0, r${src})`
          : `w0 = cmpxchg32_32(r${dst} ${off < 0 ? "-" : "+"} ${Math.abs(off)}, w0, w${src})`;
      const names = ATOMIC_NAMES[imm & ~AtomicOp.FETCH];
      if (names === undefined) return `.atomic ${imm}`;
      if (imm & AtomicOp.FETCH)
        return `${r}${src} = atomic_fetch_${names[1]}((u${bits} *)${addr(dst, off)}, ${r}${src})`;
      return `lock *(u${bits} *)${addr(dst, off)} ${names[0]} ${r}${src}`;
    }
    case Class.LD: {
      const mode = code & 0xe0;
      const bits = SIZE_NAMES[code & 0x18];
      if (mode === Mode.ABS) return `r0 = *(u${bits} *)skb[${num(imm)}]`;
      if (mode === Mode.IND)
        return `r0 = *(u${bits} *)skb[r${src}${imm === 0 ? "" : imm < 0 ? ` - ${-imm}` : ` + ${imm}`}]`;
      const imm2 = i.imm2 ?? 0;
      const ref = i.ref;
      switch (src) {
        case PseudoLoad.MAP_FD:
          if (ref?.kind === "map")
            return ref.name.startsWith("id:")
              ? `r${dst} = map[${ref.name}]`
              : `r${dst} = map_fd(${ref.name})`;
          return `r${dst} = map[fd:${imm}]`;
        case PseudoLoad.MAP_VALUE: {
          const plus = imm2 === 0 ? "" : imm2 < 0 ? ` - ${-imm2}` : ` + ${imm2}`;
          if (ref?.kind === "map")
            return ref.name.startsWith("id:")
              ? `r${dst} = map[${ref.name}][0]${valueOffset(imm2)}`
              : `r${dst} = map_value(${ref.name})${plus}`;
          return `r${dst} = map[fd:${imm}][0]${valueOffset(imm2)}`;
        }
        case PseudoLoad.BTF_ID:
          return imm2 === 0 ? `r${dst} = btf_id(${imm})` : `r${dst} = btf_id(${imm}, ${imm2})`;
        case PseudoLoad.FUNC: {
          if (ref?.kind === "func") return `r${dst} = ${ref.name}`;
          if (imm2 !== 0) return `r${dst} = func(${imm}, ${imm2})`;
          const name = targets?.func[slot + 1 + imm];
          return name !== undefined ? `r${dst} = ${name}` : `r${dst} = func(${imm})`;
        }
        case PseudoLoad.MAP_IDX:
          return `r${dst} = map[idx:${imm}]`;
        case PseudoLoad.MAP_IDX_VALUE:
          return `r${dst} = map[idx:${imm}][0]${valueOffset(imm2)}`;
        default:
          return `r${dst} = ${imm64(imm, imm2)} ll`;
      }
    }
    default: {
      const op = code & 0xf0;
      if (op === JmpOp.EXIT) return "exit";
      if (op === JmpOp.CALL) {
        if (code & Source.X) return `callx r${dst}`;
        if (src === PseudoCall.CALL) {
          if (i.ref?.kind === "func") return `call ${i.ref.name}`;
          const name = targets?.func[slot + 1 + imm];
          return name !== undefined ? `call ${name}` : `call pc${rel(imm)}`;
        }
        if (src === PseudoCall.KFUNC_CALL)
          return `call kfunc ${i.ref?.kind === "kfunc" ? i.ref.name : imm}${off === 0 ? "" : `, ${off}`}`;
        if (helperNames) {
          if (i.ref?.kind === "helper" && findHelper(i.ref.name)?.id === imm) return `call ${i.ref.name}`;
          const h = imm > 0 ? HELPERS[imm - 1] : undefined;
          if (h !== undefined && h.id === imm) return `call ${h.name}`;
        }
        return `call ${imm}`;
      }
      const target = jumpTarget(i, slot) as number;
      const label = targets?.jump[target];
      if (op === JmpOp.JA) {
        if (cls === Class.JMP32) return `gotol ${label ?? rel(imm)}`;
        return `goto ${label ?? rel(off)}`;
      }
      if (op === JmpOp.JCOND) return `may_goto ${label ?? rel(off)}`;
      const r = cls === Class.JMP ? "r" : "w";
      const rhs = code & Source.X ? `${r}${src}` : num(imm);
      return `if ${r}${dst} ${JMP_OPS[op] ?? "?"} ${rhs} goto ${label ?? rel(off)}`;
    }
  }
}

function toInsns(input: Uint8Array | readonly Instruction[]): readonly Instruction[] {
  return input instanceof Uint8Array ? decode(input) : input;
}

/**
 * Disassembles to structured records (one per instruction).
 * @throws DecodeError when bytes are given that are not a valid program
 */
export function disassembleRecords(
  input: Uint8Array | readonly Instruction[],
  options: DisassembleOptions = {},
): DisassembledInstruction[] {
  const insns = toInsns(input);
  const slots = slotsOf(insns);
  const targets = options.labels === false ? undefined : findTargets(insns, slots, options);
  const out: DisassembledInstruction[] = [];
  for (let k = 0; k < insns.length; k++) {
    const i = insns[k] as Instruction;
    const slot = slots[k] as number;
    const rec: DisassembledInstruction = {
      slot,
      code: i.code,
      dst: i.dst,
      src: i.src,
      off: i.off,
      imm: i.imm,
      text: formatInstruction(i, slot, targets, options),
    };
    if (i.code === LD_IMM64) rec.imm2 = i.imm2 ?? 0;
    const label = targets?.func[slot] ?? targets?.jump[slot];
    if (label !== undefined) rec.label = label;
    out.push(rec);
  }
  return out;
}

/**
 * Disassembles to kernel-syntax text, one instruction a line. Assembling the text gives the
 * same instructions back.
 * @throws DecodeError when bytes are given that are not a valid program
 */
export function disassemble(
  input: Uint8Array | readonly Instruction[],
  options: DisassembleOptions = {},
): string {
  const insns = toInsns(input);
  const slots = slotsOf(insns);
  const targets = options.labels === false ? undefined : findTargets(insns, slots, options);
  const parts: string[] = [];
  for (let k = 0; k < insns.length; k++) {
    const i = insns[k] as Instruction;
    const slot = slots[k] as number;
    if (targets !== undefined) {
      const fn = targets.func[slot];
      if (fn !== undefined) parts.push(`${k === 0 ? "" : "\n"}.func ${fn}\n`);
      else {
        const label = targets.jump[slot];
        if (label !== undefined) parts.push(`${label}:\n`);
      }
    }
    parts.push(`    ${formatInstruction(i, slot, targets, options)}\n`);
  }
  return parts.join("");
}
