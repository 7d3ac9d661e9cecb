/**
 * The disassembler: bytes or instructions to kernel-syntax text that the assembler (and
 * llvm-mc) read back into the same bytes. Jump targets get labels (`L12:`), bpf-to-bpf call
 * targets become `.func` blocks, helper calls are named, and pseudo loads are spelled out.
 *
 * The text is written byte by byte into one growing buffer and decoded once at the end, and
 * bytes are checked and read in place, so disassembling allocates nothing per instruction.
 */

import { decode } from "./decode.js";
import { findHelper, HELPERS } from "./helpers.js";
import { Class, type Instruction, LD_IMM64, type Reference } from "./insn.js";
import { AluOp, AtomicOp, JmpOp, Mode, PseudoCall, PseudoLoad, Size, Source } from "./opcode.js";
import { encodingProblem } from "./validate.js";

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

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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

/** A slot that a jump lands on. */
const JUMP_TARGET = 1;
/** A slot that a call or a function pointer lands on. */
const FUNC_TARGET = 2;
/** A slot where an instruction starts. */
const START = 4;

/** ASCII text as bytes, for writing constant pieces without reading a string. */
function ascii(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let k = 0; k < s.length; k++) b[k] = s.charCodeAt(k);
  return b;
}

/** `(u8 *)` .. `(u64 *)` by `size >> 3`, then `(s8 *)` .. by 4 + `size >> 3`. */
const SIZES = ["(u32 *)", "(u16 *)", "(u8 *)", "(u64 *)", "(s32 *)", "(s16 *)", "(s8 *)", "(s64 *)"].map(
  ascii,
);

/** Constant pieces of text. */
const T_COMMA = ascii(", ");
const T_ASSIGN = ascii(" = ");
const T_VALUE0 = ascii("][0]");
const T_MAP_IDX = ascii("map[idx:");
const T_MAP_FD = ascii("map[fd:");
const T_MAP = ascii("map[");
const T_FUNC_CALL = ascii("func(");
const T_STORE_RELEASE = ascii("store_release(");
const T_SKB = ascii("skb[");
const T_R0_LOAD = ascii("r0 = *");
const T_PC = ascii("pc");
const T_MAY_GOTO = ascii("may_goto ");
const T_MAP_VALUE = ascii("map_value(");
const T_MAP_FD_CALL = ascii("map_fd(");
const T_LOCK = ascii("lock *");
const T_KFUNC = ascii("kfunc ");
const T_IF = ascii("if ");
const T_GOTOL = ascii("gotol ");
const T_GOTO = ascii("goto ");
const T_EXIT = ascii("exit");
const T_CALLX = ascii("callx ");
const T_CALL = ascii("call ");
const T_BTF_ID = ascii("btf_id(");
const T_ADDR_SPACE_CAST = ascii("addr_space_cast(");
const T_ATOMIC = ascii(".atomic ");
const T_SEXT = ascii("(s");
const T_LL = ascii(" ll");
const T_THEN_GOTO = ascii(" goto ");
const T_LOAD_ACQUIRE = ascii(" = load_acquire(");
const T_ATOMIC_FETCH = ascii(" = atomic_fetch_");
const T_NEGATE = ascii(" = -");
const T_LOAD = ascii(" = *");
const T_UNKNOWN_ALU = ascii("?=");
const T_UNKNOWN_JMP = ascii("?");
/** {@link ALU_OPS} and {@link JMP_OPS} as bytes, by `op >> 4`. */
const ALU_OP_BYTES: (Uint8Array | undefined)[] = [];
const JMP_OP_BYTES: (Uint8Array | undefined)[] = [];
for (const [op, text] of Object.entries(ALU_OPS)) ALU_OP_BYTES[Number(op) >> 4] = ascii(text);
for (const [op, text] of Object.entries(JMP_OPS)) JMP_OP_BYTES[Number(op) >> 4] = ascii(text);

/** Room every instruction gets before it is written; names written with `str` check their own. */
const LINE_ROOM = 256;

/**
 * The text being written, as UTF-8 in one growing byte buffer, and what labels it: a mark per
 * slot (JUMP_TARGET, FUNC_TARGET, START bits; one extra slot past the end), function names, and
 * whether helpers are named. Each instruction first makes LINE_ROOM bytes of room
 * ({@link Text.room}); the number and register writers then write without checking.
 */
