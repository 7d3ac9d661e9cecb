/**
 * A fast path for the kernel dialect: reads the common instruction lines straight from the
 * characters of the source, making no token, no string and no object, and checks them as it goes.
 *
 * Why it exists: the general path (lexer, then parser, then validation of every instruction at
 * the end) costs a few hundred nanoseconds a line, and in a fresh process most of a big file is
 * read before V8 has optimised the many functions it goes through. This scanner is a few small
 * functions that V8 optimises early, and does a fraction of the work per line.
 *
 * It only accepts a line when it is sure of the outcome: the line holds one instruction of a form
 * it knows (no label, no name to resolve, no log prefix), the general path would read the very
 * same fields from it, and the instruction passes `instructionProblem` (so the end of the run
 * need not check it again). Anything else, every mistake included, is left to the general path,
 * which reads the line from its start as if this one did not exist: messages stay the same.
 * `test/isa/asm-fast.test.ts` compares both paths on random lines and on random garbage.
 */

import { isIdentPart } from "./lexer.js";

/** Opcode size bits of the access sizes u8, u16, u32, u64, s8, s16, s32 (by index). */
const SIZE_BITS = [0x10, 0x08, 0x00, 0x18, 0x10, 0x08, 0x00];
/** Width in bits of the access sizes, same order. */
const SIZE_WIDTH = [8, 16, 32, 64, 8, 16, 32];
const SIGNED = 4;
const W = 0x00;
const DW = 0x18;

