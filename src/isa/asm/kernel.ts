/**
 * The kernel dialect: the syntax the verifier log, bpftool and llvm-objdump print
 * (`r1 = *(u32 *)(r6 + 4)`, `if w1 s< w2 goto +1`, `lock *(u64 *)(r10 - 8) += r1` ...).
 * One call parses one line's tokens into one instruction.
 */

import { Class, type Instruction, LD_IMM64 } from "../insn.js";
import { AluOp, AtomicOp, JmpOp, Mode, Opcode, PseudoCall, PseudoLoad, Size, Source } from "../opcode.js";
import { type AsmContext, Fix, LineError } from "./context.js";
import { OP_TEXT, Op, Tok } from "./lexer.js";
import { type KernelNames, NameError, UAPI_CONSTANTS } from "./names.js";
import { fitsImm32, fitsOff16, negate, parseCIntegerAt, splitImm64 } from "./numbers.js";

/** A register operand: number and width (false for `wN`). */
interface Reg {
  n: number;
  wide: boolean;
}

const ALU_ASSIGN: Record<number, number> = {
  [Op.ADD_ASSIGN]: AluOp.ADD,
  [Op.SUB_ASSIGN]: AluOp.SUB,
  [Op.MUL_ASSIGN]: AluOp.MUL,
  [Op.DIV_ASSIGN]: AluOp.DIV,
  [Op.SDIV_ASSIGN]: AluOp.DIV,
  [Op.MOD_ASSIGN]: AluOp.MOD,
  [Op.SMOD_ASSIGN]: AluOp.MOD,
  [Op.OR_ASSIGN]: AluOp.OR,
  [Op.AND_ASSIGN]: AluOp.AND,
  [Op.XOR_ASSIGN]: AluOp.XOR,
  [Op.LSH_ASSIGN]: AluOp.LSH,
  [Op.RSH_ASSIGN]: AluOp.RSH,
  [Op.ARSH_ASSIGN]: AluOp.ARSH,
};

const JMP_CMP: Record<number, number> = {
  [Op.EQ]: JmpOp.JEQ,
  [Op.NE]: JmpOp.JNE,
  [Op.GT]: JmpOp.JGT,
  [Op.GE]: JmpOp.JGE,
  [Op.LT]: JmpOp.JLT,
  [Op.LE]: JmpOp.JLE,
  [Op.SGT]: JmpOp.JSGT,
  [Op.SGE]: JmpOp.JSGE,
  [Op.SLT]: JmpOp.JSLT,
  [Op.SLE]: JmpOp.JSLE,
  [Op.AMP]: JmpOp.JSET,
};

const ATOMIC_ASSIGN: Record<number, number> = {
  [Op.ADD_ASSIGN]: AtomicOp.ADD,
  [Op.OR_ASSIGN]: AtomicOp.OR,
  [Op.AND_ASSIGN]: AtomicOp.AND,
  [Op.XOR_ASSIGN]: AtomicOp.XOR,
};

const ATOMIC_FETCH: Record<string, number> = {
  add: AtomicOp.ADD | AtomicOp.FETCH,
  or: AtomicOp.OR | AtomicOp.FETCH,
  and: AtomicOp.AND | AtomicOp.FETCH,
  xor: AtomicOp.XOR | AtomicOp.FETCH,
};

/** Access size spelled `u8`..`u64`/`s8`..`s32`: the size bits and whether it sign-extends. */
const SIZES: Record<string, [number, boolean, number]> = {
  u8: [Size.B, false, 8],
  u16: [Size.H, false, 16],
  u32: [Size.W, false, 32],
  u64: [Size.DW, false, 64],
  s8: [Size.B, true, 8],
  s16: [Size.H, true, 16],
  s32: [Size.W, true, 32],
};

/** The 22 registers, made once: `REGS[n]` is rN, `REGS[11 + n]` is wN. */
const REGS: readonly Reg[] = Array.from({ length: 22 }, (_, k) => Object.freeze({ n: k % 11, wide: k < 11 }));

/** The access size spelled by `src[s, e)` (`u8`..`u64`, `s8`..`s32`), without making a string. */
function sizeAt(src: string, s: number, e: number): [number, boolean, number] | undefined {
  const c = src.charCodeAt(s);
  if (c !== 117 && c !== 115) return undefined;
  const signed = c === 115;
  const len = e - s;
  const d0 = src.charCodeAt(s + 1);
  if (len === 2 && d0 === 56) return signed ? SIZES.s8 : SIZES.u8;
  if (len !== 3) return undefined;
  const d1 = src.charCodeAt(s + 2);
  if (d0 === 49 && d1 === 54) return signed ? SIZES.s16 : SIZES.u16;
  if (d0 === 51 && d1 === 50) return signed ? SIZES.s32 : SIZES.u32;
  if (d0 === 54 && d1 === 52 && !signed) return SIZES.u64;
  return undefined;
}

/** Instruction words, so that a line's first word is found without making a string. */
const WORDS = ["if", "goto", "call", "exit", "lock", "callx", "gotol", "may_goto", "store_release"];
/** Words that may follow `rN =`. */
const RHS_WORDS = [
  "bswap16",
  "bswap32",
  "bswap64",
  "be16",
  "be32",
  "be64",
  "le16",
  "le32",
  "le64",
  "load_acquire",
  "addr_space_cast",
  "xchg_64",
  "xchg32_32",
  "cmpxchg_64",
  "cmpxchg32_32",
  "map_fd",
  "map_value",
  "map",
  "btf_id",
  "func",
];

/**
 * Binary operators of constant expressions, by lexer operator id, with llvm-mc's (GNU as's)
 * precedence, higher binding tighter: `* / % << >>`, then `| & ^`, then `+ -`.
 */
