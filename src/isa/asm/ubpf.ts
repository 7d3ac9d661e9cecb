/**
 * The uBPF dialect of the bpf_conformance suite: `mnemonic operand, operand, ...` with `%rN`
 * registers and `[%rN+off]` memory operands (`add32 %r0, 1`, `ldxdw %r1, [%r2+8]`,
 * `lock fetch add [%r10-8], %r1`, `jne %r1, 5, label`, `call local f`, `ja32 label`).
 */

import { Class, type Instruction, LD_IMM64 } from "../insn.js";
import { AluOp, AtomicOp, JmpOp, Mode, Opcode, PseudoCall, Size, Source } from "../opcode.js";
import { type AsmContext, Fix, LineError } from "./context.js";
import { Op, Tok } from "./lexer.js";
import { fitsOff16, negate, parseUnsigned, splitImm64 } from "./numbers.js";

const ALU: Record<string, number> = {
  add: AluOp.ADD,
  sub: AluOp.SUB,
  mul: AluOp.MUL,
  div: AluOp.DIV,
  sdiv: AluOp.DIV,
  or: AluOp.OR,
  and: AluOp.AND,
  lsh: AluOp.LSH,
  rsh: AluOp.RSH,
  neg: AluOp.NEG,
  mod: AluOp.MOD,
  smod: AluOp.MOD,
  xor: AluOp.XOR,
  mov: AluOp.MOV,
  arsh: AluOp.ARSH,
};

const JMP: Record<string, number> = {
  jeq: JmpOp.JEQ,
  jgt: JmpOp.JGT,
  jge: JmpOp.JGE,
  jset: JmpOp.JSET,
  jne: JmpOp.JNE,
  jsgt: JmpOp.JSGT,
  jsge: JmpOp.JSGE,
  jlt: JmpOp.JLT,
  jle: JmpOp.JLE,
  jslt: JmpOp.JSLT,
  jsle: JmpOp.JSLE,
};

const SIZE_SUFFIX: Record<string, number> = { b: Size.B, h: Size.H, w: Size.W, dw: Size.DW };

const ATOMIC: Record<string, number> = {
  add: AtomicOp.ADD,
  or: AtomicOp.OR,
  and: AtomicOp.AND,
  xor: AtomicOp.XOR,
  xchg: AtomicOp.XCHG,
  cmpxchg: AtomicOp.CMPXCHG,
};

const MOVSX: Record<string, [number, boolean]> = {
  movsx864: [8, true],
  movsx832: [8, false],
  movsx1664: [16, true],
  movsx1632: [16, false],
  movsx3264: [32, true],
};

/** Operand kinds. */
enum K {
  REG = 1,
  IMM = 2,
  MEM = 3,
  NAME = 4,
  OFFSET = 5,
}

interface Operand {
  k: K;
  /** register number (REG, MEM) */
  reg: number;
  /** value (IMM, OFFSET), offset (MEM) */
  value: number | bigint;
  /** literal was written in hexadecimal */
  hex: boolean;
  name: string;
  column: number;
}

function insn(code: number, dst: number, src: number, off: number, imm: number): Instruction {
  return { code, dst, src, off, imm };
}

/** Parses uBPF-dialect lines. */
export class UbpfParser {
  private p = 0;
  private readonly ops: Operand[] = [];

  constructor(private readonly ctx: AsmContext) {}

  private fail(reason: string, column: number): never {
    throw new LineError(reason, column);
  }

  private number(): { value: number | bigint; hex: boolean } {
    const lx = this.ctx.lx;
    let neg = false;
    if (lx.kind[this.p] === Tok.PUNCT && lx.op[this.p] === Op.MINUS) {
      neg = true;
      this.p++;
    } else if (lx.kind[this.p] === Tok.PUNCT && lx.op[this.p] === Op.PLUS) this.p++;
    const text = lx.text(this.p);
    const v = parseUnsigned(text);
    if (v === undefined || lx.kind[this.p] !== Tok.NUM)
      this.fail(`'${text}' is not a number`, lx.column(this.p));
    this.p++;
    return { value: neg ? negate(v) : v, hex: text.length > 2 && (text.charCodeAt(1) | 0x20) === 120 };
  }

