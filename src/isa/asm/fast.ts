/**
 * A fast path for the kernel dialect: reads the common instruction lines straight from the
 * characters of the source, making no string and no object, and checks them as it goes.
 *
 * Why it exists: the general path (lexer, then parser, then validation of every instruction at
 * the end) costs a few hundred nanoseconds a line, and in a fresh process most of a big file used
 * to be read before V8 had optimised the many functions it goes through (their optimising
 * compiles alone took over 100 ms of CPU). This path is three functions: `next` reads one token,
 * `line` walks a table of the known instruction forms (a trie over token classes, built once
 * from the patterns below) and `build` checks the values and makes the fields. Few functions and
 * little code mean V8 optimises them early and cheaply.
 *
 * It only accepts a line when it is sure of the outcome: the line holds one instruction of a form
 * in the table (no label, no name to resolve, no log prefix), its tokens are the lexer's, the
 * general path would read the very same fields from it, and the instruction passes
 * `instructionProblem` (so the end of the run need not check it again). Anything else, every
 * mistake included, is left to the general path, which reads the line from its start as if this
 * path did not exist: messages stay the same. `test/isa/asm-fast.test.ts` compares both paths on
 * random lines, near misses and garbage.
 */

import { isIdentPart, isIdentStart, matchOp, Op } from "./lexer.js";

// Token classes (at most NCLASS). A token also has a value (`FastKernel.val`): a register
// (n for rN, 16 + n for wN), a number, or what an operator or a word stands for.
const BAD = -1;
const END = 0;
const REG = 1;
/** a number without a sign */
const NUM = 2;
/** a number with a sign (`-4`, `+ 4`): the lexer's MINUS/PLUS and NUM, as the parsers take them */
const SNUM = 3;
const LPAREN = 4;
const RPAREN = 5;
const LBRACK = 6;
const RBRACK = 7;
const COMMA = 8;
const ASSIGN = 9;
const STAR = 10;
const MINUS = 11;
/** a comparison; value: the jump operation */
const CMP = 12;
/** `+=` and the like; value: the ALU operation, + 256 when signed (`s/=`, `s%=`) */
const ALU = 13;
const EXIT = 14;
const CALL = 15;
const CALLX = 16;
const GOTO = 17;
const GOTOL = 18;
const MAY_GOTO = 19;
const IF = 20;
const LOCK = 21;
const SKB = 22;
const LL = 23;
/** u8..u64, s8..s32; value: index in SIZE_BITS */
const SIZE = 24;
/** bswapN, beN, leN; value: opcode + 256 * width */
const SWAP = 25;
const ASCAST = 26;
/** xchg_64 and the like (llvm's spelling); value: size bits + 256 when it is a cmpxchg */
const XCHG = 27;
/** atomic_fetch_add and the like; value: the atomic operation */
const ATOMIC = 28;
const NCLASS = 32;

/** Opcode size bits of the access sizes u8, u16, u32, u64, s8, s16, s32 (by index). */
const SIZE_BITS = [0x10, 0x08, 0x00, 0x18, 0x10, 0x08, 0x00];
/** Width in bits of the access sizes, same order. */
const SIZE_WIDTH = [8, 16, 32, 64, 8, 16, 32];
const SIGNED = 4;
const W = 0x00;
const DW = 0x18;
const CMPXCHG = 0xf1;