class Text {
  buf: Uint8Array;
  pos = 0;
  marks: Uint8Array | undefined = undefined;
  functionNames: ReadonlyMap<number, string> | undefined = undefined;
  helperNames = true;

  constructor(capacity: number) {
    this.buf = new Uint8Array(Math.max(capacity, LINE_ROOM));
  }

  private grow(n: number): void {
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    bigger.set(this.buf.subarray(0, this.pos));
    this.buf = bigger;
  }

  /** Makes room for one instruction's fixed-size pieces. */
  room(): void {
    if (this.pos + LINE_ROOM > this.buf.length) this.grow(LINE_ROOM);
  }

  byte(c: number): void {
    this.buf[this.pos++] = c;
  }

  /** Constant ASCII bytes. */
  put(bytes: Uint8Array): void {
    const buf = this.buf;
    let pos = this.pos;
    for (let k = 0; k < bytes.length; k++) buf[pos++] = bytes[k] as number;
    this.pos = pos;
  }

  /** Any string (names may be any Unicode). */
  str(s: string): void {
    const n = s.length;
    if (this.pos + n + LINE_ROOM > this.buf.length) this.grow(n + LINE_ROOM);
    const buf = this.buf;
    let pos = this.pos;
    for (let k = 0; k < n; k++) {
      const c = s.charCodeAt(k);
      if (c >= 0x80) {
        this.pos = pos;
        this.wide(s.slice(k));
        return;
      }
      buf[pos++] = c;
    }
    this.pos = pos;
  }

  private wide(s: string): void {
    if (this.pos + s.length * 3 + LINE_ROOM > this.buf.length) this.grow(s.length * 3 + LINE_ROOM);
    this.pos += encoder.encodeInto(s, this.buf.subarray(this.pos)).written;
  }

  /** An integer in 0..2**32-1 in decimal. */
  private digits(v: number): void {
    const buf = this.buf;
    const pos = this.pos;
    if (v < 10) {
      buf[pos] = 48 + v;
      this.pos = pos + 1;
      return;
    }
    if (v < 100) {
      const q = (v / 10) | 0;
      buf[pos] = 48 + q;
      buf[pos + 1] = 48 + v - q * 10;
      this.pos = pos + 2;
      return;
    }
    const len =
      v < 1e3 ? 3 : v < 1e4 ? 4 : v < 1e5 ? 5 : v < 1e6 ? 6 : v < 1e7 ? 7 : v < 1e8 ? 8 : v < 1e9 ? 9 : 10;
    let at = pos + len;
    this.pos = at;
    if (v > 0x7fffffff) {
      const q = Math.floor(v / 10);
      buf[--at] = 48 + v - q * 10;
      v = q;
    }
    do {
      const q = (v / 10) | 0;
      buf[--at] = 48 + v - q * 10;
      v = q;
    } while (v > 0);
  }

  /** A number in decimal, as `String(v)` writes it. */
  dec(v: number): void {
    if ((v | 0) === v) {
      if (v < 0) {
        this.buf[this.pos++] = 45;
        this.digits(-v);
      } else this.digits(v);
    } else if (v >= 0 && v <= 0xffffffff && Math.floor(v) === v) this.digits(v);
    else if (v < 0 && v >= -0xffffffff && Math.floor(v) === v) {
      this.buf[this.pos++] = 45;
      this.digits(-v);
    } else this.str(String(v));
  }

  /** Lower-case hexadecimal digits of an integer in 0..2**32-1; at least `width` of them. */
  hexDigits(v: number, width: number): void {
    let len = (35 - Math.clz32(v)) >> 2;
    if (len < width) len = width;
    const buf = this.buf;
    let at = this.pos + len;
    this.pos = at;
    for (let k = 0; k < len; k++) {
      const d = v & 15;
      buf[--at] = d < 10 ? 48 + d : 87 + d;
      v >>>= 4;
    }
  }

  /** An immediate as the kernel prints it: negative and small in decimal, else `0x` hexadecimal. */
  num(v: number): void {
    if (v < 10) this.dec(v);
    else if ((v | 0) === v || (v <= 0xffffffff && Math.floor(v) === v)) {
      const buf = this.buf;
      buf[this.pos] = 48;
      buf[this.pos + 1] = 120;
      this.pos += 2;
      this.hexDigits(v, 1);
    } else this.str(`0x${v.toString(16)}`);
  }