  private register(t: number): number {
    const lx = this.ctx.lx;
    const text = lx.text(t);
    if (text.length < 3 || !text.startsWith("%r"))
      this.fail(`expected a register %r0..%r10, found '${text}'`, lx.column(t));
    const n = Number(text.slice(2));
    if (!Number.isInteger(n) || n < 0 || n > 10)
      this.fail(`Invalid register ${text}: eBPF has %r0..%r10`, lx.column(t));
    return n;
  }

  /** Reads the comma-separated operands after the mnemonic. */
  private operands(): Operand[] {
    const lx = this.ctx.lx;
    const out = this.ops;
    out.length = 0;
    while (lx.kind[this.p] !== Tok.END) {
      const t = this.p;
      const column = lx.column(t);
      const o: Operand = { k: K.IMM, reg: 0, value: 0, hex: false, name: "", column };
      if (lx.kind[t] === Tok.IDENT) {
        const text = lx.text(t);
        if (text.charCodeAt(0) === 37) {
          o.k = K.REG;
          o.reg = this.register(t);
        } else {
          o.k = K.NAME;
          o.name = text;
        }
        this.p++;
      } else if (lx.kind[t] === Tok.PUNCT && lx.op[t] === Op.LBRACK) {
        this.p++;
        o.k = K.MEM;
        if (lx.kind[this.p] !== Tok.IDENT)
          this.fail(`expected a register inside [...], found '${lx.text(this.p)}'`, lx.column(this.p));
        o.reg = this.register(this.p);
        this.p++;
        if (lx.kind[this.p] === Tok.PUNCT && (lx.op[this.p] === Op.PLUS || lx.op[this.p] === Op.MINUS)) {
          const at = lx.column(this.p);
          const n = this.number();
          if (!fitsOff16(n.value))
            this.fail(`offset ${String(n.value)} does not fit in a signed 16-bit offset (-32768..32767)`, at);
          o.value = n.value;
        }
        if (!(lx.kind[this.p] === Tok.PUNCT && lx.op[this.p] === Op.RBRACK))
          this.fail("expected ']' after the memory operand", lx.column(this.p));
        this.p++;
      } else if (
        lx.kind[t] === Tok.NUM ||
        (lx.kind[t] === Tok.PUNCT && (lx.op[t] === Op.MINUS || lx.op[t] === Op.PLUS))
      ) {
        const signed = lx.kind[t] === Tok.PUNCT;
        const n = this.number();
        o.k = signed ? K.OFFSET : K.IMM;
        o.value = n.value;
        o.hex = n.hex;
      } else {
        this.fail(`unexpected '${lx.text(t)}' in the operands`, column);
      }
      out.push(o);
      if (lx.kind[this.p] === Tok.END) break;
      // operands are separated by commas or, as upstream allows (`call local f`), by blanks
      if (lx.kind[this.p] === Tok.PUNCT && lx.op[this.p] === Op.COMMA) this.p++;
    }
    return out;
  }

  private imm32(o: Operand): number {
    if (o.k !== K.IMM && o.k !== K.OFFSET) this.fail("expected an immediate", o.column);
    const v = o.value;
    const ok =
      typeof v === "number" &&
      (o.hex ? v >= -0xffffffff && v <= 0xffffffff : v >= -0x8000_0000 && v <= 0x7fff_ffff);
    if (!ok) this.fail(`Immediate out of 32-bit range: ${String(v)}`, o.column);
    return (v as number) | 0;
  }

  private reg(o: Operand | undefined, what: string, column: number): number {
    if (o === undefined || o.k !== K.REG) this.fail(`expected a register (${what})`, o?.column ?? column);
    return o.reg;
  }

  private mem(o: Operand | undefined, column: number): [number, number] {
    if (o === undefined || o.k !== K.MEM)
      this.fail("expected a memory operand like [%r1+8]", o?.column ?? column);
    return [o.reg, o.value as number];
  }