/** Class and value of the lexer's operators (by operator id); BAD for those of no fast form. */
const OP_CLASS = new Int8Array(64).fill(BAD);
const OP_VALUE = new Int16Array(64);
for (const [op, cls, value] of [
  [Op.LPAREN, LPAREN, 0],
  [Op.RPAREN, RPAREN, 0],
  [Op.LBRACK, LBRACK, 0],
  [Op.RBRACK, RBRACK, 0],
  [Op.COMMA, COMMA, 0],
  [Op.ASSIGN, ASSIGN, 0],
  [Op.STAR, STAR, 0],
  [Op.MINUS, MINUS, 0],
  [Op.EQ, CMP, 0x10],
  [Op.GT, CMP, 0x20],
  [Op.GE, CMP, 0x30],
  [Op.AMP, CMP, 0x40],
  [Op.NE, CMP, 0x50],
  [Op.SGT, CMP, 0x60],
  [Op.SGE, CMP, 0x70],
  [Op.LT, CMP, 0xa0],
  [Op.LE, CMP, 0xb0],
  [Op.SLT, CMP, 0xc0],
  [Op.SLE, CMP, 0xd0],
  [Op.ADD_ASSIGN, ALU, 0x00],
  [Op.SUB_ASSIGN, ALU, 0x10],
  [Op.MUL_ASSIGN, ALU, 0x20],
  [Op.DIV_ASSIGN, ALU, 0x30],
  [Op.OR_ASSIGN, ALU, 0x40],
  [Op.AND_ASSIGN, ALU, 0x50],
  [Op.LSH_ASSIGN, ALU, 0x60],
  [Op.RSH_ASSIGN, ALU, 0x70],
  [Op.MOD_ASSIGN, ALU, 0x90],
  [Op.XOR_ASSIGN, ALU, 0xa0],
  [Op.ARSH_ASSIGN, ALU, 0xc0],
  [Op.SDIV_ASSIGN, ALU, 0x130],
  [Op.SMOD_ASSIGN, ALU, 0x190],
] as const) {
  OP_CLASS[op] = cls;
  OP_VALUE[op] = value;
}

/** The words of the fast forms: class and value. */
const WORDS: readonly [string, number, number][] = [
  ["exit", EXIT, 0],
  ["call", CALL, 0],
  ["callx", CALLX, 0],
  ["goto", GOTO, 0],
  ["gotol", GOTOL, 0],
  ["may_goto", MAY_GOTO, 0],
  ["if", IF, 0],
  ["lock", LOCK, 0],
  ["skb", SKB, 0],
  ["ll", LL, 0],
  ["u8", SIZE, 0],
  ["u16", SIZE, 1],
  ["u32", SIZE, 2],
  ["u64", SIZE, 3],
  ["s8", SIZE, 4],
  ["s16", SIZE, 5],
  ["s32", SIZE, 6],
  ["bswap16", SWAP, 0xd7 + 256 * 16],
  ["bswap32", SWAP, 0xd7 + 256 * 32],
  ["bswap64", SWAP, 0xd7 + 256 * 64],
  ["be16", SWAP, 0xdc + 256 * 16],
  ["be32", SWAP, 0xdc + 256 * 32],
  ["be64", SWAP, 0xdc + 256 * 64],
  ["le16", SWAP, 0xd4 + 256 * 16],
  ["le32", SWAP, 0xd4 + 256 * 32],
  ["le64", SWAP, 0xd4 + 256 * 64],
  ["addr_space_cast", ASCAST, 0],
  ["xchg_64", XCHG, DW],
  ["xchg32_32", XCHG, W],
  ["cmpxchg_64", XCHG, DW + 256],
  ["cmpxchg32_32", XCHG, W + 256],
  ...["atomic_", "atomic64_"].flatMap((prefix): [string, number, number][] => [
    [`${prefix}fetch_add`, ATOMIC, 0x01],
    [`${prefix}fetch_or`, ATOMIC, 0x41],
    [`${prefix}fetch_and`, ATOMIC, 0x51],
    [`${prefix}fetch_xor`, ATOMIC, 0xa1],
    [`${prefix}xchg`, ATOMIC, 0xe1],
    [`${prefix}cmpxchg`, ATOMIC, CMPXCHG],
  ]),
];

/** The hash `next` computes of a word as it reads it. */
function hashOf(word: string): number {
  let h = 0;
  for (let k = 0; k < word.length; k++) h = (h * 31 + word.charCodeAt(k)) | 0;
  return h;
}