  /** `rN` / `wN` */
  reg(wide: boolean, n: number): void {
    const buf = this.buf;
    const pos = this.pos;
    buf[pos] = wide ? 114 : 119;
    if (n >= 0 && n < 10) {
      buf[pos + 1] = 48 + n;
      this.pos = pos + 2;
    } else {
      this.pos = pos + 1;
      this.dec(n);
    }
  }

  /** `+N` or `-N` */
  rel(v: number): void {
    if (!(v < 0)) this.buf[this.pos++] = 43;
    this.dec(v);
  }

  /** `(rN + off)` / `(rN - off)` */
  addr(reg: number, off: number): void {
    const buf = this.buf;
    const pos = this.pos;
    buf[pos] = 40;
    buf[pos + 1] = 114;
    if (reg >= 0 && reg < 10) {
      buf[pos + 2] = 48 + reg;
      this.pos = pos + 3;
    } else {
      this.pos = pos + 2;
      this.dec(reg);
    }
    this.spaced(off);
    this.buf[this.pos++] = 41;
  }

  /** ` + N` / ` - N` (` + 0` for 0) */
  spaced(v: number): void {
    const buf = this.buf;
    const pos = this.pos;
    buf[pos] = 32;
    buf[pos + 1] = v < 0 ? 45 : 43;
    buf[pos + 2] = 32;
    this.pos = pos + 3;
    this.dec(v < 0 ? -v : v);
  }

  /** ` + N` / ` - N`, nothing for 0 */
  spacedOffset(v: number): void {
    if (v !== 0) this.spaced(v);
  }

  /** `+N` / `-N`, nothing for 0 */
  valueOffset(v: number): void {
    if (v !== 0) this.rel(v);
  }

  /** The 64-bit value `hi:lo` (both taken as unsigned 32-bit) as `0x` hexadecimal. */
  imm64(lo: number, hi: number): void {
    this.byte(48);
    this.byte(120);
    const h = hi >>> 0;
    if (h === 0) this.hexDigits(lo >>> 0, 1);
    else {
      this.hexDigits(h, 1);
      this.hexDigits(lo >>> 0, 8);
    }
  }

  /** `(u8 *)` .. `(u64 *)`, `(s8 *)` ..: the access size of a load or store opcode. */
  size(code: number, signed: boolean): void {
    this.put(SIZES[(signed ? 4 : 0) + ((code & 0x18) >> 3)] as Uint8Array);
  }

  /** Mark of a slot where an instruction starts (0 elsewhere, outside the program, or without labels). */
  mark(slot: number): number {
    const marks = this.marks;
    if (marks === undefined || !(slot >= 0 && slot < marks.length)) return 0;
    const m = marks[slot] as number;
    return m & START ? m & (JUMP_TARGET | FUNC_TARGET) : 0;
  }

  /** Writes the label of a slot (`fnN` or its given name, or `LN`); false when it has none. */
  label(slot: number): boolean {
    const mark = this.mark(slot);
    if (mark & FUNC_TARGET) {
      const name = this.functionNames?.get(slot);
      if (name !== undefined) this.str(name);
      else {
        this.byte(102);
        this.byte(110);
        this.digits(slot);
      }
      return true;
    }
    if (mark & JUMP_TARGET) {
      this.buf[this.pos++] = 76;
      this.digits(slot);
      return true;
    }
    return false;
  }

  /** Writes the function name of a slot; false when it is not a function. */
  functionName(slot: number): boolean {
    return (this.mark(slot) & FUNC_TARGET) !== 0 && this.label(slot);
  }

  labelOrRel(slot: number, rel: number): void {
    if (!this.label(slot)) this.rel(rel);
  }

  /** Everything written since `from`, as a string. */
  text(from = 0): string {
    return decoder.decode(this.buf.subarray(from, this.pos));
  }
}