  private count(ops: Operand[], n: number, mnemonic: string, column: number): void {
    if (ops.length !== n)
      this.fail(`Invalid number of operands for ${mnemonic}: expected ${n}, found ${ops.length}`, column);
  }

  /** A jump target operand into `off` (or `imm`), or a label reference. */
  private jumpTarget(
    o: Operand | undefined,
    i: Instruction,
    inImm: boolean,
    column: number,
  ): string | undefined {
    if (o === undefined) this.fail("expected a jump target", column);
    if (o.k === K.NAME) return o.name;
    if (o.k !== K.OFFSET && o.k !== K.IMM) this.fail("expected a jump target (a label, +N or -N)", o.column);
    if (inImm) i.imm = this.imm32(o);
    else {
      if (!fitsOff16(o.value)) this.fail(`Offset out of 16-bit range: ${String(o.value)}`, o.column);
      i.off = o.value as number;
    }
    return undefined;
  }

  /** Parses the tokens from `from` on the current line. */
  parse(from: number): void {
    const ctx = this.ctx;
    const lx = ctx.lx;
    this.p = from;
    const column = lx.column(from);
    if (lx.kind[from] !== Tok.IDENT) this.fail(`expected a mnemonic, found '${lx.text(from)}'`, column);
    let m = lx.text(from);
    this.p++;
    if (m === "lock") {
      this.lock(column);
      return;
    }
    const ops = this.operands();
    if (m === "exit") {
      this.count(ops, 0, m, column);
      const index = ctx.emit(insn(Opcode.EXIT, 0, 0, 0, 0), column);
      if (ctx.firstExit < 0) ctx.firstExit = index;
      return;
    }
    if (m === "call") {
      this.call(ops, column);
      return;
    }
    if (m === "callx") {
      this.count(ops, 1, m, column);
      ctx.emit(insn(Opcode.CALLX, this.reg(ops[0], "target", column), 0, 0, 0), column);
      return;
    }
    if (m === "lddw") {
      this.count(ops, 2, m, column);
      const dst = this.reg(ops[0], "destination", column);
      const o = ops[1] as Operand;
      if (o.k !== K.IMM && o.k !== K.OFFSET) this.fail("expected a 64-bit immediate", o.column);
      const halves = splitImm64(o.value);
      if (halves === undefined) this.fail(`${String(o.value)} does not fit in 64 bits`, o.column);
      ctx.emit({ code: LD_IMM64, dst, src: 0, off: 0, imm: halves[0], imm2: halves[1] }, column);
      return;
    }
    if (m === "ja" || m === "ja32") {
      this.count(ops, 1, m, column);
      const i = insn(m === "ja" ? Opcode.JA : Opcode.GOTOL, 0, 0, 0, 0);
      const label = this.jumpTarget(ops[0], i, m === "ja32", column);
      const index = ctx.emit(i, column);
      if (label !== undefined)
        ctx.refer(m === "ja" ? Fix.JUMP_OFF : Fix.JUMP_IMM, index, label, (ops[0] as Operand).column);
      return;
    }
    // loads and stores
    if (
      m.startsWith("ldx") ||
      m.startsWith("stx") ||
      m.startsWith("st") ||
      m.startsWith("ldabs") ||
      m.startsWith("ldind")
    ) {
      if (this.memory(m, ops, column)) return;
    }
    // byte swaps
    const swap = /^(le|be|swap|bswap)(16|32|64)$/.exec(m);
    if (swap !== null) {
      this.count(ops, 1, m, column);
      const dst = this.reg(ops[0], "register to swap", column);
      const kind = swap[1] as string;
      const code =
        kind === "le"
          ? AluOp.END | Source.K | Class.ALU
          : kind === "be"
            ? AluOp.END | Source.X | Class.ALU
            : Opcode.BSWAP;
      ctx.emit(insn(code, dst, 0, 0, Number(swap[2])), column);
      return;
    }
    const sx = MOVSX[m];
    if (sx !== undefined) {
      this.count(ops, 2, m, column);
      const dst = this.reg(ops[0], "destination", column);
      const src = this.reg(ops[1], "source", column);
      ctx.emit(insn(AluOp.MOV | Source.X | (sx[1] ? Class.ALU64 : Class.ALU), dst, src, sx[0], 0), column);
      return;
    }
    let wide = true;
    if (m.endsWith("32")) {
      wide = false;
      m = m.slice(0, -2);
    } else if (m.endsWith("64")) m = m.slice(0, -2);
    const aop = ALU[m];
    if (aop !== undefined) {
      const signed = m === "sdiv" || m === "smod" ? 1 : 0;
      const cls = wide ? Class.ALU64 : Class.ALU;
      if (aop === AluOp.NEG) {
        this.count(ops, 1, lx.text(from), column);
        ctx.emit(insn(AluOp.NEG | cls, this.reg(ops[0], "destination", column), 0, 0, 0), column);
        return;
      }
      this.count(ops, 2, lx.text(from), column);
      const dst = this.reg(ops[0], "destination", column);
      const o = ops[1] as Operand;
      if (o.k === K.REG) ctx.emit(insn(aop | Source.X | cls, dst, o.reg, signed, 0), column);
      else ctx.emit(insn(aop | Source.K | cls, dst, 0, signed, this.imm32(o)), column);
      return;
    }
    const jop = JMP[m];
    if (jop !== undefined) {
      this.count(ops, 3, lx.text(from), column);
      const dst = this.reg(ops[0], "left side", column);
      const o = ops[1] as Operand;
      const cls = wide ? Class.JMP : Class.JMP32;
      const i =
        o.k === K.REG
          ? insn(jop | Source.X | cls, dst, o.reg, 0, 0)
          : insn(jop | Source.K | cls, dst, 0, 0, this.imm32(o));
      const label = this.jumpTarget(ops[2], i, false, column);
      const index = ctx.emit(i, column);
      if (label !== undefined) ctx.refer(Fix.JUMP_OFF, index, label, (ops[2] as Operand).column);
      return;
    }
    this.fail(`Invalid mnemonic '${lx.text(from)}'`, column);
  }