const BINARY_PRECEDENCE: Record<number, number> = {
  [Op.PLUS]: 1,
  [Op.MINUS]: 1,
  [Op.PIPE]: 2,
  [Op.CARET]: 2,
  [Op.AMP]: 2,
  [Op.STAR]: 3,
  [Op.SLASH]: 3,
  [Op.PERCENT]: 3,
  [Op.SHL]: 3,
  [Op.SHR]: 3,
};

/** `1f` / `1b` (a numeric local label, forward or backward): [digits, forward], else undefined. */
export function localLabelRef(text: string): [string, boolean] | undefined {
  const last = text.charCodeAt(text.length - 1);
  if (text.length < 2 || (last !== 102 && last !== 98)) return undefined;
  for (let i = 0; i < text.length - 1; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  return [text.slice(0, -1), last === 102];
}

function insn(code: number, dst: number, src: number, off: number, imm: number): Instruction {
  return { code, dst, src, off, imm };
}

/** Parses kernel-dialect lines. One instance per assembly run. */
export class KernelParser {
  private p = 0;
  /** register and offset of the last address read */
  private base = 0;
  private disp = 0;
  /** column of the last jump target read */
  private targetColumn = 0;

  constructor(
    private readonly ctx: AsmContext,
    private readonly names: KernelNames,
  ) {}

  private get lx() {
    return this.ctx.lx;
  }

  private col(t = this.p): number {
    return this.lx.column(t);
  }

  private fail(reason: string, t = this.p): never {
    throw new LineError(reason, this.col(t));
  }

  private describe(t: number): string {
    const lx = this.lx;
    const k = lx.kind[t];
    if (k === Tok.END) return "the end of the line";
    return `'${lx.text(t)}'`;
  }

  private isOp(id: number, t = this.p): boolean {
    return this.lx.op[t] === id && this.lx.kind[t] === Tok.PUNCT;
  }

  private eatOp(id: number): boolean {
    if (this.isOp(id)) {
      this.p++;
      return true;
    }
    return false;
  }

  private expectOp(id: number, what?: string): void {
    if (!this.eatOp(id))
      this.fail(`expected '${OP_TEXT[id]}'${what ? ` ${what}` : ""}, found ${this.describe(this.p)}`);
  }

  private expectWord(word: string): void {
    if (!this.lx.is(this.p, word)) this.fail(`expected '${word}', found ${this.describe(this.p)}`);
    this.p++;
  }

  private expectEnd(): void {
    if (this.lx.kind[this.p] !== Tok.END)
      this.fail(`unexpected ${this.describe(this.p)} after the end of the instruction`);
  }

  /** The identifier at `t`: one of `words` (no new string) or else its text. */
  private word(t: number, words: readonly string[]): string {
    const lx = this.lx;
    for (let k = 0; k < words.length; k++) {
      const w = words[k] as string;
      if (lx.is(t, w)) return w;
    }
    return lx.text(t);
  }

  /** A register token at `t`, or undefined when the token is not register-shaped. */
  private regAt(t: number): Reg | undefined {
    const lx = this.lx;
    if (lx.kind[t] !== Tok.IDENT) return undefined;
    const s = lx.start[t] as number;
    const e = lx.end[t] as number;
    const c = lx.src.charCodeAt(s);
    if ((c !== 114 && c !== 119) || e - s < 2 || e - s > 3) return undefined;
    let n = 0;
    for (let i = s + 1; i < e; i++) {
      const d = lx.src.charCodeAt(i);
      if (d < 48 || d > 57) return undefined;
      n = n * 10 + d - 48;
    }
    if (n > 10) this.fail(`register ${lx.text(t)} does not exist: eBPF has r0..r10 (w0..w10 for 32 bits)`, t);
    return REGS[c === 114 ? n : 11 + n] as Reg;
  }

  private reg(what: string): Reg {
    const r = this.regAt(this.p);
    if (r === undefined) this.fail(`expected a register (${what}), found ${this.describe(this.p)}`);
    this.p++;
    return r;
  }

  /**
   * A constant: a literal (`-8`, `0x10`, `017`, `5ULL`), or a constant expression (llvm-mc's
   * operators and precedence) of literals,
   * kernel names (`XDP_PASS`, `ETH_P_IP`), `sizeof(...)` and `offsetof(...)`.
   */
  private number(what: string): number | bigint {
    const lx = this.lx;
    const t = this.p;
    // the common case, a literal with an optional sign that no operator follows
    let n = t;
    if (this.isOp(Op.MINUS, n) || this.isOp(Op.PLUS, n)) n++;
    if (lx.kind[n] === Tok.NUM && !this.isBinary(n + 1)) {
      const v = parseCIntegerAt(lx.src, lx.start[n] as number, lx.end[n] as number);
      if (v === undefined)
        this.fail(`'${lx.text(n)}' is not a number (decimal, 0x hexadecimal, 0b binary or 0 octal)`, n);
      this.p = n + 1;
      return this.isOp(Op.MINUS, t) ? negate(v) : v;
    }
    if (!this.isExprStart(t)) this.fail(`expected ${what}, found ${this.describe(t)}`);
    const v = this.expr(0);
    if (v >= -0x20000000000000n && v <= 0x20000000000000n) return Number(v);
    return v;
  }

  /** Comma-separated constant expressions from token `from` to the end of the line, with their columns. */
  constants(from: number, what: string): { value: bigint; column: number }[] {
    this.p = from;
    const out: { value: bigint; column: number }[] = [];
    if (this.lx.kind[from] === Tok.END) this.fail(`expected ${what}, found the end of the line`);
    for (;;) {
      const column = this.col();
      out.push({ value: BigInt(this.number(what)), column });
      if (this.lx.kind[this.p] === Tok.END) return out;
      this.expectOp(Op.COMMA, `between ${what}s`);
    }
  }

  /** Whether token `t` is an operator that continues a constant expression. */
  private isBinary(t: number): boolean {
    if (this.lx.kind[t] !== Tok.PUNCT) return false;
    return BINARY_PRECEDENCE[this.lx.op[t] as number] !== undefined;
  }

  /** Whether a constant expression can start at token `t` (not a register, not a label's place). */
  private isExprStart(t: number): boolean {
    const lx = this.lx;
    const k = lx.kind[t];
    if (k === Tok.NUM) return true;
    if (k === Tok.IDENT) return this.regAt(t) === undefined;
    if (k !== Tok.PUNCT) return false;
    const op = lx.op[t];
    if (op === Op.LPAREN) return true;
    return (op === Op.MINUS || op === Op.PLUS || op === Op.TILDE) && this.isExprStart(t + 1);
  }

  /** A binary expression whose operators bind tighter than `min` (C's precedence). */
  private expr(min: number): bigint {
    let left = this.unary();
    for (;;) {
      const t = this.p;
      if (this.lx.kind[t] !== Tok.PUNCT) return left;
      const op = this.lx.op[t] as number;
      const prec = BINARY_PRECEDENCE[op];
      if (prec === undefined || prec <= min) return left;
      this.p++;
      const right = this.expr(prec);
      left = this.binary(op, left, right, t);
    }
  }

  private binary(op: number, a: bigint, b: bigint, t: number): bigint {
    switch (op) {
      case Op.STAR:
        return BigInt.asIntN(64, a * b);
      case Op.SLASH:
      case Op.PERCENT:
        if (b === 0n) this.fail("division by zero in a constant expression", t);
        return BigInt.asIntN(64, op === Op.SLASH ? a / b : a % b);
      case Op.PLUS:
        return a + b;
      case Op.MINUS:
        return a - b;
      case Op.SHL:
        if (b < 0n || b > 63n) this.fail(`shift by ${b}: shifts take 0..63`, t);
        return BigInt.asIntN(64, a << b);
      case Op.SHR:
        if (b < 0n || b > 63n) this.fail(`shift by ${b}: shifts take 0..63`, t);
        // arithmetic, as llvm-mc shifts
        return BigInt.asIntN(64, a) >> b;
      case Op.AMP:
        return BigInt.asIntN(64, a) & BigInt.asIntN(64, b);
      case Op.CARET:
        return BigInt.asIntN(64, a) ^ BigInt.asIntN(64, b);
      default:
        return BigInt.asIntN(64, a) | BigInt.asIntN(64, b);
    }
  }

  private unary(): bigint {
    const lx = this.lx;
    const t = this.p;
    const k = lx.kind[t];
    if (k === Tok.PUNCT) {
      const op = lx.op[t];
      if (op === Op.MINUS || op === Op.PLUS || op === Op.TILDE) {
        this.p++;
        const v = this.unary();
        return op === Op.MINUS ? -v : op === Op.TILDE ? ~BigInt.asIntN(64, v) : v;
      }
      if (op === Op.LPAREN) {
        this.p++;
        const v = this.expr(0);
        this.expectOp(Op.RPAREN, "to close the expression");
        return v;
      }
    }
    if (k === Tok.NUM) {
      const v = parseCIntegerAt(lx.src, lx.start[t] as number, lx.end[t] as number);
      if (v === undefined)
        this.fail(`'${lx.text(t)}' is not a number (decimal, 0x hexadecimal, 0b binary or 0 octal)`, t);
      this.p++;
      return BigInt(v);
    }
    if (k === Tok.IDENT && this.regAt(t) === undefined) {
      this.p++;
      if (lx.is(t, "sizeof") || lx.is(t, "offsetof")) return BigInt(this.layout(lx.is(t, "offsetof"), t));
      const name = lx.text(t);
      let v: number | bigint | undefined;
      try {
        v = this.names.constant(name);
      } catch (e) {
        if (e instanceof NameError) this.fail(e.message, t);
        throw e;
      }
      if (v === undefined)
        this.fail(
          `'${name}' is not a constant: neither a uapi constant rawbpf knows nor an enumerator of the kernel's BTF`,
          t,
        );
      this.ctx.constantNames.push({
        name,
        line: this.ctx.line,
        column: this.col(t),
        text: this.ctx.lineText,
      });
      return BigInt(v);
    }
    this.fail(`expected a constant, found ${this.describe(t)}`);
  }

  /** `sizeof(TYPE)` or `offsetof(TYPE, a.b[2].c)` after the word at `t`. */
  private layout(offset: boolean, t: number): number {
    const lx = this.lx;
    const word = offset ? "offsetof" : "sizeof";
    this.expectOp(Op.LPAREN, `after ${word}`);
    const typeT = this.p;
    let keyword = "";
    if (lx.is(typeT, "struct") || lx.is(typeT, "union") || lx.is(typeT, "enum")) {
      keyword = lx.text(typeT);
      this.p++;
    }
    const nameT = this.p;
    if (lx.kind[nameT] !== Tok.IDENT)
      this.fail(`expected a type name in ${word}(...), found ${this.describe(nameT)}`);
    const name = lx.text(nameT);
    this.p++;
    const spelled = keyword === "" ? name : `${keyword} ${name}`;
    try {
      const id = this.names.typeId(keyword, name, `${word}(${spelled})`);
      if (!offset) {
        this.expectOp(Op.RPAREN, `to close ${word}(...)`);
        return this.names.sizeOf(id);
      }
      this.expectOp(Op.COMMA, `between the type and the field in offsetof(...)`);
      const path: (string | number)[] = [];
      for (;;) {
        const f = this.p;
        if (lx.kind[f] !== Tok.IDENT) this.fail(`expected a field name, found ${this.describe(f)}`);
        // the lexer reads `a.b.c` as one identifier
        for (const part of lx.text(f).split(".")) {
          if (part === "") this.fail("an empty field name in the path", f);
          path.push(part);
        }
        this.p++;
        while (this.eatOp(Op.LBRACK)) {
          const i = this.expr(0);
          this.expectOp(Op.RBRACK, "after the index");
          path.push(Number(i));
        }
        // `[2].x`: the lexer reads `.x` as an identifier of its own
        if (lx.kind[this.p] === Tok.IDENT && lx.src.charCodeAt(lx.start[this.p] as number) === 46) {
          const rest = this.p;
          for (const part of lx.text(rest).slice(1).split(".")) {
            if (part === "") this.fail("an empty field name in the path", rest);
            path.push(part);
          }
          this.p++;
          continue;
        }
        break;
      }
      this.expectOp(Op.RPAREN, "to close offsetof(...)");
      return this.names.offsetOf(id, path, spelled);
    } catch (e) {
      if (e instanceof NameError) this.fail(e.message, t);
      throw e;
    }
  }

  private imm32(what: string): number {
    const t = this.p;
    const v = this.number(what);
    if (!fitsImm32(v)) this.fail(`${what} ${String(v)} does not fit in 32 bits (-2147483648..4294967295)`, t);
    return (v as number) | 0;
  }

  private off16(what: string): number {
    const t = this.p;
    const v = this.number(what);
    if (!fitsOff16(v))
      this.fail(`${what} ${String(v)} does not fit in a signed 16-bit offset (-32768..32767)`, t);
    return v as number;
  }

  private isNumberStart(t = this.p): boolean {
    const lx = this.lx;
    if (lx.kind[t] === Tok.NUM) return true;
    return (this.isOp(Op.MINUS, t) || this.isOp(Op.PLUS, t)) && lx.kind[t + 1] === Tok.NUM;
  }

  /**
   * Whether `rN = ...` at token `t` is a constant expression rather than a name to load (a map,
   * a function, read-only data): a bare name is a constant when the file has not defined it
   * (yet) and it is a uapi constant or, written without lower-case letters, an enumerator of the
   * kernel's BTF.
   */
  private isValue(t: number): boolean {
    const lx = this.lx;
    const k = lx.kind[t];
    if (k === Tok.PUNCT) return this.isExprStart(t);
    if (k !== Tok.IDENT || this.regAt(t) !== undefined) return false;
    if ((lx.is(t, "sizeof") || lx.is(t, "offsetof")) && this.isOp(Op.LPAREN, t + 1)) return true;
    if (this.isOp(Op.LPAREN, t + 1) || this.isOp(Op.LBRACK, t + 1)) return false;
    if (this.isBinary(t + 1) || lx.is(t + 1, "ll")) return true;
    if (lx.kind[t + 1] !== Tok.END) return false;
    const name = lx.text(t);
    const ctx = this.ctx;
    if (
      ctx.labels.has(name) ||
      ctx.mapNames.has(name) ||
      ctx.rodataParts.some((r) => r.name === name) ||
      (ctx.externalMaps !== undefined && Object.hasOwn(ctx.externalMaps, name))
    )
      return false;
    if (name.toUpperCase() !== name) return Object.hasOwn(UAPI_CONSTANTS, name);
    try {
      return this.names.constant(name) !== undefined;
    } catch (e) {
      if (e instanceof NameError) return false;
      throw e;
    }
  }

  /** `(SIZE *)`: returns [size bits, signed, bits]. */
  private sizeCast(): [number, boolean, number] {
    this.expectOp(Op.LPAREN);
    const t = this.p;
    const lx = this.lx;
    const sz =
      lx.kind[t] === Tok.IDENT ? sizeAt(lx.src, lx.start[t] as number, lx.end[t] as number) : undefined;
    if (sz === undefined)
      this.fail(`expected an access size (u8, u16, u32, u64, s8, s16, s32), found ${this.describe(t)}`);
    this.p++;
    this.expectOp(Op.STAR);
    this.expectOp(Op.RPAREN);
    return sz;
  }

  /** `REG [(+|-) NUM]` (without the parentheses): sets `base` and `disp`. */
  private address(): void {
    const r = this.reg("the address register");
    if (!r.wide) this.fail("an address register is 64-bit: write rN, not wN", this.p - 1);
    let off = 0;
    if (this.isOp(Op.PLUS) || this.isOp(Op.MINUS)) off = this.off16("offset");
    this.base = r.n;
    this.disp = off;
  }

  /** `(REG [(+|-) NUM])`: sets `base` and `disp`. */
  private memref(): void {
    this.expectOp(Op.LPAREN, "before the address");
    this.address();
    this.expectOp(Op.RPAREN, "after the address");
  }

  /** A jump target: `+N`, `-N`, `pc+N`, `pc-N` or a label; fills `off` (or `imm`). */
  private target(insnObj: Instruction, inImm: boolean): string | undefined {
    const t = this.p;
    const lx = this.lx;
    this.targetColumn = this.col(t);
    if (lx.is(t, "pc") && (this.isOp(Op.PLUS, t + 1) || this.isOp(Op.MINUS, t + 1))) this.p++;
    const local = lx.kind[t] === Tok.NUM ? localLabelRef(lx.text(t)) : undefined;
    if (local !== undefined) {
      this.p++;
      return this.ctx.localLabel(local[0], local[1], this.col(t));
    }
    // `+ -3`, as the template writes `goto +${-3}`
    const signed = (this.isOp(Op.PLUS) || this.isOp(Op.MINUS)) && this.isNumberStart(this.p + 1);
    if (this.isNumberStart() || signed) {
      if (inImm) insnObj.imm = this.imm32("jump offset");
      else insnObj.off = this.off16("jump offset");
      return undefined;
    }
    if (lx.kind[t] === Tok.IDENT) {
      this.p++;
      return lx.text(t);
    }
    this.fail(`expected a jump target (a label, +N or -N), found ${this.describe(t)}`);
  }

  /**
   * Parses the tokens `[from, count)` of the current line. `ldImm64` is true when a verifier-log
   * prefix said the opcode is 0x18. Emits into the context.
   */
  parse(from: number, ldImm64: boolean): void {
    this.p = from;
    const lx = this.lx;
    const t = from;
    const column = this.col(t);
    if (lx.kind[t] === Tok.PUNCT && lx.op[t] === Op.STAR) {
      this.store(column);
      return;
    }
    const dst = this.regAt(t);
    if (dst !== undefined) {
      this.p++;
      this.assignment(dst, column, ldImm64);
      return;
    }
    if (lx.kind[t] !== Tok.IDENT) this.fail(`expected an instruction, found ${this.describe(t)}`);
    const word = this.word(t, WORDS);
    this.p++;
    const ctx = this.ctx;
    switch (word) {
      case "exit":
        this.expectEnd();
        ctx.emit(insn(Opcode.EXIT, 0, 0, 0, 0), column);
        return;
      case "call":
        this.call(column);
        return;
      case "callx": {
        const r = this.reg("the function address");
        this.expectEnd();
        ctx.emit(insn(Opcode.CALLX, r.n, 0, 0, 0), column);
        return;
      }
      case "goto":
      case "gotol":
      case "may_goto": {
        const i =
          word === "goto"
            ? insn(Opcode.JA, 0, 0, 0, 0)
            : word === "gotol"
              ? insn(Opcode.GOTOL, 0, 0, 0, 0)
              : insn(Opcode.MAY_GOTO, 0, 0, 0, 0);
        const tg = this.target(i, word === "gotol");
        this.expectEnd();
        const index = ctx.emit(i, column);
        if (tg !== undefined)
          ctx.refer(word === "gotol" ? Fix.JUMP_IMM : Fix.JUMP_OFF, index, tg, this.targetColumn);
        return;
      }
      case "if":
        this.conditional(column);
        return;
      case "lock":
        this.lock(column);
        return;
      case "store_release":
        this.storeRelease(column);
        return;
      default:
        this.fail(`unknown instruction '${word}'`, t);
    }
  }

  private call(column: number): void {
    const lx = this.lx;
    const ctx = this.ctx;
    const t = this.p;
    if (this.isNumberStart(t)) {
      const id = this.imm32("helper id");
      this.expectEnd();
      ctx.emit(insn(Opcode.CALL, 0, PseudoCall.HELPER, 0, id), column);
      return;
    }
    if (lx.is(t, "pc") && (this.isOp(Op.PLUS, t + 1) || this.isOp(Op.MINUS, t + 1))) {
      this.p++;
      const rel = this.imm32("call offset");
      this.expectEnd();
      ctx.emit(insn(Opcode.CALL, 0, PseudoCall.CALL, 0, rel), column);
      return;
    }
    if (lx.is(t, "kfunc")) {
      this.p++;
      const n = this.p;
      if (this.isNumberStart(n)) {
        const id = this.imm32("kfunc BTF id");
        const module = this.eatOp(Op.COMMA) ? this.off16("module BTF index") : 0;
        this.expectEnd();
        ctx.emit(insn(Opcode.CALL, 0, PseudoCall.KFUNC_CALL, module, id), column);
        return;
      }
      if (lx.kind[n] !== Tok.IDENT) this.fail(`expected a kfunc name or BTF id, found ${this.describe(n)}`);
      this.p++;
      const module = this.eatOp(Op.COMMA) ? this.off16("module BTF index") : 0;
      this.expectEnd();
      const i = insn(Opcode.CALL, 0, PseudoCall.KFUNC_CALL, module, 0);
      i.ref = { kind: "kfunc", name: lx.text(n) };
      ctx.emit(i, column);
      return;
    }
    if (lx.kind[t] !== Tok.IDENT)
      this.fail(`expected a helper, a function or a helper id after 'call', found ${this.describe(t)}`);
    const name = lx.text(t);
    this.p++;
    this.expectEnd();
    const hash = name.indexOf("#");
    if (hash > 0) {
      // the verifier log's `bpf_map_lookup_elem#1`
      const i = insn(Opcode.CALL, 0, PseudoCall.HELPER, 0, Number(name.slice(hash + 1)) | 0);
      i.ref = { kind: "helper", name: name.slice(0, hash) };
      ctx.emit(i, column);
      return;
    }
    const index = ctx.emit(insn(Opcode.CALL, 0, PseudoCall.HELPER, 0, 0), column);
    ctx.refer(Fix.CALL, index, name, this.col(t));
  }

  private conditional(column: number): void {
    const a = this.reg("the left side of the comparison");
    const opT = this.p;
    const op = this.lx.kind[opT] === Tok.PUNCT ? JMP_CMP[this.lx.op[opT] as number] : undefined;
    if (op === undefined)
      this.fail(
        `expected a comparison (==, !=, >, >=, <, <=, s>, s>=, s<, s<=, &), found ${this.describe(opT)}`,
      );
    this.p++;
    const cls = a.wide ? Class.JMP : Class.JMP32;
    let i: Instruction;
    const bT = this.p;
    const b = this.regAt(bT);
    if (b !== undefined) {
      this.p++;
      if (b.wide !== a.wide)
        this.fail("both sides of a comparison must have the same width (rN with rN, wN with wN)", bT);
      i = insn(op | Source.X | cls, a.n, b.n, 0, 0);
    } else {
      i = insn(op | Source.K | cls, a.n, 0, 0, this.imm32("immediate"));
    }
    this.expectWord("goto");
    const tg = this.target(i, false);
    this.expectEnd();
    const index = this.ctx.emit(i, column);
    if (tg !== undefined) this.ctx.refer(Fix.JUMP_OFF, index, tg, this.targetColumn);
  }

  private lock(column: number): void {
    this.expectOp(Op.STAR);
    const [size] = this.sizeCast();
    this.memref();
    const dst = this.base;
    const off = this.disp;
    const opT = this.p;
    const aop = this.lx.kind[opT] === Tok.PUNCT ? ATOMIC_ASSIGN[this.lx.op[opT] as number] : undefined;
    if (aop === undefined)
      this.fail(`expected +=, |=, &= or ^= after the address, found ${this.describe(opT)}`);
    this.p++;
    const src = this.reg("the operand");
    this.expectEnd();
    this.emitAtomic(size, dst, src.n, off, aop, column);
  }

  private emitAtomic(size: number, dst: number, src: number, off: number, imm: number, column: number): void {
    this.ctx.emit(insn(Mode.ATOMIC | size | Class.STX, dst, src, off, imm), column);
  }

  private storeRelease(column: number): void {
    this.expectOp(Op.LPAREN);
    const [size] = this.sizeCast();
    this.memref();
    const dst = this.base;
    const off = this.disp;
    this.expectOp(Op.COMMA);
    const src = this.reg("the value");
    this.expectOp(Op.RPAREN);
    this.expectEnd();
    this.emitAtomic(size, dst, src.n, off, AtomicOp.STORE_REL, column);
  }

  private store(column: number): void {
    this.p++;
    const [size, signed] = this.sizeCast();
    if (signed) this.fail("a store has no sign: write u8, u16, u32 or u64", this.p - 3);
    this.memref();
    const dst = this.base;
    const off = this.disp;
    this.expectOp(Op.ASSIGN);
    const r = this.regAt(this.p);
    if (r !== undefined) {
      this.p++;
      this.expectEnd();
      this.ctx.emit(insn(Mode.MEM | size | Class.STX, dst, r.n, off, 0), column);
      return;
    }
    const imm = this.imm32("stored value");
    this.expectEnd();
    this.ctx.emit(insn(Mode.MEM | size | Class.ST, dst, 0, off, imm), column);
  }

  private assignment(dst: Reg, column: number, ldImm64: boolean): void {
    const lx = this.lx;
    const t = this.p;
    if (lx.kind[t] !== Tok.PUNCT)
      this.fail(`expected '=' or an operator like '+=' after the register, found ${this.describe(t)}`);
    const id = lx.op[t] as number;
    this.p++;
    const cls = dst.wide ? Class.ALU64 : Class.ALU;
    if (id !== Op.ASSIGN) {
      const aop = ALU_ASSIGN[id];
      if (aop === undefined) this.fail(`'${OP_TEXT[id]}' is not an assignment operator`, t);
      const signed = id === Op.SDIV_ASSIGN || id === Op.SMOD_ASSIGN ? 1 : 0;
      const sT = this.p;
      const s = this.regAt(sT);
      if (s !== undefined) {
        this.p++;
        if (s.wide !== dst.wide)
          this.fail("both registers must have the same width (rN with rN, wN with wN)", sT);
        this.expectEnd();
        this.ctx.emit(insn(aop | Source.X | cls, dst.n, s.n, signed, 0), column);
        return;
      }
      const imm = this.imm32("immediate");
      this.expectEnd();
      this.ctx.emit(insn(aop | Source.K | cls, dst.n, 0, signed, imm), column);
      return;
    }
    this.rhs(dst, cls, column, ldImm64);
  }

  private rhs(dst: Reg, cls: number, column: number, ldImm64: boolean): void {
    const lx = this.lx;
    const ctx = this.ctx;
    const t = this.p;
    // loads: *(SIZE *)(REG + OFF) and *(SIZE *)skb[...]
    if (this.isOp(Op.STAR)) {
      this.p++;
      const [size, signed] = this.sizeCast();
      if (lx.is(this.p, "skb")) {
        this.p++;
        if (signed) this.fail("packet loads (skb[...]) have no sign: write u8, u16 or u32", t);
        if (dst.n !== 0) this.fail("a packet load (skb[...]) always writes r0", t - 2);
        this.expectOp(Op.LBRACK);
        const r = this.regAt(this.p);
        if (r !== undefined) {
          this.p++;
          let off = 0;
          if (this.isOp(Op.PLUS) || this.isOp(Op.MINUS)) off = this.imm32("offset");
          this.expectOp(Op.RBRACK);
          this.expectEnd();
          ctx.emit(insn(Mode.IND | size | Class.LD, 0, r.n, 0, off), column);
          return;
        }
        const off = this.imm32("packet offset");
        this.expectOp(Op.RBRACK);
        this.expectEnd();
        ctx.emit(insn(Mode.ABS | size | Class.LD, 0, 0, 0, off), column);
        return;
      }
      this.memref();
      const src = this.base;
      const off = this.disp;
      this.expectEnd();
      ctx.emit(insn((signed ? Mode.MEMSX : Mode.MEM) | size | Class.LDX, dst.n, src, off, 0), column);
      return;
    }
    // movsx: (s8)REG
    const castT = t + 1;
    const cast =
      lx.kind[castT] === Tok.IDENT &&
      sizeAt(lx.src, lx.start[castT] as number, lx.end[castT] as number) !== undefined;
    if (this.isOp(Op.LPAREN) && (cast || !this.isExprStart(castT))) {
      this.p++;
      const sT = this.p;
      const sz =
        lx.kind[sT] === Tok.IDENT ? sizeAt(lx.src, lx.start[sT] as number, lx.end[sT] as number) : undefined;
      if (sz === undefined || !sz[1])
        this.fail(`expected a sign-extension cast (s8), (s16) or (s32), found ${this.describe(sT)}`);
      this.p++;
      this.expectOp(Op.RPAREN);
      const rT = this.p;
      const s = this.reg("the source");
      if (s.wide !== dst.wide)
        this.fail("both registers must have the same width (rN with rN, wN with wN)", rT);
      this.expectEnd();
      ctx.emit(insn(AluOp.MOV | Source.X | cls, dst.n, s.n, sz[2], 0), column);
      return;
    }
    // neg: -REG
    if (this.isOp(Op.MINUS) && this.regAt(t + 1) !== undefined) {
      this.p++;
      const s = this.reg("the negated register");
      if (s.n !== dst.n || s.wide !== dst.wide) this.fail("negation works in place: write rN = -rN", t + 1);
      this.expectEnd();
      ctx.emit(insn(AluOp.NEG | Source.K | cls, dst.n, 0, 0, 0), column);
      return;
    }
    if (this.isNumberStart() || this.isValue(t)) {
      const v = this.number("a value");
      const wantWide = lx.is(this.p, "ll");
      if (wantWide) this.p++;
      this.expectEnd();
      if (wantWide || ldImm64) {
        if (!dst.wide) this.fail("a 64-bit load (ll) needs a 64-bit register: write rN", t - 2);
        const halves = splitImm64(v);
        if (halves === undefined) this.fail(`${String(v)} does not fit in 64 bits`, t);
        ctx.emit({ code: LD_IMM64, dst: dst.n, src: 0, off: 0, imm: halves[0], imm2: halves[1] }, column);
        return;
      }
      if (!fitsImm32(v))
        this.fail(
          `${String(v)} does not fit in 32 bits; for a 64-bit constant write '${lx.text(t - 2)} = ${lx.src.slice(lx.start[t], lx.end[this.p - 1])} ll'`,
          t,
        );
      ctx.emit(insn(AluOp.MOV | Source.K | cls, dst.n, 0, 0, (v as number) | 0), column);
      return;
    }
    const s = this.regAt(t);
    if (s !== undefined) {
      this.p++;
      if (s.wide !== dst.wide)
        this.fail("both registers must have the same width (rN with rN, wN with wN)", t);
      this.expectEnd();
      ctx.emit(insn(AluOp.MOV | Source.X | cls, dst.n, s.n, 0, 0), column);
      return;
    }
    if (lx.kind[t] !== Tok.IDENT)
      this.fail(`expected a value, a register, a load or a function after '=', found ${this.describe(t)}`);
    const word = this.word(t, RHS_WORDS);
    this.p++;
    switch (word) {
      case "bswap16":
      case "bswap32":
      case "bswap64":
      case "be16":
      case "be32":
      case "be64":
      case "le16":
      case "le32":
      case "le64": {
        const r = this.reg("the register to swap");
        if (r.n !== dst.n || r.wide !== dst.wide || !dst.wide)
          this.fail(`byte swaps work in place on a 64-bit register: write r${dst.n} = ${word} r${dst.n}`, t);
        this.expectEnd();
        const width = Number(word.slice(-2));
        const code = word.startsWith("bswap")
          ? Opcode.BSWAP
          : AluOp.END | (word.startsWith("be") ? Source.X : Source.K) | Class.ALU;
        ctx.emit(insn(code, dst.n, 0, 0, width), column);
        return;
      }
      case "load_acquire": {
        this.expectOp(Op.LPAREN);
        const [size] = this.sizeCast();
        this.memref();
        const src = this.base;
        const off = this.disp;
        this.expectOp(Op.RPAREN);
        this.expectEnd();
        this.emitAtomic(size, dst.n, src, off, AtomicOp.LOAD_ACQ, column);
        return;
      }
      case "addr_space_cast": {
        this.expectOp(Op.LPAREN);
        const s2 = this.reg("the source");
        this.expectOp(Op.COMMA);
        const a = this.imm32("destination address space");
        this.expectOp(Op.COMMA);
        const b = this.imm32("source address space");
        this.expectOp(Op.RPAREN);
        this.expectEnd();
        if (a < 0 || a > 0xffff || b < 0 || b > 0xffff) this.fail("address spaces are 0..65535", t);
        ctx.emit(insn(Opcode.MOV64_REG, dst.n, s2.n, 1, (a << 16) | b | 0), column);
        return;
      }
      case "xchg_64":
      case "xchg32_32":
      case "cmpxchg_64":
      case "cmpxchg32_32": {
        // llvm's spelling: r2 = xchg_64(r1 + 0, r2), r0 = cmpxchg_64(r1 + 0, r0, r2)
        const size = word.endsWith("_64") ? Size.DW : Size.W;
        this.expectOp(Op.LPAREN);
        this.address();
        const ptr = this.base;
        const off = this.disp;
        this.expectOp(Op.COMMA);
        const isCmp = word.startsWith("cmp");
        if (isCmp) {
          const r0 = this.reg("r0");
          if (r0.n !== 0 || dst.n !== 0)
            this.fail("cmpxchg compares with r0 and writes r0: write r0 = cmpxchg_64(rN + off, r0, rM)", t);
          this.expectOp(Op.COMMA);
        }
        const v = this.reg("the new value");
        this.expectOp(Op.RPAREN);
        this.expectEnd();
        if (!isCmp && v.n !== dst.n)
          this.fail(
            `xchg returns the old value in its operand register: write r${v.n} = ${word}(...)`,
            t - 2,
          );
        this.emitAtomic(size, ptr, v.n, off, isCmp ? AtomicOp.CMPXCHG : AtomicOp.XCHG, column);
        return;
      }
      case "map_fd":
      case "map_value":
        this.mapByName(dst, word === "map_value", column);
        return;
      case "map":
        this.mapBracket(dst, column);
        return;
      case "btf_id": {
        this.expectOp(Op.LPAREN);
        const id = this.imm32("BTF id");
        let fd = 0;
        if (this.eatOp(Op.COMMA)) fd = this.imm32("BTF object fd");
        this.expectOp(Op.RPAREN);
        this.expectEnd();
        ctx.emit({ code: LD_IMM64, dst: dst.n, src: PseudoLoad.BTF_ID, off: 0, imm: id, imm2: fd }, column);
        return;
      }
      case "func": {
        this.expectOp(Op.LPAREN);
        const rel = this.imm32("function offset");
        const extra = this.eatOp(Op.COMMA) ? this.imm32("second immediate") : 0;
        this.expectOp(Op.RPAREN);
        this.expectEnd();
        ctx.emit({ code: LD_IMM64, dst: dst.n, src: PseudoLoad.FUNC, off: 0, imm: rel, imm2: extra }, column);
        return;
      }
      default:
        break;
    }
    const fetch = word.startsWith("atomic64_")
      ? word.slice(9)
      : word.startsWith("atomic_")
        ? word.slice(7)
        : undefined;
    if (fetch !== undefined) {
      this.atomicCall(dst, fetch, t, column);
      return;
    }
    // a bare name: function pointer, map or read-only data symbol
    this.expectEnd();
    if (!dst.wide) this.fail("loading an address needs a 64-bit register: write rN", t - 2);
    const index = ctx.emit(
      { code: LD_IMM64, dst: dst.n, src: PseudoLoad.FUNC, off: 0, imm: 0, imm2: 0 },
      column,
    );
    ctx.refer(Fix.NAME_LOAD, index, word, this.col(t));
  }

  private atomicCall(dst: Reg, name: string, t: number, column: number): void {
    // atomic_fetch_add((u64 *)(r10 - 8), r1), atomic64_xchg(...), atomic64_cmpxchg(..., r0, r1)
    let imm: number | undefined;
    let isCmp = false;
    if (name.startsWith("fetch_")) imm = ATOMIC_FETCH[name.slice(6)];
    else if (name === "xchg") imm = AtomicOp.XCHG;
    else if (name === "cmpxchg") {
      imm = AtomicOp.CMPXCHG;
      isCmp = true;
    }
    if (imm === undefined) this.fail(`unknown atomic operation '${this.lx.text(t)}'`, t);
    this.expectOp(Op.LPAREN);
    const [size] = this.sizeCast();
    this.memref();
    const ptr = this.base;
    const off = this.disp;
    this.expectOp(Op.COMMA);
    if (isCmp) {
      const r0 = this.reg("r0");
      if (r0.n !== 0 || dst.n !== 0)
        this.fail(
          "cmpxchg compares with r0 and writes r0: write r0 = atomic64_cmpxchg((u64 *)(rN + off), r0, rM)",
          t,
        );
      this.expectOp(Op.COMMA);
    }
    const v = this.reg("the operand");
    this.expectOp(Op.RPAREN);
    this.expectEnd();
    if (!isCmp && v.n !== dst.n)
      this.fail(
        `a fetching atomic returns the old value in its operand register: write r${v.n} = ...`,
        t - 2,
      );
    this.emitAtomic(size, ptr, v.n, off, imm, column);
  }

  private mapByName(dst: Reg, value: boolean, column: number): void {
    const lx = this.lx;
    this.expectOp(Op.LPAREN);
    const nT = this.p;
    if (lx.kind[nT] !== Tok.IDENT) this.fail(`expected a map name, found ${this.describe(nT)}`);
    this.p++;
    this.expectOp(Op.RPAREN);
    let off = 0;
    if (value && (this.isOp(Op.PLUS) || this.isOp(Op.MINUS))) off = this.imm32("value offset");
    this.expectEnd();
    if (!dst.wide) this.fail("a map reference needs a 64-bit register: write rN", this.p);
    const index = this.ctx.emit(
      {
        code: LD_IMM64,
        dst: dst.n,
        src: value ? PseudoLoad.MAP_VALUE : PseudoLoad.MAP_FD,
        off: 0,
        imm: 0,
        imm2: off,
      },
      column,
    );
    this.ctx.refer(Fix.MAP, index, lx.text(nT), this.col(nT), off);
  }

  /** bpftool's `map[id:5]`, `map[id:5][0]+8`; also `map[fd:N]` and `map[idx:N]` (raw). */
  private mapBracket(dst: Reg, column: number): void {
    const lx = this.lx;
    this.expectOp(Op.LBRACK);
    const kT = this.p;
    const kind = lx.kind[kT] === Tok.IDENT ? lx.text(kT) : "";
    if (kind !== "id" && kind !== "fd" && kind !== "idx")
      this.fail(`expected id:, fd: or idx: inside map[...], found ${this.describe(kT)}`);
    this.p++;
    this.expectOp(Op.COLON);
    const n = this.imm32(`map ${kind}`);
    this.expectOp(Op.RBRACK);
    let value = false;
    let off = 0;
    if (this.eatOp(Op.LBRACK)) {
      const z = this.imm32("element index");
      if (z !== 0) this.fail("only element [0] of a map value can be addressed", this.p - 1);
      this.expectOp(Op.RBRACK);
      value = true;
      if (this.isOp(Op.PLUS) || this.isOp(Op.MINUS)) off = this.imm32("value offset");
    }
    this.expectEnd();
    if (!dst.wide) this.fail("a map reference needs a 64-bit register: write rN", kT);
    let src: number;
    if (kind === "idx") src = value ? PseudoLoad.MAP_IDX_VALUE : PseudoLoad.MAP_IDX;
    else src = value ? PseudoLoad.MAP_VALUE : PseudoLoad.MAP_FD;
    const i: Instruction = { code: LD_IMM64, dst: dst.n, src, off: 0, imm: kind === "id" ? 0 : n, imm2: off };
    if (kind === "id") i.ref = { kind: "map", name: `id:${n}` };
    this.ctx.emit(i, column);
  }
}