/** Open-addressing table of WORDS by hash: index + 1, 0 for empty. */
const WORD_MASK = 127;
const WORD_SLOTS = new Int16Array(WORD_MASK + 1);
const WORD_HASH = WORDS.map(([w]) => hashOf(w));
WORDS.forEach(([w], k) => {
  let at = hashOf(w) & WORD_MASK;
  while (WORD_SLOTS[at] !== 0) at = (at + 1) & WORD_MASK;
  WORD_SLOTS[at] = k + 1;
});

// Value slots the forms fill (`FastKernel.v`); NONE takes what is not kept.
const DST = 0;
const SRC = 1;
const SRC2 = 2;
const BASE = 3;
const SIZ = 4;
const OFF = 5;
const IMM = 6;
const IMM2 = 7;
const OPV = 8;
const KW = 9;
const NONE = 15;

// The instruction forms.
const F_BLANK = 0;
const F_EXIT = 1;
const F_CALL = 2;
const F_CALLX = 3;
const F_GOTO = 4;
const F_GOTOL = 5;
const F_MAY_GOTO = 6;
const F_JMP_X = 7;
const F_JMP_K = 8;
const F_STORE_X = 9;
const F_STORE_K = 10;
const F_LOAD = 11;
const F_LD_ABS = 12;
const F_LD_IND = 13;
const F_ALU_X = 14;
const F_ALU_K = 15;
const F_MOV_X = 16;
const F_MOV_K = 17;
const F_LD_IMM64 = 18;
const F_NEG = 19;
const F_MOVSX = 20;
const F_SWAP = 21;
const F_ASCAST = 22;
const F_XCHG = 23;
const F_CMPXCHG = 24;
const F_ATOMIC = 25;
const F_ATOMIC_CMP = 26;
const F_LOCK = 27;

/**
 * The forms as token patterns: a class name or a literal, `:slot` to keep its value, `?` when it
 * may be left out. IMM is a number with or without a sign.
 */
const MEM = "( REG:base SNUM:off? )";
const FORMS: readonly [number, string][] = [
  [F_BLANK, ""],
  [F_EXIT, "exit"],
  [F_CALL, "call IMM:imm"],
  [F_CALLX, "callx REG:dst"],
  [F_GOTO, "goto IMM:off"],
  [F_GOTOL, "gotol IMM:imm"],
  [F_MAY_GOTO, "may_goto IMM:off"],
  [F_JMP_X, "if REG:dst CMP:op REG:src goto IMM:off"],
  [F_JMP_K, "if REG:dst CMP:op IMM:imm goto IMM:off"],
  [F_STORE_X, `* ( SIZE:size * ) ${MEM} = REG:src`],
  [F_STORE_K, `* ( SIZE:size * ) ${MEM} = IMM:imm`],
  [F_LOAD, `REG:dst = * ( SIZE:size * ) ${MEM}`],
  [F_LD_ABS, "REG:dst = * ( SIZE:size * ) skb [ IMM:imm ]"],
  [F_LD_IND, "REG:dst = * ( SIZE:size * ) skb [ REG:src SNUM:imm? ]"],
  [F_ALU_X, "REG:dst ALU:op REG:src"],
  [F_ALU_K, "REG:dst ALU:op IMM:imm"],
  [F_MOV_X, "REG:dst = REG:src"],
  [F_MOV_K, "REG:dst = IMM:imm"],
  [F_LD_IMM64, "REG:dst = IMM:imm ll"],
  [F_NEG, "REG:dst = - REG:src"],
  [F_MOVSX, "REG:dst = ( SIZE:size ) REG:src"],
  [F_SWAP, "REG:dst = SWAP:kw REG:src"],
  [F_ASCAST, "REG:dst = addr_space_cast ( REG:src , IMM:imm , IMM:imm2 )"],
  [F_XCHG, "REG:dst = XCHG:kw ( REG:base SNUM:off? , REG:src )"],
  [F_CMPXCHG, "REG:dst = XCHG:kw ( REG:base SNUM:off? , REG:src , REG:src2 )"],
  [F_ATOMIC, `REG:dst = ATOMIC:kw ( ( SIZE:size * ) ${MEM} , REG:src )`],
  [F_ATOMIC_CMP, `REG:dst = ATOMIC:kw ( ( SIZE:size * ) ${MEM} , REG:src , REG:src2 )`],
  [F_LOCK, `lock * ( SIZE:size * ) ${MEM} ALU:op REG:src`],
];