  private memory(m: string, ops: Operand[], column: number): boolean {
    const ctx = this.ctx;
    let rest: string;
    let kind: "ldx" | "ldxs" | "stx" | "st" | "ldabs" | "ldind";
    if (m.startsWith("ldxs") && SIZE_SUFFIX[m.slice(4)] !== undefined && m !== "ldxdw") {
      kind = "ldxs";
      rest = m.slice(4);
    } else if (m.startsWith("ldx")) {
      kind = "ldx";
      rest = m.slice(3);
    } else if (m.startsWith("stx")) {
      kind = "stx";
      rest = m.slice(3);
    } else if (m.startsWith("ldabs")) {
      kind = "ldabs";
      rest = m.slice(5);
    } else if (m.startsWith("ldind")) {
      kind = "ldind";
      rest = m.slice(5);
    } else {
      kind = "st";
      rest = m.slice(2);
    }
    const size = SIZE_SUFFIX[rest];
    if (size === undefined) return false;
    if (kind === "ldxs" && size === Size.DW) return false;
    switch (kind) {
      case "ldx":
      case "ldxs": {
        this.count(ops, 2, m, column);
        const dst = this.reg(ops[0], "destination", column);
        const [src, off] = this.mem(ops[1], column);
        ctx.emit(
          insn((kind === "ldxs" ? Mode.MEMSX : Mode.MEM) | size | Class.LDX, dst, src, off, 0),
          column,
        );
        return true;
      }
      case "stx": {
        this.count(ops, 2, m, column);
        const [dst, off] = this.mem(ops[0], column);
        ctx.emit(insn(Mode.MEM | size | Class.STX, dst, this.reg(ops[1], "source", column), off, 0), column);
        return true;
      }
      case "st": {
        this.count(ops, 2, m, column);
        const [dst, off] = this.mem(ops[0], column);
        ctx.emit(insn(Mode.MEM | size | Class.ST, dst, 0, off, this.imm32(ops[1] as Operand)), column);
        return true;
      }
      case "ldabs": {
        this.count(ops, 1, m, column);
        ctx.emit(insn(Mode.ABS | size | Class.LD, 0, 0, 0, this.imm32(ops[0] as Operand)), column);
        return true;
      }
      case "ldind": {
        this.count(ops, 2, m, column);
        const src = this.reg(ops[0], "offset register", column);
        ctx.emit(insn(Mode.IND | size | Class.LD, 0, src, 0, this.imm32(ops[1] as Operand)), column);
        return true;
      }
    }
  }