function isBlank(c: number): boolean {
  return c === 32 || c === 9 || c === 13;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Whether `s[a, e)` is the word `w`. */
function same(s: string, a: number, e: number, w: string): boolean {
  if (e - a !== w.length) return false;
  for (let k = 0; k < w.length; k++) if (s.charCodeAt(a + k) !== w.charCodeAt(k)) return false;
  return true;
}

/**
 * Reads one line of kernel-dialect source; the instruction it finds is left in its fields.
 * Registers are numbers: n for rN, 16 + n for wN.
 */
export class FastKernel {
  private s = "";
  /** the cursor */
  private p = 0;
  /** the last number read */
  private v = 0;
  /** register and offset of the last address read */
  private base = 0;
  private disp = 0;
  code = 0;
  dst = 0;
  src = 0;
  off = 0;
  imm = 0;
  /** the second half of an ld_imm64 (when code is 0x18) */
  imm2 = 0;
  /** 1-based column of the instruction; 0 when the line has none (blank or a comment) */
  column = 0;

  /**
   * Reads the line starting at `start`. Returns where it ends (its `\n`, or the source's length)
   * when this path has read it whole, with the instruction in the fields (or `column` 0 for a
   * line without one); -1 when the general path must read it.
   */
  line(s: string, start: number): number {
    this.s = s;
    this.p = start;
    const c = this.blanks();
    this.column = this.p - start + 1;
    this.dst = 0;
    this.src = 0;
    this.off = 0;
    this.imm = 0;
    let ok: boolean;
    if (c === 42) ok = this.store();
    else if (c === 114 || c === 119) {
      const r = this.reg();
      ok = r >= 0 ? this.assignment(r) : this.statement();
    } else if (c >= 97 && c <= 122) ok = this.statement();
    else {
      this.column = 0;
      ok = true;
    }
    return ok ? this.end() : -1;
  }

  /** Skips blanks; returns the character at the cursor (NaN at the end of the source). */
  private blanks(): number {
    const s = this.s;
    let p = this.p;
    let c = s.charCodeAt(p);
    while (isBlank(c)) c = s.charCodeAt(++p);
    this.p = p;
    return c;
  }

  /** Where the line ends when nothing but blanks and a comment is left, else -1. */
  private end(): number {
    const c = this.blanks();
    const s = this.s;
    const p = this.p;
    if (c === 10 || p >= s.length) return p;
    if (c === 35 || c === 59 || (c === 47 && s.charCodeAt(p + 1) === 47)) {
      const nl = s.indexOf("\n", p);
      return nl < 0 ? s.length : nl;
    }
    return -1;
  }

  /** Takes the one-character punctuation `c` (one that never starts a longer operator). */
  private punct(c: number): boolean {
    if (this.blanks() !== c) return false;
    this.p++;
    return true;
  }

  /** Takes the operator `c` that would be another one when `=` follows it (`*`, `=`). */
  private single(c: number): boolean {
    if (this.blanks() !== c || this.s.charCodeAt(this.p + 1) === 61) return false;
    this.p++;
    return true;
  }

  /** The word at the cursor, ended where the lexer ends it; -1 when the lexer would go on. */
  private wordEnd(): number {
    const s = this.s;
    let e = this.p;
    while (isIdentPart(s.charCodeAt(e))) e++;
    // `name#12` is one token for the lexer (helper names as the verifier log prints them)
    return s.charCodeAt(e) === 35 ? -1 : e;
  }

  /** Takes the word `w`. */
  private keyword(w: string): boolean {
    this.blanks();
    const e = this.wordEnd();
    if (e < 0 || !same(this.s, this.p, e, w)) return false;
    this.p = e;
    return true;
  }

  /** A register r0..r10 or w0..w10 (n, or 16 + n); -1, the cursor after blanks, when none. */
  private reg(): number {
    const c = this.blanks();
    if (c !== 114 && c !== 119) return -1;
    const s = this.s;
    let q = this.p + 1;
    let d = s.charCodeAt(q);
    if (!isDigit(d)) return -1;
    let n = d - 48;
    d = s.charCodeAt(++q);
    if (isDigit(d)) {
      n = n * 10 + d - 48;
      d = s.charCodeAt(++q);
    }
    if (n > 10 || isIdentPart(d) || d === 35) return -1;
    this.p = q;
    return c === 114 ? n : 16 + n;
  }

  /** A 64-bit register rN: its number, or -1. */
  private reg64(): number {
    const r = this.reg();
    return r < 16 ? r : -1;
  }

  /** `[+|-] NUM` (decimal or 0x hexadecimal, at most 2**53 - 1) into `v`. */
  private num(): boolean {
    const s = this.s;
    let c = this.blanks();
    let p = this.p;
    let neg = false;
    if (c === 45 || c === 43) {
      if (s.charCodeAt(p + 1) === 61) return false;
      neg = c === 45;
      c = s.charCodeAt(++p);
      while (isBlank(c)) c = s.charCodeAt(++p);
    }
    if (!isDigit(c)) return false;
    let v = 0;
    if (c === 48 && (s.charCodeAt(p + 1) | 0x20) === 120) {
      p += 2;
      const first = p;
      for (;;) {
        c = s.charCodeAt(p);
        const l = c | 0x20;
        if (isDigit(c)) v = v * 16 + c - 48;
        else if (l >= 97 && l <= 102) v = v * 16 + l - 87;
        else break;
        p++;
      }
      if (p === first) return false;
    } else {
      do {
        v = v * 10 + c - 48;
        c = s.charCodeAt(++p);
      } while (isDigit(c));
    }
    if (isIdentPart(c) || v > Number.MAX_SAFE_INTEGER) return false;
    this.p = p;
    this.v = neg ? -v : v;
    return true;
  }

  /** A number that fits a 32-bit immediate, as an int32 in `v`. */
  private imm32(): boolean {
    if (!this.num()) return false;
    const v = this.v;
    if (v < -0x8000_0000 || v >= 0x1_0000_0000) return false;
    this.v = v | 0;
    return true;
  }

  /** A number that fits the signed 16-bit offset, in `v` (as read: `-0` stays `-0`). */
  private off16(): boolean {
    return this.num() && this.v >= -0x8000 && this.v <= 0x7fff;
  }

  /** An access size u8..u64, s8..s32: its index in SIZE_BITS, or -1. */
  private sizeName(): number {
    const c = this.blanks();
    if (c !== 117 && c !== 115) return -1;
    const s = this.s;
    const p = this.p;
    const d = s.charCodeAt(p + 1);
    const e = s.charCodeAt(p + 2);
    let k: number;
    let q = p + 3;
    if (d === 56) {
      k = 0;
      q = p + 2;
    } else if (d === 49 && e === 54) k = 1;
    else if (d === 51 && e === 50) k = 2;
    else if (d === 54 && e === 52 && c === 117) k = 3;
    else return -1;
    const f = s.charCodeAt(q);
    if (isIdentPart(f) || f === 35) return -1;
    this.p = q;
    return c === 115 ? k + SIGNED : k;
  }

  /** `(SIZE *)`: the size's index, or -1. */
  private cast(): number {
    if (!this.punct(40)) return -1;
    const k = this.sizeName();
    return k >= 0 && this.single(42) && this.punct(41) ? k : -1;
  }

  /** `rN [(+|-) OFF]` into `base` and `disp`. */
  private address(): boolean {
    const r = this.reg64();
    if (r < 0) return false;
    this.base = r;
    const c = this.blanks();
    if (c === 43 || c === 45) {
      if (!this.off16()) return false;
      this.disp = this.v;
    } else this.disp = 0;
    return true;
  }

  /** `(rN [(+|-) OFF])` into `base` and `disp`. */
  private memref(): boolean {
    return this.punct(40) && this.address() && this.punct(41);
  }

  private set(code: number, dst: number, src: number, off: number, imm: number): true {
    this.code = code;
    this.dst = dst;
    this.src = src;
    this.off = off;
    this.imm = imm;
    return true;
  }

  /** `*(SIZE *)(rN + OFF) = rM` or `= IMM`. */
  private store(): boolean {
    if (!this.single(42)) return false;
    const k = this.cast();
    if (k < 0 || k >= SIGNED || !this.memref() || !this.single(61)) return false;
    const bits = SIZE_BITS[k] as number;
    const r = this.reg();
    if (r >= 0) return this.set(0x63 | bits, this.base, r & 15, this.disp, 0);
    return this.imm32() && this.set(0x62 | bits, this.base, 0, this.disp, this.v);
  }

  /** A line that starts with a word: exit, call, callx, goto, gotol, may_goto, if, lock. */
  private statement(): boolean {
    const e = this.wordEnd();
    if (e < 0) return false;
    const s = this.s;
    const a = this.p;
    this.p = e;
    switch (s.charCodeAt(a)) {
      case 101: // exit
        return same(s, a, e, "exit") && this.set(0x95, 0, 0, 0, 0);
      case 99: // call N, callx rN
        if (same(s, a, e, "call")) return this.imm32() && this.set(0x85, 0, 0, 0, this.v);
        if (same(s, a, e, "callx")) {
          const r = this.reg();
          return r >= 0 && this.set(0x8d, r & 15, 0, 0, 0);
        }
        return false;
      case 103: // goto +N, gotol +N
        if (same(s, a, e, "goto")) return this.off16() && this.set(0x05, 0, 0, this.v, 0);
        if (same(s, a, e, "gotol")) return this.imm32() && this.set(0x06, 0, 0, 0, this.v);
        return false;
      case 109: // may_goto +N
        return same(s, a, e, "may_goto") && this.off16() && this.set(0xe5, 0, 0, this.v, 0);
      case 105: // if
        return same(s, a, e, "if") && this.conditional();
      case 108: // lock
        return same(s, a, e, "lock") && this.lock();
      default:
        return false;
    }
  }

  /** The comparison of a conditional jump: its operation bits, the cursor after it; -1 when none. */
  private comparison(): number {
    const c = this.blanks();
    const s = this.s;
    const d = s.charCodeAt(this.p + 1);
    let op: number;
    let len = 2;
    switch (c) {
      case 61: // ==
        if (d !== 61) return -1;
        op = 0x10;
        break;
      case 33: // !=
        if (d !== 61) return -1;
        op = 0x50;
        break;
      case 62: // > >=
        if (d === 62) return -1;
        if (d === 61) op = 0x30;
        else {
          op = 0x20;
          len = 1;
        }
        break;
      case 60: // < <=
        if (d === 60) return -1;
        if (d === 61) op = 0xb0;
        else {
          op = 0xa0;
          len = 1;
        }
        break;
      case 38: // &
        if (d === 61) return -1;
        op = 0x40;
        len = 1;
        break;
      case 115: {
        // s> s>= s< s<=
        const e = s.charCodeAt(this.p + 2);
        if (d === 62) {
          if (e === 62) return -1;
          op = e === 61 ? 0x70 : 0x60;
        } else if (d === 60) op = e === 61 ? 0xd0 : 0xc0;
        else return -1;
        if (e === 61) len = 3;
        break;
      }
      default:
        return -1;
    }
    this.p += len;
    return op;
  }

  /** `if rA OP rB goto +N`, `if rA OP IMM goto +N` (after `if`). */
  private conditional(): boolean {
    const a = this.reg();
    if (a < 0) return false;
    const op = this.comparison();
    if (op < 0) return false;
    const cls = a < 16 ? 0x05 : 0x06;
    const b = this.reg();
    let code: number;
    let src = 0;
    let imm = 0;
    if (b >= 0) {
      if (b < 16 !== a < 16) return false;
      code = op | 0x08 | cls;
      src = b & 15;
    } else {
      if (!this.imm32()) return false;
      code = op | cls;
      imm = this.v;
    }
    return this.keyword("goto") && this.off16() && this.set(code, a & 15, src, this.v, imm);
  }

  /** `lock *(SIZE *)(rN + OFF) OP= rM` (after `lock`). */
  private lock(): boolean {
    if (!this.single(42)) return false;
    const k = this.cast();
    if (k < 0) return false;
    const bits = SIZE_BITS[k] as number;
    if ((bits !== W && bits !== DW) || !this.memref()) return false;
    const c = this.blanks();
    if (this.s.charCodeAt(this.p + 1) !== 61) return false;
    let op: number;
    if (c === 43) op = 0x00;
    else if (c === 124) op = 0x40;
    else if (c === 38) op = 0x50;
    else if (c === 94) op = 0xa0;
    else return false;
    this.p += 2;
    const r = this.reg();
    return r >= 0 && this.set(0xc3 | bits, this.base, r & 15, this.disp, op);
  }

  /** `rD OP= rS`, `rD OP= IMM`, or `rD = ...` (after the register). */
  private assignment(d: number): boolean {
    const c = this.blanks();
    const s = this.s;
    const p = this.p;
    const c1 = s.charCodeAt(p + 1);
    const c2 = s.charCodeAt(p + 2);
    let op: number;
    let signed = 0;
    let len = 2;
    switch (c) {
      case 61: // =
        if (c1 === 61) return false;
        this.p = p + 1;
        return this.rhs(d);
      case 43:
        op = 0x00;
        break;
      case 45:
        op = 0x10;
        break;
      case 42:
        op = 0x20;
        break;
      case 47:
        op = 0x30;
        break;
      case 124:
        op = 0x40;
        break;
      case 38:
        op = 0x50;
        break;
      case 37:
        op = 0x90;
        break;
      case 94:
        op = 0xa0;
        break;
      case 60: // <<=
        if (c1 !== 60 || c2 !== 61) return false;
        op = 0x60;
        len = 3;
        break;
      case 62: // >>=
        if (c1 !== 62 || c2 !== 61) return false;
        op = 0x70;
        len = 3;
        break;
      case 115: // s>>= s/= s%=
        if (c1 === 62 && c2 === 62 && s.charCodeAt(p + 3) === 61) {
          op = 0xc0;
          len = 4;
        } else if ((c1 === 47 || c1 === 37) && c2 === 61) {
          op = c1 === 47 ? 0x30 : 0x90;
          signed = 1;
          len = 3;
        } else return false;
        break;
      default:
        return false;
    }
    if (len === 2 && c1 !== 61) return false;
    this.p = p + len;
    const cls = d < 16 ? 0x07 : 0x04;
    const r = this.reg();
    if (r >= 0) return r < 16 === d < 16 && this.set(op | 0x08 | cls, d & 15, r & 15, signed, 0);
    return this.imm32() && this.set(op | cls, d & 15, 0, signed, this.v);
  }

  /** What follows `rD =`. */
  private rhs(d: number): boolean {
    const c = this.blanks();
    const n = d & 15;
    const wide = d < 16;
    const cls = wide ? 0x07 : 0x04;
    if (c === 42) return this.load(d);
    if (c === 40) {
      // (s8)rS
      this.p++;
      const k = this.sizeName();
      if (k < SIGNED || !this.punct(41)) return false;
      const r = this.reg();
      const bits = SIZE_WIDTH[k] as number;
      if (r < 0 || r < 16 !== wide || (!wide && bits === 32)) return false;
      return this.set(0xb8 | cls, n, r & 15, bits, 0);
    }
    if (c === 45 && this.s.charCodeAt(this.p + 1) !== 61) {
      // -rD
      const at = this.p;
      this.p++;
      const r = this.reg();
      if (r >= 0) return r === d && this.set(0x80 | cls, n, 0, 0, 0);
      this.p = at;
    }
    if (c === 45 || c === 43 || isDigit(c)) {
      if (!this.num()) return false;
      const v = this.v;
      if (this.keyword("ll")) {
        if (!wide) return false;
        this.imm2 = Math.floor(v / 0x1_0000_0000) | 0;
        return this.set(0x18, n, 0, 0, v | 0);
      }
      if (v < -0x8000_0000 || v >= 0x1_0000_0000) return false;
      return this.set(0xb4 | cls, n, 0, 0, v | 0);
    }
    const r = this.reg();
    if (r >= 0) return r < 16 === wide && this.set(0xbc | cls, n, r & 15, 0, 0);
    return this.named(d);
  }

  /** `rD = *(SIZE *)(rS + OFF)` and `r0 = *(SIZE *)skb[...]`. */
  private load(d: number): boolean {
    if (!this.single(42)) return false;
    const k = this.cast();
    if (k < 0) return false;
    const bits = SIZE_BITS[k] as number;
    if (this.blanks() === 115) {
      const e = this.wordEnd();
      if (e < 0 || !same(this.s, this.p, e, "skb")) return false;
      this.p = e;
      // legacy packet loads: r0 only, no sign, no 8-byte size
      if (k >= SIGNED || (d & 15) !== 0 || bits === DW || !this.punct(91)) return false;
      const r = this.reg();
      if (r >= 0) {
        const c = this.blanks();
        if (c === 43 || c === 45) {
          if (!this.imm32()) return false;
        } else this.v = 0;
        return this.punct(93) && this.set(0x40 | bits, 0, r & 15, 0, this.v);
      }
      return this.imm32() && this.punct(93) && this.set(0x20 | bits, 0, 0, 0, this.v);
    }
    if (!this.memref()) return false;
    return this.set((k >= SIGNED ? 0x81 : 0x61) | bits, d & 15, this.base, this.disp, 0);
  }

  /** `rD = WORD ...`: byte swaps, addr_space_cast and the atomics with a result. */
  private named(d: number): boolean {
    const e = this.wordEnd();
    if (e < 0) return false;
    const s = this.s;
    const a = this.p;
    this.p = e;
    const len = e - a;
    const n = d & 15;
    switch (s.charCodeAt(a)) {
      case 98: // bswap16/32/64, be16/32/64
      case 108: {
        // le16/32/64
        let code: number;
        if (len === 7 && same(s, a, a + 5, "bswap")) code = 0xd7;
        else if (len === 4 && same(s, a, a + 2, "be")) code = 0xdc;
        else if (len === 4 && same(s, a, a + 2, "le")) code = 0xd4;
        else return false;
        const x = s.charCodeAt(e - 2);
        const y = s.charCodeAt(e - 1);
        let width: number;
        if (x === 49 && y === 54) width = 16;
        else if (x === 51 && y === 50) width = 32;
        else if (x === 54 && y === 52) width = 64;
        else return false;
        return d < 16 && this.reg() === d && this.set(code, n, 0, 0, width);
      }
      case 97: // addr_space_cast, atomic_*, atomic64_*
        if (same(s, a, e, "addr_space_cast")) return this.addrSpaceCast(n);
        if (len > 9 && same(s, a, a + 9, "atomic64_")) return this.atomicCall(d, a + 9, e);
        if (len > 7 && same(s, a, a + 7, "atomic_")) return this.atomicCall(d, a + 7, e);
        return false;
      case 120: // xchg_64, xchg32_32
        if (same(s, a, e, "xchg_64")) return this.llvmAtomic(d, DW, false);
        if (same(s, a, e, "xchg32_32")) return this.llvmAtomic(d, W, false);
        return false;
      case 99: // cmpxchg_64, cmpxchg32_32
        if (same(s, a, e, "cmpxchg_64")) return this.llvmAtomic(d, DW, true);
        if (same(s, a, e, "cmpxchg32_32")) return this.llvmAtomic(d, W, true);
        return false;
      default:
        return false;
    }
  }

  /** `(rS, A, B)` after `rD = addr_space_cast`: only the two casts the verifier knows. */
  private addrSpaceCast(n: number): boolean {
    if (!this.punct(40)) return false;
    const r = this.reg();
    if (r < 0 || !this.punct(44) || !this.imm32()) return false;
    const to = this.v;
    if (!this.punct(44) || !this.imm32()) return false;
    const from = this.v;
    if (!this.punct(41)) return false;
    if (!((to === 0 && from === 1) || (to === 1 && from === 0))) return false;
    return this.set(0xbf, n, r & 15, 1, (to << 16) | from);
  }

  /** `, r0` of a cmpxchg (the comparand is r0, and so is the result). */
  private comparand(d: number): boolean {
    if (!this.punct(44)) return false;
    const r = this.reg();
    return r >= 0 && (r & 15) === 0 && (d & 15) === 0;
  }

  /** The operand and `)` of an atomic with a result; fills the instruction. */
  private atomicEnd(d: number, bits: number, op: number, cmp: boolean): boolean {
    if (cmp && !this.comparand(d)) return false;
    if (!this.punct(44)) return false;
    const v = this.reg();
    if (v < 0 || !this.punct(41)) return false;
    if (!cmp && (v & 15) !== (d & 15)) return false;
    return this.set(0xc3 | bits, this.base, v & 15, this.disp, op);
  }

  /** `(rP + OFF, [r0,] rV)` after `rD = xchg_64` and the like (llvm's spelling). */
  private llvmAtomic(d: number, bits: number, cmp: boolean): boolean {
    if (!this.punct(40) || !this.address()) return false;
    return this.atomicEnd(d, bits, cmp ? 0xf1 : 0xe1, cmp);
  }

  /** `((SIZE *)(rP + OFF), [r0,] rV)` after `rD = atomic_NAME` / `atomic64_NAME`. */
  private atomicCall(d: number, a: number, e: number): boolean {
    const s = this.s;
    let op: number;
    if (same(s, a, e, "fetch_add")) op = 0x01;
    else if (same(s, a, e, "fetch_or")) op = 0x41;
    else if (same(s, a, e, "fetch_and")) op = 0x51;
    else if (same(s, a, e, "fetch_xor")) op = 0xa1;
    else if (same(s, a, e, "xchg")) op = 0xe1;
    else if (same(s, a, e, "cmpxchg")) op = 0xf1;
    else return false;
    if (!this.punct(40)) return false;
    const k = this.cast();
    if (k < 0) return false;
    const bits = SIZE_BITS[k] as number;
    if ((bits !== W && bits !== DW) || !this.memref()) return false;
    return this.atomicEnd(d, bits, op, op === 0xf1);
  }
}