const CLASS_NAMES: Record<string, readonly number[]> = {
  REG: [REG],
  NUM: [NUM],
  SNUM: [SNUM],
  IMM: [NUM, SNUM],
  CMP: [CMP],
  ALU: [ALU],
  SIZE: [SIZE],
  SWAP: [SWAP],
  XCHG: [XCHG],
  ATOMIC: [ATOMIC],
  "(": [LPAREN],
  ")": [RPAREN],
  "[": [LBRACK],
  "]": [RBRACK],
  ",": [COMMA],
  "=": [ASSIGN],
  "*": [STAR],
  "-": [MINUS],
};
const SLOT_NAMES: Record<string, number> = {
  dst: DST,
  src: SRC,
  src2: SRC2,
  base: BASE,
  size: SIZ,
  off: OFF,
  imm: IMM,
  imm2: IMM2,
  op: OPV,
  kw: KW,
};

/**
 * The trie of the forms: from state s, a token of class c goes to state NEXT[s * NCLASS + c]
 * (0: no form goes on so) and its value is kept in slot SLOT[...]; FORM of the state reached by
 * END is the form read.
 */
const MAX_STATES = 512;
const NEXT = new Uint16Array(MAX_STATES * NCLASS);
const SLOT = new Uint8Array(MAX_STATES * NCLASS).fill(NONE);
const FORM = new Int8Array(MAX_STATES).fill(-1);
{
  let states = 1;
  const classesOf = (token: string): readonly number[] => {
    const named = CLASS_NAMES[token];
    if (named !== undefined) return named;
    const word = WORDS.find(([w]) => w === token);
    if (word === undefined) throw new Error(`fast.ts: unknown pattern token '${token}'`);
    return [word[1]];
  };
  const insert = (form: number, tokens: readonly string[]): void => {
    let state = 0;
    for (const token of [...tokens, "END"]) {
      const [name = "", slotName] = token.split(":");
      const classes = name === "END" ? [END] : classesOf(name);
      const slot = slotName === undefined ? NONE : (SLOT_NAMES[slotName] as number);
      let to = 0;
      for (const c of classes) to ||= NEXT[state * NCLASS + c] as number;
      if (to === 0) to = states++;
      for (const c of classes) {
        const at = state * NCLASS + c;
        if ((NEXT[at] !== 0 && NEXT[at] !== to) || (NEXT[at] !== 0 && SLOT[at] !== slot))
          throw new Error(`fast.ts: form ${form} conflicts with another at '${token}'`);
        NEXT[at] = to;
        SLOT[at] = slot;
      }
      state = to;
    }
    if (FORM[state] !== -1 && FORM[state] !== form) throw new Error(`fast.ts: form ${form} is ambiguous`);
    FORM[state] = form;
    if (states >= MAX_STATES) throw new Error("fast.ts: too many states");
  };
  for (const [form, pattern] of FORMS) {
    // every choice of the optional tokens
    let variants: string[][] = [[]];
    for (const token of pattern.split(" ").filter((t) => t !== "")) {
      const optional = token.endsWith("?");
      const t = optional ? token.slice(0, -1) : token;
      variants = variants.flatMap((v) => (optional ? [v, [...v, t]] : [[...v, t]]));
    }
    for (const v of variants) insert(form, v);
  }
}

function isBlank(c: number): boolean {
  return c === 32 || c === 9 || c === 13;
}

function fitsImm32(v: number): boolean {
  return v >= -0x8000_0000 && v < 0x1_0000_0000;
}

function fitsOff16(v: number): boolean {
  return v >= -0x8000 && v <= 0x7fff;
}