function formatAlu(t: Text, code: number, dst: number, src: number, off: number, imm: number): void {
  const wide = (code & 7) === Class.ALU64;
  const op = code & 0xf0;
  const x = (code & Source.X) !== 0;
  if (op === AluOp.NEG) {
    t.reg(wide, dst);
    t.put(T_NEGATE);
    t.reg(wide, dst);
    return;
  }
  if (op === AluOp.END) {
    t.reg(true, dst);
    t.str(wide ? " = bswap" : x ? " = be" : " = le");
    t.dec(imm);
    t.byte(32);
    t.reg(true, dst);
    return;
  }
  if (op === AluOp.MOV) {
    t.reg(wide, dst);
    t.put(T_ASSIGN);
    if (!x) t.num(imm);
    else if (off === 0) t.reg(wide, src);
    else if (off === 1 && wide) {
      t.put(T_ADDR_SPACE_CAST);
      t.reg(true, src);
      t.put(T_COMMA);
      t.dec(imm >>> 16);
      t.put(T_COMMA);
      t.dec(imm & 0xffff);
      t.byte(41);
    } else {
      t.put(T_SEXT);
      t.dec(off);
      t.byte(41);
      t.reg(wide, src);
    }
    return;
  }
  t.reg(wide, dst);
  t.byte(32);
  if (off === 1 && (op === AluOp.DIV || op === AluOp.MOD)) t.byte(115);
  t.put(ALU_OP_BYTES[op >> 4] ?? T_UNKNOWN_ALU);
  t.byte(32);
  if (x) t.reg(wide, src);
  else t.num(imm);
}

function formatAtomic(t: Text, code: number, dst: number, src: number, off: number, imm: number): void {
  const wide = (code & 0x18) === Size.DW;
  if (imm === AtomicOp.LOAD_ACQ) {
    t.reg(true, dst);
    t.put(T_LOAD_ACQUIRE);
    t.size(code, false);
    t.addr(src, off);
    t.byte(41);
    return;
  }
  if (imm === AtomicOp.STORE_REL) {
    t.put(T_STORE_RELEASE);
    t.size(code, false);
    t.addr(dst, off);
    t.put(T_COMMA);
    t.reg(true, src);
    t.byte(41);
    return;
  }
  if (imm === AtomicOp.XCHG || imm === AtomicOp.CMPXCHG) {
    const cmp = imm === AtomicOp.CMPXCHG;
    t.reg(wide, cmp ? 0 : src);
    t.str(cmp ? (wide ? " = cmpxchg_64(" : " = cmpxchg32_32(") : wide ? " = xchg_64(" : " = xchg32_32(");
    t.reg(true, dst);
    t.str(off < 0 ? " - " : " + ");
    t.dec(Math.abs(off));
    t.put(T_COMMA);
    if (cmp) {
      t.reg(wide, 0);
      t.put(T_COMMA);
    }
    t.reg(wide, src);
    t.byte(41);
    return;
  }
  const names = ATOMIC_NAMES[imm & ~AtomicOp.FETCH];
  if (names === undefined) {
    t.put(T_ATOMIC);
    t.dec(imm);
    return;
  }
  if (imm & AtomicOp.FETCH) {
    t.reg(wide, src);
    t.put(T_ATOMIC_FETCH);
    t.str(names[1]);
    t.byte(40);
    t.size(code, false);
    t.addr(dst, off);
    t.put(T_COMMA);
    t.reg(wide, src);
    t.byte(41);
    return;
  }
  t.put(T_LOCK);
  t.size(code, false);
  t.addr(dst, off);
  t.byte(32);
  t.str(names[0]);
  t.byte(32);
  t.reg(wide, src);
}

