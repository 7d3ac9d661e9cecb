/**
 * A single-pass, allocation-light lexer for one source line at a time. Tokens live in reused typed
 * arrays (kind, start, end, operator id); their text is sliced from the source only when a parser
 * asks for it. Comments (`#`, `//`) end the line; C block comments (`/* ... *\/`) may sit between
 * tokens or span lines. `;` ends a statement in the kernel dialect (as in llvm-mc and the template):
 * the rest of the line is another statement, except on a verifier-log line (`12: (bf) ...`) or at
 * the start of a line, where `;` starts a comment as in the verifier's log. In the uBPF dialect `;`
 * starts a comment.
 */

/** Token kinds. */
export const Tok = {
  END: 0,
  IDENT: 1,
  NUM: 2,
  PUNCT: 3,
  STRING: 4,
} as const;

/** Operator ids of PUNCT tokens. */
export const Op = {
  LPAREN: 1,
  RPAREN: 2,
  LBRACK: 3,
  RBRACK: 4,
  COMMA: 5,
  COLON: 6,
  ASSIGN: 7,
  PLUS: 8,
  MINUS: 9,
  STAR: 10,
  SLASH: 11,
  PERCENT: 12,
  AMP: 13,
  PIPE: 14,
  CARET: 15,
  LT: 16,
  GT: 17,
  EQ: 18,
  NE: 19,
  LE: 20,
  GE: 21,
  SLT: 22,
  SGT: 23,
  SLE: 24,
  SGE: 25,
  ADD_ASSIGN: 26,
  SUB_ASSIGN: 27,
  MUL_ASSIGN: 28,
  DIV_ASSIGN: 29,
  MOD_ASSIGN: 30,
  AND_ASSIGN: 31,
  OR_ASSIGN: 32,
  XOR_ASSIGN: 33,
  LSH_ASSIGN: 34,
  RSH_ASSIGN: 35,
  ARSH_ASSIGN: 36,
  SDIV_ASSIGN: 37,
  SMOD_ASSIGN: 38,
  BANG: 39,
  SHL: 40,
  SHR: 41,
  TILDE: 42,
} as const;

const OPS: readonly [string, number][] = (
  [
    ["s>>=", Op.ARSH_ASSIGN],
    ["<<=", Op.LSH_ASSIGN],
    [">>=", Op.RSH_ASSIGN],
    ["s/=", Op.SDIV_ASSIGN],
    ["s%=", Op.SMOD_ASSIGN],
    ["s<=", Op.SLE],
    ["s>=", Op.SGE],
    ["s<", Op.SLT],
    ["s>", Op.SGT],
    ["==", Op.EQ],
    ["!=", Op.NE],
    ["<=", Op.LE],
    [">=", Op.GE],
    ["+=", Op.ADD_ASSIGN],
    ["-=", Op.SUB_ASSIGN],
    ["*=", Op.MUL_ASSIGN],
    ["/=", Op.DIV_ASSIGN],
    ["%=", Op.MOD_ASSIGN],
    ["&=", Op.AND_ASSIGN],
    ["|=", Op.OR_ASSIGN],
    ["^=", Op.XOR_ASSIGN],
    ["<", Op.LT],
    [">", Op.GT],
    ["=", Op.ASSIGN],
    ["+", Op.PLUS],
    ["-", Op.MINUS],
    ["*", Op.STAR],
    ["/", Op.SLASH],
    ["%", Op.PERCENT],
    ["&", Op.AMP],
    ["|", Op.PIPE],
    ["^", Op.CARET],
    ["(", Op.LPAREN],
    [")", Op.RPAREN],
    ["[", Op.LBRACK],
    ["]", Op.RBRACK],
    [",", Op.COMMA],
    [":", Op.COLON],
    ["!", Op.BANG],
    ["<<", Op.SHL],
    [">>", Op.SHR],
    ["~", Op.TILDE],
  ] as [string, number][]
).sort((a, b) => b[0].length - a[0].length);