/** Reads lines of kernel-dialect source; the instruction read is left in the fields. */
export class FastKernel {
  private s = "";
  /** the cursor */
  private p = 0;
  /** where the last token started */
  private at = 0;
  /** where the line ends (its `\n` or the source's length); -1 after a comment: not looked for yet */
  private lineEnd = 0;
  /** the value of the last token */
  private val = 0;
  /** the halves of the last hexadecimal number */
  private lo = 0;
  private hi = 0;
  /** values kept by the form, by slot */
  private readonly v = new Float64Array(16);
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
    const v = this.v;
    v[OFF] = 0;
    v[IMM] = 0;
    let cls = this.next();
    this.column = this.at - start + 1;
    let state = 0;
    for (;;) {
      if (cls < 0) return -1;
      const at = state * NCLASS + cls;
      state = NEXT[at] as number;
      if (state === 0) return -1;
      v[SLOT[at] as number] = this.val;
      if (cls === END) break;
      cls = this.next();
    }
    if (!this.build(FORM[state] as number)) return -1;
    if (this.lineEnd >= 0) return this.lineEnd;
    const nl = s.indexOf("\n", this.p);
    return nl < 0 ? s.length : nl;
  }

  /** Reads the next token as the lexer would: returns its class (BAD when not of a fast form). */
  private next(): number {
    const s = this.s;
    let p = this.p;
    let c = s.charCodeAt(p);
    while (isBlank(c)) c = s.charCodeAt(++p);
    this.at = p;
    if (c >= 97 && c <= 122) {
      // s<, s>=, s>>=, s/= ... are operators
      if (c === 115) {
        const d = s.charCodeAt(p + 1);
        if (d === 60 || d === 62 || d === 47 || d === 37) {
          const m = matchOp(s, p, s.length);
          if (m !== 0) {
            this.p = p + (m & 7);
            this.val = OP_VALUE[m >> 3] as number;
            return OP_CLASS[m >> 3] as number;
          }
        }
      }
      // a word: a register or one of WORDS
      const a = p;
      let h = 0;
      do {
        h = (h * 31 + c) | 0;
        c = s.charCodeAt(++p);
      } while (isIdentPart(c));
      // `name#12` is one token for the lexer (helpers as the verifier log prints them)
      if (c === 35) return BAD;
      this.p = p;
      const first = s.charCodeAt(a);
      const len = p - a;
      if ((first === 114 || first === 119) && len <= 3 && len >= 2) {
        const d = s.charCodeAt(a + 1) - 48;
        const e = len === 3 ? s.charCodeAt(a + 2) - 48 : 0;
        if (d >= 0 && d <= 9 && e >= 0 && e <= 9) {
          const n = len === 3 ? d * 10 + e : d;
          if (n > 10) return BAD;
          this.val = first === 114 ? n : 16 + n;
          return REG;
        }
      }
      for (let slot = h & WORD_MASK; ; slot = (slot + 1) & WORD_MASK) {
        const k = (WORD_SLOTS[slot] as number) - 1;
        if (k < 0) return BAD;
        if (WORD_HASH[k] !== h) continue;
        const word = WORDS[k] as [string, number, number];
        const w = word[0];
        if (w.length !== len) continue;
        let i = 0;
        while (i < len && s.charCodeAt(a + i) === w.charCodeAt(i)) i++;
        if (i < len) continue;
        this.val = word[2];
        return word[1];
      }
    }
    // a sign and the number after it make one SNUM
    let sign = 0;
    if ((c === 45 || c === 43) && s.charCodeAt(p + 1) !== 61) {
      let q = p + 1;
      let d = s.charCodeAt(q);
      while (isBlank(d)) d = s.charCodeAt(++q);
      if (!(d >= 48 && d <= 57)) {
        if (c === 43) return BAD;
        this.p = p + 1;
        return MINUS;
      }
      sign = c === 45 ? -1 : 1;
      p = q;
      c = d;
    }
    if (c >= 48 && c <= 57) {
      let v = 0;
      if (c === 48 && (s.charCodeAt(p + 1) | 0x20) === 120) {
        // hexadecimal, up to 64 bits (ld_imm64), in halves
        let lo = 0;
        let hi = 0;
        p += 2;
        const digits = p;
        for (; ; p++) {
          const d = s.charCodeAt(p);
          const l = d | 0x20;
          let x: number;
          if (d >= 48 && d <= 57) x = d - 48;
          else if (l >= 97 && l <= 102) x = l - 87;
          else break;
          hi = hi * 16 + (lo >>> 28);
          lo = ((lo << 4) | x) >>> 0;
        }
        if (p === digits || hi > 0xffff_ffff) return BAD;
        this.lo = lo;
        this.hi = hi;
        v = hi * 0x1_0000_0000 + lo;
        // beyond 2**53 the general path makes a bigint: only `rN = 0x... ll` takes one here
        if (v > Number.MAX_SAFE_INTEGER && sign !== 0) return BAD;
      } else {
        do {
          v = v * 10 + c - 48;
          c = s.charCodeAt(++p);
        } while (c >= 48 && c <= 57);
        if (v > Number.MAX_SAFE_INTEGER) return BAD;
      }
      if (isIdentPart(s.charCodeAt(p))) return BAD;
      this.p = p;
      this.val = sign < 0 ? -v : v;
      return sign === 0 ? NUM : SNUM;
    }
    if (c === 10 || p >= s.length) {
      this.p = p;
      this.lineEnd = p;
      return END;
    }
    if (c === 35 || c === 59 || (c === 47 && s.charCodeAt(p + 1) === 47)) {
      this.p = p;
      this.lineEnd = -1;
      return END;
    }
    // `%r1` is a uBPF register for the lexer
    if (c === 37 && isIdentStart(s.charCodeAt(p + 1))) return BAD;
    const m = matchOp(s, p, s.length);
    if (m === 0) return BAD;
    this.p = p + (m & 7);
    this.val = OP_VALUE[m >> 3] as number;
    return OP_CLASS[m >> 3] as number;
  }

  /** Checks the values of form `form` and makes the instruction; false when the general path must. */
  private build(form: number): boolean {
    const v = this.v;
    const d = v[DST] as number;
    const s = v[SRC] as number;
    const base = v[BASE] as number;
    const off = v[OFF] as number;
    const imm = v[IMM] as number;
    const size = v[SIZ] as number;
    const bits = SIZE_BITS[size] as number;
    const n = d & 15;
    const wide = d < 16;
    const alu = wide ? 0x07 : 0x04;
    switch (form) {
      case F_BLANK:
        this.column = 0;
        return true;
      case F_EXIT:
        return this.set(0x95);
      case F_CALL:
        return fitsImm32(imm) && this.set(0x85, 0, 0, 0, imm | 0);
      case F_CALLX:
        return this.set(0x8d, n);
      case F_GOTO:
        return fitsOff16(off) && this.set(0x05, 0, 0, off);
      case F_GOTOL:
        return fitsImm32(imm) && this.set(0x06, 0, 0, 0, imm | 0);
      case F_MAY_GOTO:
        return fitsOff16(off) && this.set(0xe5, 0, 0, off);
      case F_JMP_X:
        return (
          s < 16 === wide && fitsOff16(off) && this.set(v[OPV] | 0x08 | (wide ? 0x05 : 0x06), n, s & 15, off)
        );
      case F_JMP_K:
        return (
          fitsImm32(imm) && fitsOff16(off) && this.set(v[OPV] | (wide ? 0x05 : 0x06), n, 0, off, imm | 0)
        );
      case F_STORE_X:
        return size < SIGNED && base < 16 && fitsOff16(off) && this.set(0x63 | bits, base, s & 15, off);
      case F_STORE_K:
        return (
          size < SIGNED &&
          base < 16 &&
          fitsOff16(off) &&
          fitsImm32(imm) &&
          this.set(0x62 | bits, base, 0, off, imm | 0)
        );
      case F_LOAD:
        return base < 16 && fitsOff16(off) && this.set((size < SIGNED ? 0x61 : 0x81) | bits, n, base, off);
      case F_LD_ABS:
        // legacy packet loads: r0 only, no sign, no 8-byte size
        return (
          n === 0 && size < SIGNED && bits !== DW && fitsImm32(imm) && this.set(0x20 | bits, 0, 0, 0, imm | 0)
        );
      case F_LD_IND:
        return (
          n === 0 &&
          size < SIGNED &&
          bits !== DW &&
          fitsImm32(imm) &&
          this.set(0x40 | bits, 0, s & 15, 0, imm | 0)
        );
      case F_ALU_X: {
        const op = v[OPV] as number;
        return s < 16 === wide && this.set((op & 0xff) | 0x08 | alu, n, s & 15, op >> 8);
      }
      case F_ALU_K: {
        const op = v[OPV] as number;
        return fitsImm32(imm) && this.set((op & 0xff) | alu, n, 0, op >> 8, imm | 0);
      }
      case F_MOV_X:
        return s < 16 === wide && this.set(0xbc | alu, n, s & 15);
      case F_MOV_K:
        return fitsImm32(imm) && this.set(0xb4 | alu, n, 0, 0, imm | 0);
      case F_LD_IMM64:
        if (!wide) return false;
        // exact halves of a double up to 2**53; beyond, the halves the hexadecimal was read in
        this.imm2 = imm > Number.MAX_SAFE_INTEGER ? this.hi | 0 : Math.floor(imm / 0x1_0000_0000) | 0;
        return this.set(0x18, n, 0, 0, imm > Number.MAX_SAFE_INTEGER ? this.lo | 0 : imm | 0);
      case F_NEG:
        return s === d && this.set(0x80 | alu, n);
      case F_MOVSX: {
        if (size < SIGNED || s < 16 !== wide || (!wide && size === 6)) return false;
        return this.set(0xbc | alu, n, s & 15, SIZE_WIDTH[size] as number);
      }
      case F_SWAP: {
        const kw = v[KW] as number;
        return wide && s === d && this.set(kw & 0xff, n, 0, 0, kw >> 8);
      }
      case F_ASCAST: {
        const to = imm | 0;
        const from = (v[IMM2] as number) | 0;
        if (!fitsImm32(imm) || !fitsImm32(v[IMM2] as number)) return false;
        if (!((to === 0 && from === 1) || (to === 1 && from === 0))) return false;
        return this.set(0xbf, n, s & 15, 1, (to << 16) | from);
      }
      case F_XCHG: {
        const kw = v[KW] as number;
        if (kw >= 256 || (s & 15) !== n) return false;
        return base < 16 && fitsOff16(off) && this.set(0xc3 | kw, base, s & 15, off, 0xe1);
      }
      case F_CMPXCHG: {
        const kw = v[KW] as number;
        if (kw < 256 || (s & 15) !== 0 || n !== 0) return false;
        return (
          base < 16 &&
          fitsOff16(off) &&
          this.set(0xc3 | (kw & 0xff), base, (v[SRC2] as number) & 15, off, CMPXCHG)
        );
      }
      case F_ATOMIC:
      case F_ATOMIC_CMP: {
        const op = v[KW] as number;
        const cmp = form === F_ATOMIC_CMP;
        if ((op === CMPXCHG) !== cmp || (bits !== W && bits !== DW)) return false;
        if (cmp ? (s & 15) !== 0 || n !== 0 : (s & 15) !== n) return false;
        const value = cmp ? (v[SRC2] as number) : s;
        return base < 16 && fitsOff16(off) && this.set(0xc3 | bits, base, value & 15, off, op);
      }
      case F_LOCK: {
        const op = v[OPV] as number;
        if (op !== 0x00 && op !== 0x40 && op !== 0x50 && op !== 0xa0) return false;
        if (bits !== W && bits !== DW) return false;
        return base < 16 && fitsOff16(off) && this.set(0xc3 | bits, base, s & 15, off, op);
      }
      default:
        return false;
    }
  }

  private set(code: number, dst = 0, src = 0, off = 0, imm = 0): true {
    this.code = code;
    this.dst = dst;
    this.src = src;
    this.off = off;
    this.imm = imm;
    return true;
  }
}