function formatLd(
  t: Text,
  code: number,
  dst: number,
  src: number,
  imm: number,
  imm2: number,
  ref: Reference | undefined,
  slot: number,
): void {
  const mode = code & 0xe0;
  if (mode === Mode.ABS || mode === Mode.IND) {
    t.put(T_R0_LOAD);
    t.size(code, false);
    t.put(T_SKB);
    if (mode === Mode.ABS) t.num(imm);
    else {
      t.reg(true, src);
      t.spacedOffset(imm);
    }
    t.byte(93);
    return;
  }
  t.reg(true, dst);
  t.put(T_ASSIGN);
  switch (src) {
    case PseudoLoad.MAP_FD:
      if (ref?.kind === "map") {
        if (ref.name.startsWith("id:")) {
          t.put(T_MAP);
          t.str(ref.name);
          t.byte(93);
        } else {
          t.put(T_MAP_FD_CALL);
          t.str(ref.name);
          t.byte(41);
        }
      } else {
        t.put(T_MAP_FD);
        t.dec(imm);
        t.byte(93);
      }
      return;
    case PseudoLoad.MAP_VALUE:
      if (ref?.kind === "map") {
        if (ref.name.startsWith("id:")) {
          t.put(T_MAP);
          t.str(ref.name);
          t.put(T_VALUE0);
          t.valueOffset(imm2);
        } else {
          t.put(T_MAP_VALUE);
          t.str(ref.name);
          t.byte(41);
          t.spacedOffset(imm2);
        }
      } else {
        t.put(T_MAP_FD);
        t.dec(imm);
        t.put(T_VALUE0);
        t.valueOffset(imm2);
      }
      return;
    case PseudoLoad.BTF_ID:
      t.put(T_BTF_ID);
      t.dec(imm);
      if (imm2 !== 0) {
        t.put(T_COMMA);
        t.dec(imm2);
      }
      t.byte(41);
      return;
    case PseudoLoad.FUNC:
      if (ref?.kind === "func") t.str(ref.name);
      else if (imm2 !== 0) {
        t.put(T_FUNC_CALL);
        t.dec(imm);
        t.put(T_COMMA);
        t.dec(imm2);
        t.byte(41);
      } else if (!t.functionName(slot + 1 + imm)) {
        t.put(T_FUNC_CALL);
        t.dec(imm);
        t.byte(41);
      }
      return;
    case PseudoLoad.MAP_IDX:
      t.put(T_MAP_IDX);
      t.dec(imm);
      t.byte(93);
      return;
    case PseudoLoad.MAP_IDX_VALUE:
      t.put(T_MAP_IDX);
      t.dec(imm);
      t.put(T_VALUE0);
      t.valueOffset(imm2);
      return;
    default:
      t.imm64(imm, imm2);
      t.put(T_LL);
  }
}

/** Helper names as bytes, by id, made on first use. */
const HELPER_NAMES: (Uint8Array | undefined)[] = [];

function formatCall(
  t: Text,
  code: number,
  dst: number,
  src: number,
  off: number,
  imm: number,
  ref: Reference | undefined,
  slot: number,
): void {
  if (code & Source.X) {
    t.put(T_CALLX);
    t.reg(true, dst);
    return;
  }
  t.put(T_CALL);
  if (src === PseudoCall.CALL) {
    if (ref?.kind === "func") t.str(ref.name);
    else if (!t.functionName(slot + 1 + imm)) {
      t.put(T_PC);
      t.rel(imm);
    }
    return;
  }
  if (src === PseudoCall.KFUNC_CALL) {
    t.put(T_KFUNC);
    if (ref?.kind === "kfunc") t.str(ref.name);
    else t.dec(imm);
    if (off !== 0) {
      t.put(T_COMMA);
      t.dec(off);
    }
    return;
  }
  if (t.helperNames) {
    if (ref?.kind === "helper" && findHelper(ref.name)?.id === imm) {
      t.str(ref.name);
      return;
    }
    const h = imm > 0 ? HELPERS[imm - 1] : undefined;
    if (h !== undefined && h.id === imm) {
      t.put((HELPER_NAMES[imm] ??= ascii(h.name)) as Uint8Array);
      return;
    }
  }
  t.dec(imm);
}

/**
 * Writes one instruction in kernel syntax; `imm2` is 0 when the instruction has none. The caller
 * makes room first ({@link Text.room}).
 */