/** Operator spelling by id, for messages. */
export const OP_TEXT: readonly string[] = (() => {
  const t: string[] = [];
  for (const [s, id] of OPS) t[id] = s;
  return t;
})();

/** Character classes of ASCII, by code: a table load instead of a chain of comparisons. */
const IDENT_START = 1;
const IDENT_PART = 2;
const DIGIT = 4;
const CLASSES = (() => {
  const t = new Uint8Array(128);
  for (let c = 0; c < 128; c++) {
    const letter = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 46 || c === 36;
    const digit = c >= 48 && c <= 57;
    t[c] = (letter ? IDENT_START | IDENT_PART : 0) | (digit ? IDENT_PART | DIGIT : 0);
  }
  return t;
})();

/** Whether `c` may start an identifier (letters, `_`, `.`, `$`). */
export function isIdentStart(c: number): boolean {
  return c < 128 && ((CLASSES[c] as number) & IDENT_START) !== 0;
}
/** Whether `c` may continue an identifier or a number (letters, digits, `_`, `.`, `$`). */
export function isIdentPart(c: number): boolean {
  return c < 128 && ((CLASSES[c] as number) & IDENT_PART) !== 0;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

const MAX_TOKENS = 256;

/** The operator at `src[i]`: `(id << 3) | length`, or 0. Longest match, no allocation. */
export function matchOp(src: string, i: number, end: number): number {
  const c = src.charCodeAt(i);
  const d = i + 1 < end ? src.charCodeAt(i + 1) : 0;
  const e = i + 2 < end ? src.charCodeAt(i + 2) : 0;
  switch (c) {
    case 40:
      return (Op.LPAREN << 3) | 1;
    case 41:
      return (Op.RPAREN << 3) | 1;
    case 91:
      return (Op.LBRACK << 3) | 1;
    case 93:
      return (Op.RBRACK << 3) | 1;
    case 44:
      return (Op.COMMA << 3) | 1;
    case 58:
      return (Op.COLON << 3) | 1;
    case 61: // =
      return d === 61 ? (Op.EQ << 3) | 2 : (Op.ASSIGN << 3) | 1;
    case 33: // !
      return d === 61 ? (Op.NE << 3) | 2 : (Op.BANG << 3) | 1;
    case 43: // +
      return d === 61 ? (Op.ADD_ASSIGN << 3) | 2 : (Op.PLUS << 3) | 1;
    case 45: // -
      return d === 61 ? (Op.SUB_ASSIGN << 3) | 2 : (Op.MINUS << 3) | 1;
    case 42: // *
      return d === 61 ? (Op.MUL_ASSIGN << 3) | 2 : (Op.STAR << 3) | 1;
    case 47: // /
      return d === 61 ? (Op.DIV_ASSIGN << 3) | 2 : (Op.SLASH << 3) | 1;
    case 37: // %
      return d === 61 ? (Op.MOD_ASSIGN << 3) | 2 : (Op.PERCENT << 3) | 1;
    case 38: // &
      return d === 61 ? (Op.AND_ASSIGN << 3) | 2 : (Op.AMP << 3) | 1;
    case 124: // |
      return d === 61 ? (Op.OR_ASSIGN << 3) | 2 : (Op.PIPE << 3) | 1;
    case 94: // ^
      return d === 61 ? (Op.XOR_ASSIGN << 3) | 2 : (Op.CARET << 3) | 1;
    case 126: // ~
      return (Op.TILDE << 3) | 1;
    case 60: // <
      if (d === 60) return e === 61 ? (Op.LSH_ASSIGN << 3) | 3 : (Op.SHL << 3) | 2;
      return d === 61 ? (Op.LE << 3) | 2 : (Op.LT << 3) | 1;
    case 62: // >
      if (d === 62) return e === 61 ? (Op.RSH_ASSIGN << 3) | 3 : (Op.SHR << 3) | 2;
      return d === 61 ? (Op.GE << 3) | 2 : (Op.GT << 3) | 1;
    case 115: {
      // s-prefixed: s< s<= s> s>= s>>= s/= s%=
      if (d === 60) return e === 61 ? (Op.SLE << 3) | 3 : (Op.SLT << 3) | 2;
      if (d === 62) {
        if (e === 62) return i + 3 < end && src.charCodeAt(i + 3) === 61 ? (Op.ARSH_ASSIGN << 3) | 4 : 0;
        return e === 61 ? (Op.SGE << 3) | 3 : (Op.SGT << 3) | 2;
      }
      if (d === 47 && e === 61) return (Op.SDIV_ASSIGN << 3) | 3;
      if (d === 37 && e === 61) return (Op.SMOD_ASSIGN << 3) | 3;
      return 0;
    }
    default:
      return 0;
  }
}

/** Lexes one line of a source string into reused token arrays. */
export class Lexer {
  src = "";
  /** number of tokens on the current line (END not counted) */
  count = 0;
  readonly kind = new Uint8Array(MAX_TOKENS + 1);
  readonly start = new Int32Array(MAX_TOKENS + 1);
  readonly end = new Int32Array(MAX_TOKENS + 1);
  readonly op = new Uint8Array(MAX_TOKENS + 1);
  /** offset of the first character of the line */
  lineStart = 0;
  /** offset just past the last character of the line (before `\n`) */
  lineEnd = 0;
  /** offset where a comment starts, or lineEnd */
  codeEnd = 0;
  /** column (0-based) of a character the lexer could not read, or -1 */
  badAt = -1;
  /** true when the line has an unterminated string */
  unterminated = false;
  /** whether `;` separates statements (the kernel dialect) rather than starting a comment */
  semicolonSeparates = false;
  /** where the next statement of the line starts (just after a separating `;`), or -1 */
  more = -1;
  /** true while inside a `/* ... *\/` comment that a previous line opened */
  inBlockComment = false;
  /** where the open block comment started in the source */
  blockCommentAt = -1;

  /**
   * Tokenizes one statement: `src[from, lineEnd)` of the line starting at `lineStart` (`from` is
   * past a `;` when the line holds more than one). Returns the number of tokens; `more` tells
   * where the next statement starts.
   */
  lex(src: string, lineStart: number, lineEnd: number, from = lineStart): number {
    this.src = src;
    this.lineStart = lineStart;
    this.lineEnd = lineEnd;
    this.codeEnd = lineEnd;
    this.badAt = -1;
    this.unterminated = false;
    this.more = -1;
    let n = 0;
    let i = from;
    if (this.inBlockComment) {
      const close = src.indexOf("*/", i);
      if (close < 0 || close + 2 > lineEnd) {
        this.codeEnd = i;
        i = lineEnd;
      } else {
        this.inBlockComment = false;
        i = close + 2;
      }
    }
    const kind = this.kind;
    const start = this.start;
    const end = this.end;
    const op = this.op;
    while (i < lineEnd) {
      const c = src.charCodeAt(i);
      if (c === 32 || c === 9 || c === 13) {
        i++;
        continue;
      }
      if (n >= MAX_TOKENS) {
        this.badAt = i - lineStart;
        break;
      }
      if (c === 47 && src.charCodeAt(i + 1) === 42) {
        // a C block comment, perhaps over several lines
        const close = src.indexOf("*/", i + 2);
        if (close >= 0 && close + 2 <= lineEnd) {
          i = close + 2;
          continue;
        }
        this.inBlockComment = true;
        this.blockCommentAt = i;
        this.codeEnd = i;
        break;
      }
      if (
        c === 59 &&
        this.semicolonSeparates &&
        !(n === 0 && i === this.firstCode(lineStart)) &&
        !this.logPrefix(n)
      ) {
        this.more = i + 1;
        this.codeEnd = i;
        break;
      }
      if (c === 35 || c === 59 || (c === 47 && src.charCodeAt(i + 1) === 47)) {
        this.codeEnd = i;
        break;
      }
      // s-prefixed signed operators: s<, s<=, s>, s>=, s>>=, s/=, s%=
      if (c === 115) {
        const d = src.charCodeAt(i + 1);
        if (d === 60 || d === 62 || d === 47 || d === 37) {
          const next = this.pushOp(src, i, lineEnd, n);
          if (next !== i) {
            n++;
            i = next;
            continue;
          }
        }
      }
      if (isIdentStart(c) || (c === 37 && isIdentStart(src.charCodeAt(i + 1)))) {
        let j = i + 1;
        while (j < lineEnd) {
          const d = src.charCodeAt(j);
          if (d >= 128 || ((CLASSES[d] as number) & IDENT_PART) === 0) break;
          j++;
        }
        // helper#id as the verifier log prints calls
        if (src.charCodeAt(j) === 35 && isDigit(src.charCodeAt(j + 1))) {
          j += 2;
          while (j < lineEnd && isDigit(src.charCodeAt(j))) j++;
        }
        kind[n] = Tok.IDENT;
        start[n] = i;
        end[n] = j;
        op[n] = 0;
        n++;
        i = j;
        continue;
      }
      if (isDigit(c)) {
        let j = i + 1;
        while (j < lineEnd && isIdentPart(src.charCodeAt(j))) j++;
        kind[n] = Tok.NUM;
        start[n] = i;
        end[n] = j;
        op[n] = 0;
        n++;
        i = j;
        continue;
      }
      if (c === 34) {
        let j = i + 1;
        while (j < lineEnd) {
          const d = src.charCodeAt(j);
          if (d === 92) j += 2;
          else if (d === 34) break;
          else j++;
        }
        if (j >= lineEnd) {
          this.unterminated = true;
          this.badAt = i - lineStart;
          break;
        }
        kind[n] = Tok.STRING;
        start[n] = i;
        end[n] = j + 1;
        op[n] = 0;
        n++;
        i = j + 1;
        continue;
      }
      const before = i;
      i = this.pushOp(src, i, lineEnd, n);
      if (i === before) {
        this.badAt = i - lineStart;
        break;
      }
      n++;
    }
    kind[n] = Tok.END;
    start[n] = Math.min(i, this.codeEnd);
    end[n] = start[n];
    op[n] = 0;
    this.count = n;
    return n;
  }

  /** Where the line's first non-blank character is. */
  private firstCode(lineStart: number): number {
    let i = lineStart;
    for (;;) {
      const c = this.src.charCodeAt(i);
      if (c !== 32 && c !== 9 && c !== 13) return i;
      i++;
    }
  }

  /** Whether the `n` tokens so far are a verifier-log line's `12: (bf) ...` and more. */
  private logPrefix(n: number): boolean {
    const { kind, op } = this;
    return (
      n >= 5 &&
      kind[0] === Tok.NUM &&
      kind[1] === Tok.PUNCT &&
      op[1] === Op.COLON &&
      kind[2] === Tok.PUNCT &&
      op[2] === Op.LPAREN &&
      kind[4] === Tok.PUNCT &&
      op[4] === Op.RPAREN
    );
  }

  private pushOp(src: string, i: number, lineEnd: number, n: number): number {
    const packed = matchOp(src, i, lineEnd);
    if (packed === 0) return i;
    const len = packed & 7;
    this.kind[n] = Tok.PUNCT;
    this.start[n] = i;
    this.end[n] = i + len;
    this.op[n] = packed >> 3;
    return i + len;
  }

  /** The text of token `t`. */
  text(t: number): string {
    return this.src.slice(this.start[t], this.end[t]);
  }

  /** True when token `t` is the identifier `word`. */
  is(t: number, word: string): boolean {
    const s = this.start[t] as number;
    return (
      this.kind[t] === Tok.IDENT &&
      (this.end[t] as number) - s === word.length &&
      this.src.startsWith(word, s)
    );
  }

  /** 1-based column of token `t`. */
  column(t: number): number {
    return (this.start[t] as number) - this.lineStart + 1;
  }
}