  private call(ops: Operand[], column: number): void {
    const ctx = this.ctx;
    if (ops.length === 1) {
      const o = ops[0] as Operand;
      if (o.k === K.REG) {
        ctx.emit(insn(Opcode.CALLX, o.reg, 0, 0, 0), column);
        return;
      }
      if (o.k === K.NAME) {
        const index = ctx.emit(insn(Opcode.CALL, 0, PseudoCall.HELPER, 0, 0), column);
        ctx.refer(Fix.CALL, index, o.name, o.column);
        return;
      }
      ctx.emit(insn(Opcode.CALL, 0, PseudoCall.HELPER, 0, this.imm32(o)), column);
      return;
    }
    this.count(ops, 2, "call", column);
    const mode = ops[0] as Operand;
    const target = ops[1] as Operand;
    const modeName = mode.k === K.NAME ? mode.name : "";
    if (modeName === "local") {
      const i = insn(Opcode.CALL, 0, PseudoCall.CALL, 0, 0);
      const label = this.jumpTarget(target, i, true, column);
      const index = ctx.emit(i, column);
      if (label !== undefined) ctx.refer(Fix.CALL_LOCAL, index, label, target.column);
      return;
    }
    if (modeName === "helper") {
      if (target.k === K.REG) ctx.emit(insn(Opcode.CALLX, target.reg, 0, 0, 0), column);
      else ctx.emit(insn(Opcode.CALL, 0, PseudoCall.HELPER, 0, this.imm32(target)), column);
      return;
    }
    if (modeName === "runtime") {
      ctx.emit(insn(Opcode.CALL, 0, PseudoCall.KFUNC_CALL, 0, this.imm32(target)), column);
      return;
    }
    this.fail(
      "Invalid call mode: write call N, call local NAME, call helper N or call runtime N",
      mode.column,
    );
  }

  private lock(column: number): void {
    const ctx = this.ctx;
    const lx = ctx.lx;
    let fetch = false;
    if (lx.is(this.p, "fetch")) {
      fetch = true;
      this.p++;
    }
    if (lx.kind[this.p] !== Tok.IDENT)
      this.fail("Invalid number of operands for lock: write lock [fetch] OP [%rN+off], %rM", column);
    let op = lx.text(this.p);
    const opCol = lx.column(this.p);
    this.p++;
    let size: number = Size.DW;
    if (op.endsWith("32")) {
      size = Size.W;
      op = op.slice(0, -2);
    }
    let imm = ATOMIC[op];
    if (imm === undefined)
      this.fail(`Invalid atomic operation '${op}': add, or, and, xor, xchg or cmpxchg`, opCol);
    if (fetch) {
      if (imm === AtomicOp.XCHG || imm === AtomicOp.CMPXCHG)
        this.fail(`${op} always fetches: drop 'fetch'`, opCol);
      imm |= AtomicOp.FETCH;
    }
    const ops = this.operands();
    if (ops.length !== 2)
      this.fail("Invalid number of operands for lock: write lock [fetch] OP [%rN+off], %rM", column);
    const [dst, off] = this.mem(ops[0], column);
    const src = this.reg(ops[1], "operand", column);
    ctx.emit(insn(Mode.ATOMIC | size | Class.STX, dst, src, off, imm), column);
  }
}