function format(
  t: Text,
  code: number,
  dst: number,
  src: number,
  off: number,
  imm: number,
  imm2: number,
  ref: Reference | undefined,
  slot: number,
): void {
  const cls = code & 7;
  switch (cls) {
    case Class.ALU:
    case Class.ALU64:
      formatAlu(t, code, dst, src, off, imm);
      return;
    case Class.LDX:
      t.reg(true, dst);
      t.put(T_LOAD);
      t.size(code, (code & 0xe0) === Mode.MEMSX);
      t.addr(src, off);
      return;
    case Class.ST:
      t.byte(42);
      t.size(code, false);
      t.addr(dst, off);
      t.put(T_ASSIGN);
      t.num(imm);
      return;
    case Class.STX:
      if ((code & 0xe0) === Mode.ATOMIC) formatAtomic(t, code, dst, src, off, imm);
      else {
        t.byte(42);
        t.size(code, false);
        t.addr(dst, off);
        t.put(T_ASSIGN);
        t.reg(true, src);
      }
      return;
    case Class.LD:
      formatLd(t, code, dst, src, imm, imm2, ref, slot);
      return;
  }
  const op = code & 0xf0;
  if (op === JmpOp.EXIT) {
    t.put(T_EXIT);
    return;
  }
  if (op === JmpOp.CALL) {
    formatCall(t, code, dst, src, off, imm, ref, slot);
    return;
  }
  if (op === JmpOp.JA) {
    if (cls === Class.JMP32) {
      t.put(T_GOTOL);
      t.labelOrRel(slot + 1 + imm, imm);
    } else {
      t.put(T_GOTO);
      t.labelOrRel(slot + 1 + off, off);
    }
    return;
  }
  if (op === JmpOp.JCOND) {
    t.put(T_MAY_GOTO);
    t.labelOrRel(slot + 1 + off, off);
    return;
  }
  const wide = cls === Class.JMP;
  t.put(T_IF);
  t.reg(wide, dst);
  t.byte(32);
  t.put(JMP_OP_BYTES[op >> 4] ?? T_UNKNOWN_JMP);
  t.byte(32);
  if (code & Source.X) t.reg(wide, src);
  else t.num(imm);
  t.put(T_THEN_GOTO);
  t.labelOrRel(slot + 1 + off, off);
}

function formatListed(t: Text, i: Instruction, slot: number): void {
  format(t, i.code, i.dst, i.src, i.off, i.imm, i.imm2 ?? 0, i.ref, slot);
}

/** Reads a little-endian signed 32-bit value. */
function int32At(b: Uint8Array, at: number): number {
  return (
    (b[at] as number) |
    ((b[at + 1] as number) << 8) |
    ((b[at + 2] as number) << 16) |
    ((b[at + 3] as number) << 24)
  );
}

/** Reads a little-endian signed 16-bit value. */
function int16At(b: Uint8Array, at: number): number {
  return (((b[at] as number) | ((b[at + 1] as number) << 8)) << 16) >> 16;
}

/**
 * Checks the instruction at `at` and writes it.
 * @throws DecodeError when it is not valid
 */
function formatAt(t: Text, b: Uint8Array, at: number, slot: number): void {
  const code = b[at] as number;
  const regs = b[at + 1] as number;
  const off = (((b[at + 2] as number) | ((b[at + 3] as number) << 8)) << 16) >> 16;
  const imm =
    (b[at + 4] as number) |
    ((b[at + 5] as number) << 8) |
    ((b[at + 6] as number) << 16) |
    ((b[at + 7] as number) << 24);
  let imm2 = 0;
  if (code === LD_IMM64) {
    if (at + 8 >= b.length || b[at + 8] !== 0 || b[at + 9] !== 0 || b[at + 10] !== 0 || b[at + 11] !== 0)
      refuse(b);
    imm2 = int32At(b, at + 12);
  }
  const dst = regs & 0x0f;
  const src = regs >> 4;
  if (encodingProblem(code, dst, src, off, imm, imm2) !== undefined) refuse(b);
  format(t, code, dst, src, off, imm, imm2, undefined, slot);
}

/** Slot a jump lands on, or -1 when the instruction is not a jump. */
function jumpTarget(code: number, off: number, imm: number, slot: number): number {
  const cls = code & 7;
  if (cls !== Class.JMP && cls !== Class.JMP32) return -1;
  const op = code & 0xf0;
  if (op === JmpOp.CALL || op === JmpOp.EXIT) return -1;
  if (cls === Class.JMP32 && op === JmpOp.JA) return slot + 1 + imm;
  return slot + 1 + off;
}

/** Slot a call or a function pointer (without a reference) lands on, or -1. */
function funcTarget(code: number, src: number, imm: number, imm2: number, slot: number): number {
  if (code === (JmpOp.CALL | Class.JMP) && src === PseudoCall.CALL) return slot + 1 + imm;
  if (code === LD_IMM64 && src === PseudoLoad.FUNC && imm2 === 0) return slot + 1 + imm;
  return -1;
}

