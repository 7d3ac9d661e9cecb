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
// biome-ignore lint/suspicious/noConstEnum: file-private, inlined as literals by tsc and esbuild (a module constant is a context lookup in V8's interpreter, and a switch over literals is a jump table)
const enum T {
  BAD = -1,
  END = 0,
  REG = 1,
  /** a number without a sign */
  NUM = 2,
  /** a number with a sign (`-4`, `+ 4`): the lexer's MINUS/PLUS and NUM, as the parsers take them */
  SNUM = 3,
  LPAREN = 4,
  RPAREN = 5,
  LBRACK = 6,
  RBRACK = 7,
  COMMA = 8,
  ASSIGN = 9,
  STAR = 10,
  MINUS = 11,
  /** a comparison; value: the jump operation */
  CMP = 12,
  /** `+=` and the like; value: the ALU operation, + 256 when signed (`s/=`, `s%=`) */
  ALU = 13,
  EXIT = 14,
  CALL = 15,
  CALLX = 16,
  GOTO = 17,
  GOTOL = 18,
  MAY_GOTO = 19,
  IF = 20,
  LOCK = 21,
  SKB = 22,
  LL = 23,
  /** u8..u64, s8..s32; value: index in SIZE_BITS */
  SIZE = 24,
  /** bswapN, beN, leN; value: opcode + 256 * width */
  SWAP = 25,
  ASCAST = 26,
  /** xchg_64 and the like (llvm's spelling); value: size bits + 256 when it is a cmpxchg */
  XCHG = 27,
  /** atomic_fetch_add and the like; value: the atomic operation */
  ATOMIC = 28,
}
/** Fixed numbers, inlined by the compiler (a module constant costs a lookup in V8's interpreter). */
// biome-ignore lint/suspicious/noConstEnum: file-private, inlined as literals by tsc and esbuild (a module constant is a context lookup in V8's interpreter, and a switch over literals is a jump table)
const enum K {
  /** number of token classes (room for) */
  NCLASS = 32,
  /** access sizes from this index on are signed */
  SIGNED = 4,
  /** 4-byte and 8-byte size bits */
  W = 0x00,
  DW = 0x18,
  CMPXCHG = 0xf1,
}

/** Opcode size bits of the access sizes u8, u16, u32, u64, s8, s16, s32 (by index). */
const SIZE_BITS = [0x10, 0x08, 0x00, 0x18, 0x10, 0x08, 0x00];
/** Width in bits of the access sizes, same order. */
const SIZE_WIDTH = [8, 16, 32, 64, 8, 16, 32];

/** Class and value of the lexer's operators (by operator id); BAD for those of no fast form. */
const OP_CLASS = new Int8Array(64).fill(T.BAD);
const OP_VALUE = new Int16Array(64);
for (const [op, cls, value] of [
  [Op.LPAREN, T.LPAREN, 0],
  [Op.RPAREN, T.RPAREN, 0],
  [Op.LBRACK, T.LBRACK, 0],
  [Op.RBRACK, T.RBRACK, 0],
  [Op.COMMA, T.COMMA, 0],
  [Op.ASSIGN, T.ASSIGN, 0],
  [Op.STAR, T.STAR, 0],
  [Op.MINUS, T.MINUS, 0],
  [Op.EQ, T.CMP, 0x10],
  [Op.GT, T.CMP, 0x20],
  [Op.GE, T.CMP, 0x30],
  [Op.AMP, T.CMP, 0x40],
  [Op.NE, T.CMP, 0x50],
  [Op.SGT, T.CMP, 0x60],
  [Op.SGE, T.CMP, 0x70],
  [Op.LT, T.CMP, 0xa0],
  [Op.LE, T.CMP, 0xb0],
  [Op.SLT, T.CMP, 0xc0],
  [Op.SLE, T.CMP, 0xd0],
  [Op.ADD_ASSIGN, T.ALU, 0x00],
  [Op.SUB_ASSIGN, T.ALU, 0x10],
  [Op.MUL_ASSIGN, T.ALU, 0x20],
  [Op.DIV_ASSIGN, T.ALU, 0x30],
  [Op.OR_ASSIGN, T.ALU, 0x40],
  [Op.AND_ASSIGN, T.ALU, 0x50],
  [Op.LSH_ASSIGN, T.ALU, 0x60],
  [Op.RSH_ASSIGN, T.ALU, 0x70],
  [Op.MOD_ASSIGN, T.ALU, 0x90],
  [Op.XOR_ASSIGN, T.ALU, 0xa0],
  [Op.ARSH_ASSIGN, T.ALU, 0xc0],
  [Op.SDIV_ASSIGN, T.ALU, 0x130],
  [Op.SMOD_ASSIGN, T.ALU, 0x190],
] as const) {
  OP_CLASS[op] = cls;
  OP_VALUE[op] = value;
}

/** Classes of the characters that are a token by themselves whatever follows: ( ) [ ] , (else 0). */
const SINGLE = new Int8Array(128);
SINGLE[40] = T.LPAREN;
SINGLE[41] = T.RPAREN;
SINGLE[91] = T.LBRACK;
SINGLE[93] = T.RBRACK;
SINGLE[44] = T.COMMA;

/** The words of the fast forms: class and value. */
const WORDS: readonly [string, number, number][] = [
  ["exit", T.EXIT, 0],
  ["call", T.CALL, 0],
  ["callx", T.CALLX, 0],
  ["goto", T.GOTO, 0],
  ["gotol", T.GOTOL, 0],
  ["may_goto", T.MAY_GOTO, 0],
  ["if", T.IF, 0],
  ["lock", T.LOCK, 0],
  ["skb", T.SKB, 0],
  ["ll", T.LL, 0],
  ["u8", T.SIZE, 0],
  ["u16", T.SIZE, 1],
  ["u32", T.SIZE, 2],
  ["u64", T.SIZE, 3],
  ["s8", T.SIZE, 4],
  ["s16", T.SIZE, 5],
  ["s32", T.SIZE, 6],
  ["bswap16", T.SWAP, 0xd7 + 256 * 16],
  ["bswap32", T.SWAP, 0xd7 + 256 * 32],
  ["bswap64", T.SWAP, 0xd7 + 256 * 64],
  ["be16", T.SWAP, 0xdc + 256 * 16],
  ["be32", T.SWAP, 0xdc + 256 * 32],
  ["be64", T.SWAP, 0xdc + 256 * 64],
  ["le16", T.SWAP, 0xd4 + 256 * 16],
  ["le32", T.SWAP, 0xd4 + 256 * 32],
  ["le64", T.SWAP, 0xd4 + 256 * 64],
  ["addr_space_cast", T.ASCAST, 0],
  ["xchg_64", T.XCHG, K.DW],
  ["xchg32_32", T.XCHG, K.W],
  ["cmpxchg_64", T.XCHG, K.DW + 256],
  ["cmpxchg32_32", T.XCHG, K.W + 256],
  ...["atomic_", "atomic64_"].flatMap((prefix): [string, number, number][] => [
    [`${prefix}fetch_add`, T.ATOMIC, 0x01],
    [`${prefix}fetch_or`, T.ATOMIC, 0x41],
    [`${prefix}fetch_and`, T.ATOMIC, 0x51],
    [`${prefix}fetch_xor`, T.ATOMIC, 0xa1],
    [`${prefix}xchg`, T.ATOMIC, 0xe1],
    [`${prefix}cmpxchg`, T.ATOMIC, K.CMPXCHG],
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
// biome-ignore lint/suspicious/noConstEnum: file-private, inlined as literals by tsc and esbuild (a module constant is a context lookup in V8's interpreter, and a switch over literals is a jump table)
const enum S {
  DST = 0,
  SRC = 1,
  SRC2 = 2,
  BASE = 3,
  SIZ = 4,
  OFF = 5,
  IMM = 6,
  IMM2 = 7,
  OPV = 8,
  KW = 9,
  NONE = 15,
}

// The instruction forms.
// biome-ignore lint/suspicious/noConstEnum: file-private, inlined as literals by tsc and esbuild (a module constant is a context lookup in V8's interpreter, and a switch over literals is a jump table)
const enum F {
  BLANK = 0,
  EXIT = 1,
  CALL = 2,
  CALLX = 3,
  GOTO = 4,
  GOTOL = 5,
  MAY_GOTO = 6,
  JMP_X = 7,
  JMP_K = 8,
  STORE_X = 9,
  STORE_K = 10,
  LOAD = 11,
  LD_ABS = 12,
  LD_IND = 13,
  ALU_X = 14,
  ALU_K = 15,
  MOV_X = 16,
  MOV_K = 17,
  LD_IMM64 = 18,
  NEG = 19,
  MOVSX = 20,
  SWAP = 21,
  ASCAST = 22,
  XCHG = 23,
  CMPXCHG = 24,
  ATOMIC = 25,
  ATOMIC_CMP = 26,
  LOCK = 27,
}

/**
 * The forms as token patterns: a class name or a literal, `:slot` to keep its value, `?` when it
 * may be left out. IMM is a number with or without a sign.
 */
const MEM = "( REG:base SNUM:off? )";
const FORMS: readonly [number, string][] = [
  [F.BLANK, ""],
  [F.EXIT, "exit"],
  [F.CALL, "call IMM:imm"],
  [F.CALLX, "callx REG:dst"],
  [F.GOTO, "goto IMM:off"],
  [F.GOTOL, "gotol IMM:imm"],
  [F.MAY_GOTO, "may_goto IMM:off"],
  [F.JMP_X, "if REG:dst CMP:op REG:src goto IMM:off"],
  [F.JMP_K, "if REG:dst CMP:op IMM:imm goto IMM:off"],
  [F.STORE_X, `* ( SIZE:size * ) ${MEM} = REG:src`],
  [F.STORE_K, `* ( SIZE:size * ) ${MEM} = IMM:imm`],
  [F.LOAD, `REG:dst = * ( SIZE:size * ) ${MEM}`],
  [F.LD_ABS, "REG:dst = * ( SIZE:size * ) skb [ IMM:imm ]"],
  [F.LD_IND, "REG:dst = * ( SIZE:size * ) skb [ REG:src SNUM:imm? ]"],
  [F.ALU_X, "REG:dst ALU:op REG:src"],
  [F.ALU_K, "REG:dst ALU:op IMM:imm"],
  [F.MOV_X, "REG:dst = REG:src"],
  [F.MOV_K, "REG:dst = IMM:imm"],
  [F.LD_IMM64, "REG:dst = IMM:imm ll"],
  [F.NEG, "REG:dst = - REG:src"],
  [F.MOVSX, "REG:dst = ( SIZE:size ) REG:src"],
  [F.SWAP, "REG:dst = SWAP:kw REG:src"],
  [F.ASCAST, "REG:dst = addr_space_cast ( REG:src , IMM:imm , IMM:imm2 )"],
  [F.XCHG, "REG:dst = XCHG:kw ( REG:base SNUM:off? , REG:src )"],
  [F.CMPXCHG, "REG:dst = XCHG:kw ( REG:base SNUM:off? , REG:src , REG:src2 )"],
  [F.ATOMIC, `REG:dst = ATOMIC:kw ( ( SIZE:size * ) ${MEM} , REG:src )`],
  [F.ATOMIC_CMP, `REG:dst = ATOMIC:kw ( ( SIZE:size * ) ${MEM} , REG:src , REG:src2 )`],
  [F.LOCK, `lock * ( SIZE:size * ) ${MEM} ALU:op REG:src`],
];

const CLASS_NAMES: Record<string, readonly number[]> = {
  REG: [T.REG],
  NUM: [T.NUM],
  SNUM: [T.SNUM],
  IMM: [T.NUM, T.SNUM],
  CMP: [T.CMP],
  ALU: [T.ALU],
  SIZE: [T.SIZE],
  SWAP: [T.SWAP],
  XCHG: [T.XCHG],
  ATOMIC: [T.ATOMIC],
  "(": [T.LPAREN],
  ")": [T.RPAREN],
  "[": [T.LBRACK],
  "]": [T.RBRACK],
  ",": [T.COMMA],
  "=": [T.ASSIGN],
  "*": [T.STAR],
  "-": [T.MINUS],
};
const SLOT_NAMES: Record<string, number> = {
  dst: S.DST,
  src: S.SRC,
  src2: S.SRC2,
  base: S.BASE,
  size: S.SIZ,
  off: S.OFF,
  imm: S.IMM,
  imm2: S.IMM2,
  op: S.OPV,
  kw: S.KW,
};

/**
 * The trie of the forms: from state s, a token of class c goes to state NEXT[s * NCLASS + c]
 * (0: no form goes on so) and its value is kept in slot SLOT[...]; FORM of the state reached by
 * END is the form read.
 */
const MAX_STATES = 512;
const NEXT = new Uint16Array(MAX_STATES * K.NCLASS);
const SLOT = new Uint8Array(MAX_STATES * K.NCLASS).fill(S.NONE);
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
      const classes = name === "END" ? [T.END] : classesOf(name);
      const slot = slotName === undefined ? S.NONE : (SLOT_NAMES[slotName] as number);
      let to = 0;
      for (const c of classes) to ||= NEXT[state * K.NCLASS + c] as number;
      if (to === 0) to = states++;
      for (const c of classes) {
        const at = state * K.NCLASS + c;
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
  /** true while reading the first token of a line (where `;` starts a comment, not a statement) */
  private head = true;
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
   * Reads the statement starting at `start` (`head`: at the start of its line). Returns where it
   * ends (its line's `\n`, the source's length, or a `;` that separates it from the next statement
   * of the line) when this path has read it whole, with the instruction in the fields (or
   * `column` 0 for a statement without one); -1 when the general path must read it.
   */
  line(s: string, start: number, head = true): number {
    this.s = s;
    this.p = start;
    const v = this.v;
    v[S.OFF] = 0;
    v[S.IMM] = 0;
    this.head = head;
    let cls = this.next();
    this.head = false;
    this.column = this.at - start + 1;
    let state = 0;
    for (;;) {
      if (cls < 0) return -1;
      const at = state * K.NCLASS + cls;
      state = NEXT[at] as number;
      if (state === 0) return -1;
      v[SLOT[at] as number] = this.val;
      if (cls === T.END) break;
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
      if (c === 35) return T.BAD;
      this.p = p;
      const first = s.charCodeAt(a);
      const len = p - a;
      if ((first === 114 || first === 119) && len <= 3 && len >= 2) {
        const d = s.charCodeAt(a + 1) - 48;
        const e = len === 3 ? s.charCodeAt(a + 2) - 48 : 0;
        if (d >= 0 && d <= 9 && e >= 0 && e <= 9) {
          const n = len === 3 ? d * 10 + e : d;
          if (n > 10) return T.BAD;
          this.val = first === 114 ? n : 16 + n;
          return T.REG;
        }
      }
      for (let slot = h & WORD_MASK; ; slot = (slot + 1) & WORD_MASK) {
        const k = (WORD_SLOTS[slot] as number) - 1;
        if (k < 0) return T.BAD;
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
        if (c === 43) return T.BAD;
        this.p = p + 1;
        return T.MINUS;
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
        if (p === digits || hi > 0xffff_ffff) return T.BAD;
        this.lo = lo;
        this.hi = hi;
        v = hi * 0x1_0000_0000 + lo;
        // beyond 2**53 the general path makes a bigint: only `rN = 0x... ll` takes one here
        if (v > Number.MAX_SAFE_INTEGER && sign !== 0) return T.BAD;
      } else {
        // `017` is octal (C, llvm-mc): the general path reads it
        if (c === 48 && s.charCodeAt(p + 1) >= 48 && s.charCodeAt(p + 1) <= 57) return T.BAD;
        do {
          v = v * 10 + c - 48;
          c = s.charCodeAt(++p);
        } while (c >= 48 && c <= 57);
        if (v > Number.MAX_SAFE_INTEGER) return T.BAD;
      }
      if (isIdentPart(s.charCodeAt(p))) return T.BAD;
      this.p = p;
      this.val = sign < 0 ? -v : v;
      return sign === 0 ? T.NUM : T.SNUM;
    }
    if (c === 10 || p >= s.length) {
      this.p = p;
      this.lineEnd = p;
      return T.END;
    }
    if (c === 59 && !this.head) {
      // `;` ends the statement: the driver reads the rest of the line as another
      this.p = p;
      this.lineEnd = p;
      return T.END;
    }
    if (c === 35 || c === 59 || (c === 47 && s.charCodeAt(p + 1) === 47)) {
      this.p = p;
      this.lineEnd = -1;
      return T.END;
    }
    // punctuation that starts no longer operator, without the general operator match
    const single = c < 128 ? (SINGLE[c] as number) : 0;
    if (single !== 0) {
      this.p = p + 1;
      return single;
    }
    // `%r1` is a uBPF register for the lexer
    if (c === 37 && isIdentStart(s.charCodeAt(p + 1))) return T.BAD;
    const m = matchOp(s, p, s.length);
    if (m === 0) return T.BAD;
    this.p = p + (m & 7);
    this.val = OP_VALUE[m >> 3] as number;
    return OP_CLASS[m >> 3] as number;
  }

  /** Checks the values of form `form` and makes the instruction; false when the general path must. */
  private build(form: number): boolean {
    const v = this.v;
    const d = v[S.DST] as number;
    const s = v[S.SRC] as number;
    const base = v[S.BASE] as number;
    const off = v[S.OFF] as number;
    const imm = v[S.IMM] as number;
    const size = v[S.SIZ] as number;
    const bits = SIZE_BITS[size] as number;
    const n = d & 15;
    const wide = d < 16;
    const alu = wide ? 0x07 : 0x04;
    switch (form) {
      case F.BLANK:
        this.column = 0;
        return true;
      case F.EXIT:
        return this.set(0x95);
      case F.CALL:
        return fitsImm32(imm) && this.set(0x85, 0, 0, 0, imm | 0);
      case F.CALLX:
        return this.set(0x8d, n);
      case F.GOTO:
        return fitsOff16(off) && this.set(0x05, 0, 0, off);
      case F.GOTOL:
        return fitsImm32(imm) && this.set(0x06, 0, 0, 0, imm | 0);
      case F.MAY_GOTO:
        return fitsOff16(off) && this.set(0xe5, 0, 0, off);
      case F.JMP_X:
        return (
          s < 16 === wide &&
          fitsOff16(off) &&
          this.set(v[S.OPV] | 0x08 | (wide ? 0x05 : 0x06), n, s & 15, off)
        );
      case F.JMP_K:
        return (
          fitsImm32(imm) && fitsOff16(off) && this.set(v[S.OPV] | (wide ? 0x05 : 0x06), n, 0, off, imm | 0)
        );
      case F.STORE_X:
        return size < K.SIGNED && base < 16 && fitsOff16(off) && this.set(0x63 | bits, base, s & 15, off);
      case F.STORE_K:
        return (
          size < K.SIGNED &&
          base < 16 &&
          fitsOff16(off) &&
          fitsImm32(imm) &&
          this.set(0x62 | bits, base, 0, off, imm | 0)
        );
      case F.LOAD:
        return base < 16 && fitsOff16(off) && this.set((size < K.SIGNED ? 0x61 : 0x81) | bits, n, base, off);
      case F.LD_ABS:
        // legacy packet loads: r0 only, no sign, no 8-byte size
        return (
          n === 0 &&
          size < K.SIGNED &&
          bits !== K.DW &&
          fitsImm32(imm) &&
          this.set(0x20 | bits, 0, 0, 0, imm | 0)
        );
      case F.LD_IND:
        return (
          n === 0 &&
          size < K.SIGNED &&
          bits !== K.DW &&
          fitsImm32(imm) &&
          this.set(0x40 | bits, 0, s & 15, 0, imm | 0)
        );
      case F.ALU_X: {
        const op = v[S.OPV] as number;
        return s < 16 === wide && this.set((op & 0xff) | 0x08 | alu, n, s & 15, op >> 8);
      }
      case F.ALU_K: {
        const op = v[S.OPV] as number;
        return fitsImm32(imm) && this.set((op & 0xff) | alu, n, 0, op >> 8, imm | 0);
      }
      case F.MOV_X:
        return s < 16 === wide && this.set(0xbc | alu, n, s & 15);
      case F.MOV_K:
        return fitsImm32(imm) && this.set(0xb4 | alu, n, 0, 0, imm | 0);
      case F.LD_IMM64:
        if (!wide) return false;
        // exact halves of a double up to 2**53; beyond, the halves the hexadecimal was read in
        this.imm2 = imm > Number.MAX_SAFE_INTEGER ? this.hi | 0 : Math.floor(imm / 0x1_0000_0000) | 0;
        return this.set(0x18, n, 0, 0, imm > Number.MAX_SAFE_INTEGER ? this.lo | 0 : imm | 0);
      case F.NEG:
        return s === d && this.set(0x80 | alu, n);
      case F.MOVSX: {
        if (size < K.SIGNED || s < 16 !== wide || (!wide && size === 6)) return false;
        return this.set(0xbc | alu, n, s & 15, SIZE_WIDTH[size] as number);
      }
      case F.SWAP: {
        const kw = v[S.KW] as number;
        return wide && s === d && this.set(kw & 0xff, n, 0, 0, kw >> 8);
      }
      case F.ASCAST: {
        const to = imm | 0;
        const from = (v[S.IMM2] as number) | 0;
        if (!fitsImm32(imm) || !fitsImm32(v[S.IMM2] as number)) return false;
        if (!((to === 0 && from === 1) || (to === 1 && from === 0))) return false;
        return this.set(0xbf, n, s & 15, 1, (to << 16) | from);
      }
      case F.XCHG: {
        const kw = v[S.KW] as number;
        if (kw >= 256 || (s & 15) !== n) return false;
        return base < 16 && fitsOff16(off) && this.set(0xc3 | kw, base, s & 15, off, 0xe1);
      }
      case F.CMPXCHG: {
        const kw = v[S.KW] as number;
        if (kw < 256 || (s & 15) !== 0 || n !== 0) return false;
        return (
          base < 16 &&
          fitsOff16(off) &&
          this.set(0xc3 | (kw & 0xff), base, (v[S.SRC2] as number) & 15, off, K.CMPXCHG)
        );
      }
      case F.ATOMIC:
      case F.ATOMIC_CMP: {
        const op = v[S.KW] as number;
        const cmp = form === F.ATOMIC_CMP;
        if ((op === K.CMPXCHG) !== cmp || (bits !== K.W && bits !== K.DW)) return false;
        if (cmp ? (s & 15) !== 0 || n !== 0 : (s & 15) !== n) return false;
        const value = cmp ? (v[S.SRC2] as number) : s;
        return base < 16 && fitsOff16(off) && this.set(0xc3 | bits, base, value & 15, off, op);
      }
      case F.LOCK: {
        const op = v[S.OPV] as number;
        if (op !== 0x00 && op !== 0x40 && op !== 0x50 && op !== 0xa0) return false;
        if (bits !== K.W && bits !== K.DW) return false;
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