/** Marks what instruction `slot` jumps or calls to (in range; starts are checked later). */
function markTargets(
  marks: Uint8Array,
  code: number,
  src: number,
  off: number,
  imm: number,
  imm2: number,
  hasRef: boolean,
  slot: number,
): void {
  const total = marks.length - 1;
  const f = hasRef ? -1 : funcTarget(code, src, imm, imm2, slot);
  if (f >= 0 && f < total) marks[f] = (marks[f] as number) | FUNC_TARGET;
  const j = jumpTarget(code, off, imm, slot);
  if (j >= 0 && j < total) marks[j] = (marks[j] as number) | JUMP_TARGET;
}

/** The program being disassembled: bytes checked in place, or a list of instructions. */
interface Program {
  /** the list, or undefined when reading `bytes` */
  insns: readonly Instruction[] | undefined;
  bytes: Uint8Array;
  count: number;
  /** slot of each instruction */
  slots: Int32Array;
  /** JUMP_TARGET | FUNC_TARGET | START bits by slot (one extra slot past the end) */
  marks: Uint8Array;
}

/**
 * Finds each instruction's slot in the bytes and marks the targets, without checking the
 * instructions: each is checked as it is formatted ({@link formatAt}), so its fields are read
 * once for both.
 * @throws DecodeError when the length is not whole slots
 */
function programOfBytes(b: Uint8Array): Program {
  const length = b.length;
  if (length % 8 !== 0) refuse(b);
  const total = length >> 3;
  const slots = new Int32Array(total);
  const marks = new Uint8Array(total + 1);
  let count = 0;
  for (let at = 0; at < length; at += 8) {
    const code = b[at] as number;
    const slot = at >> 3;
    slots[count++] = slot;
    marks[slot] = (marks[slot] as number) | START;
    const cls = code & 7;
    if (cls === Class.JMP || cls === Class.JMP32) {
      const op = code & 0xf0;
      let target = -1;
      let mark = JUMP_TARGET;
      if (op === JmpOp.CALL) {
        if (code === (JmpOp.CALL | Class.JMP) && (b[at + 1] as number) >> 4 === PseudoCall.CALL) {
          target = slot + 1 + int32At(b, at + 4);
          mark = FUNC_TARGET;
        }
      } else if (op !== JmpOp.EXIT)
        target =
          slot + 1 + (cls === Class.JMP32 && op === JmpOp.JA ? int32At(b, at + 4) : int16At(b, at + 2));
      if (target >= 0 && target < total) marks[target] = (marks[target] as number) | mark;
    } else if (code === LD_IMM64) {
      if ((b[at + 1] as number) >> 4 === PseudoLoad.FUNC && at + 16 <= length && int32At(b, at + 12) === 0) {
        const target = slot + 1 + int32At(b, at + 4);
        if (target >= 0 && target < total) marks[target] = (marks[target] as number) | FUNC_TARGET;
      }
      at += 8;
    }
  }
  return { insns: undefined, bytes: b, count, slots, marks };
}

/**
 * Reports what is wrong with bytes found not to be a valid program, through {@link decode}, so
 * the error is the decoder's own.
 * @throws DecodeError
 */
function refuse(b: Uint8Array): never {
  decode(b);
  throw new Error("internal error: the disassembler refused bytes the decoder accepts");
}

function programOfList(insns: readonly Instruction[]): Program {
  const slots = new Int32Array(insns.length);
  let total = 0;
  for (let k = 0; k < insns.length; k++) {
    slots[k] = total;
    total += (insns[k] as Instruction).code === LD_IMM64 ? 2 : 1;
  }
  const marks = new Uint8Array(total + 1);
  for (let k = 0; k < insns.length; k++) {
    const i = insns[k] as Instruction;
    const slot = slots[k] as number;
    marks[slot] = (marks[slot] as number) | START;
    markTargets(marks, i.code, i.src, i.off, i.imm, i.imm2 ?? 0, i.ref !== undefined, slot);
  }
  return { insns, bytes: new Uint8Array(0), count: insns.length, slots, marks };
}

function programOf(input: Uint8Array | readonly Instruction[]): Program {
  return input instanceof Uint8Array ? programOfBytes(input) : programOfList(input);
}

function textFor(p: Program, capacity: number, options: DisassembleOptions): Text {
  const t = new Text(capacity);
  if (options.labels !== false) t.marks = p.marks;
  t.functionNames = options.functionNames;
  t.helperNames = options.helperNames !== false;
  return t;
}

function formatNth(t: Text, p: Program, k: number): void {
  const slot = p.slots[k] as number;
  if (p.insns !== undefined) formatListed(t, p.insns[k] as Instruction, slot);
  else formatAt(t, p.bytes, slot * 8, slot);
}

/** Shared by {@link formatInstruction}. */
const single = new Text(256);

/**
 * Formats one instruction in kernel syntax. Jumps and calls print as offsets (`goto +3`); a
 * whole program gets labels from {@link disassemble}. (`slot` and `labels` are accepted for
 * compatibility and change nothing.)
 */
export function formatInstruction(
  i: Instruction,
  slot = 0,
  labels?: undefined,
  options: DisassembleOptions = {},
): string {
  void slot;
  void labels;
  single.pos = 0;
  single.helperNames = options.helperNames !== false;
  single.room();
  formatListed(single, i, 0);
  return single.text();
}

/**
 * Disassembles to structured records (one per instruction).
 * @throws DecodeError when bytes are given that are not a valid program
 */
export function disassembleRecords(
  input: Uint8Array | readonly Instruction[],
  options: DisassembleOptions = {},
): DisassembledInstruction[] {
  const p = programOf(input);
  const t = textFor(p, 256, options);
  const out: DisassembledInstruction[] = [];
  for (let k = 0; k < p.count; k++) {
    const slot = p.slots[k] as number;
    const at = slot * 8;
    const b = p.bytes;
    const i: Instruction = p.insns?.[k] ?? {
      code: b[at] as number,
      dst: (b[at + 1] as number) & 0x0f,
      src: (b[at + 1] as number) >> 4,
      off: int16At(b, at + 2),
      imm: int32At(b, at + 4),
    };
    t.pos = 0;
    t.room();
    formatNth(t, p, k);
    const rec: DisassembledInstruction = {
      slot,
      code: i.code,
      dst: i.dst,
      src: i.src,
      off: i.off,
      imm: i.imm,
      text: t.text(),
    };
    if (i.code === LD_IMM64) rec.imm2 = p.insns !== undefined ? (i.imm2 ?? 0) : int32At(b, at + 12);
    const start = t.pos;
    if (t.label(slot)) rec.label = t.text(start);
    out.push(rec);
  }
  return out;
}

const FUNC = ascii(".func ");

function writeProgram(input: Uint8Array | readonly Instruction[], options: DisassembleOptions): Text {
  const p = programOf(input);
  const t = textFor(p, p.count * 28, options);
  const { insns, bytes, slots } = p;
  const marks = t.marks;
  for (let k = 0; k < p.count; k++) {
    const slot = slots[k] as number;
    t.room();
    const m = marks === undefined ? 0 : (marks[slot] as number);
    const mark = m & START ? m : 0;
    if (mark & FUNC_TARGET) {
      if (k !== 0) t.byte(10);
      t.put(FUNC);
      t.label(slot);
      t.byte(10);
    } else if (mark & JUMP_TARGET) {
      t.label(slot);
      t.byte(58);
      t.byte(10);
    }
    const buf = t.buf;
    const pos = t.pos;
    buf[pos] = 32;
    buf[pos + 1] = 32;
    buf[pos + 2] = 32;
    buf[pos + 3] = 32;
    t.pos = pos + 4;
    if (insns !== undefined) formatListed(t, insns[k] as Instruction, slot);
    else formatAt(t, bytes, slot * 8, slot);
    t.buf[t.pos++] = 10;
  }
  return t;
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
  return writeProgram(input, options).text();
}

/**
 * The text of {@link disassemble} as UTF-8 bytes, for writing out without making a string.
 * @throws DecodeError when bytes are given that are not a valid program
 */
export function disassembleUtf8(
  input: Uint8Array | readonly Instruction[],
  options: DisassembleOptions = {},
): Uint8Array {
  const t = writeProgram(input, options);
  return t.buf.subarray(0, t.pos);
}
