/**
 * The C printer: BTF as a C header that compiles, like `bpftool btf dump file X format c`
 * (vmlinux.h). Types come out in an order C accepts: a struct embedded by value is defined before
 * its container, one reached only through a pointer gets a forward declaration, typedefs follow
 * what they name. Duplicate names get a `___N` suffix, gaps in structs become padding bitfields,
 * packed structs get `__attribute__((packed))`, and records get `preserve_access_index` (CO-RE).
 *
 * Built for a cold process (`rawbpf btf dump --format c` runs it once): it reads the blob's type
 * words and string bytes directly (no type objects, no name strings) and keeps its state in typed
 * arrays indexed by type id. Every reference is checked once up front, so the passes that follow
 * index without checks, and every name that may need a `___N` is put in a hash table keyed by its
 * bytes up front too, so printing counts uses through a slot instead of looking names up.
 *
 * In a fresh process most of the time used to go to V8's optimising compiler (TurboFan) and to
 * the code that ran before it was done: many small helpers, each compiled on its own and again
 * inlined into every caller. So the work is in a few functions, each compiled once: `decl` (a
 * declarator, whole), `structDef`, `enumDef`, `padding`, `name` (how a type or an enum value is
 * named), `orderType`, `emitType`, `alignOf`. They do not write bytes: they append small numbers
 * to an operation queue (see {@link W}) that `render` turns into bytes. Kinds and fixed numbers
 * are `const enum`s (literals after compilation), sets of kinds bit masks. Measured (vmlinux,
 * in process, cold): TurboFan's compile CPU ~68 -> ~50 ms, the call ~78 -> ~64 ms.
 */
import type { Btf } from "./decode.js";
import { POINTER_SIZE } from "./decode.js";
import { BtfError } from "./errors.js";
import { KIND_NAMES } from "./kinds.js";
import { warmupBtf, warmupCExtraBtf } from "./warmup.js";

// Kind numbers (include/uapi/linux/btf.h) and the printer's fixed numbers, as literals after
// compilation: module constants are variable lookups in V8's interpreter (in the bundle, mutable
// closure variables even TurboFan cannot fold), and a switch over literals becomes a jump table.
// biome-ignore lint/suspicious/noConstEnum: file-private, inlined as literals by tsc and esbuild
const enum K {
  INT = 1,
  PTR = 2,
  ARRAY = 3,
  STRUCT = 4,
  UNION = 5,
  ENUM = 6,
  FWD = 7,
  TYPEDEF = 8,
  VOLATILE = 9,
  CONST = 10,
  RESTRICT = 11,
  FUNC = 12,
  FUNC_PROTO = 13,
  VAR = 14,
  DATASEC = 15,
  FLOAT = 16,
  DECL_TAG = 17,
  TYPE_TAG = 18,
  ENUM64 = 19,
}
/** Sets of kinds as bit masks, tested as `(set >>> kind) & 1`: no loads, no chains of compares. */
// biome-ignore lint/suspicious/noConstEnum: file-private, inlined as literals by tsc and esbuild
const enum KS {
  /** modifiers C has: volatile (9), const (10), restrict (11); their words follow kind order (see W) */
  MODS = (1 << 9) | (1 << 10) | (1 << 11),
  /** what is dropped before an array or a prototype: modifiers and type tags (18) */
  DROP = MODS | (1 << 18),
  /** declarator links to the type in word 2: those, pointers (2), prototypes (13); arrays: word 3 */
  LINK = DROP | (1 << 2) | (1 << 13),
  /** where a declarator's chain ends: int (1), struct, union, enum, fwd (4-7), typedef (8), float (16), enum64 (19) */
  BASE = (1 << 1) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 16) | (1 << 19),
  /** skipped to find a type's alignment: typedefs (8), modifiers, type tags */
  SKIP = DROP | (1 << 8),
  /** chain entries printed after what follows them: pointers (2) and modifiers */
  AFTER = MODS | (1 << 2),
  /** kinds whose names may be counted: struct, union, enum (4-6), typedef (8), enum64 (19) */
  NAMED = (1 << 4) | (1 << 5) | (1 << 6) | (1 << 8) | (1 << 19),
}
// biome-ignore lint/suspicious/noConstEnum: file-private, inlined as literals by tsc and esbuild
const enum N {
  /** states of a type while ordering */
  ORDERING = 1,
  ORDERED = 2,
  MAX_NESTING = 1000,
  /** indentation stops at 13 tabs, as libbpf's btf_dump (bpftool) stops */
  MAX_TABS = 13,
}
// biome-ignore lint/suspicious/noConstEnum: file-private, inlined as literals by tsc and esbuild
const enum E {
  EMITTING = 1,
  EMITTED = 2,
}

const utf8In = new TextEncoder();

// references by kind: word of the first (after name, info), words between, how many (-1: vlen)
const REF_FIRST = new Int8Array(32);
const REF_STRIDE = new Int8Array(32).fill(1);
const REF_COUNT = new Int8Array(32);
for (const k of [K.PTR, K.TYPEDEF, K.VOLATILE, K.CONST, K.RESTRICT, K.FUNC, K.VAR, K.DECL_TAG, K.TYPE_TAG]) {
  REF_FIRST[k] = 2;
  REF_COUNT[k] = 1;
}
REF_FIRST[K.ARRAY] = 3;
REF_COUNT[K.ARRAY] = 2; // element and index types
for (const [k, first, stride] of [
  [K.STRUCT, 4, 3],
  [K.UNION, 4, 3],
  [K.FUNC_PROTO, 4, 2],
  [K.DATASEC, 3, 3],
] as const) {
  REF_FIRST[k] = first;
  REF_STRIDE[k] = stride;
  REF_COUNT[k] = -1;
}
// names that may be counted for duplicates, by kind: the type's own, and one per vlen item
const NAME_FIXED = new Int8Array(32);
const NAME_PER_VLEN = new Int8Array(32);
for (const k of [K.STRUCT, K.UNION, K.TYPEDEF, K.ENUM, K.ENUM64]) NAME_FIXED[k] = 1;
NAME_PER_VLEN[K.ENUM] = 1;
NAME_PER_VLEN[K.ENUM64] = 1;

const utf8Out = new TextDecoder();

/**
 * The printer's own words. The printing functions do not write bytes: they append small numbers
 * to a queue of operations (a name's string offset, a word, a number, a new line) that one
 * function, `render`, turns into bytes. Why: in a fresh process V8's optimising compiler spent
 * much of its time on the writing helpers (grow checks, copy and digit loops), inlined again at
 * every one of their many call sites; appending to the queue is a few instructions, and the
 * loops are compiled once, in `render`.
 */
// biome-ignore lint/suspicious/noConstEnum: file-private, inlined as literals by tsc and esbuild
const enum W {
  SPACE_PAREN = -1,
  SPACE_STAR = -2,
  EQUALS = -3,
  ATTR_OPEN = -4,
  MODE_BYTE = -5,
  MODE_WORD = -6,
  PACKED = -7,
  OPEN_BRACE = -8,
  ATTR_CLOSE = -9,
  COMMA = -10,
  ELLIPSIS = -11,
  COLON = -12,
  END_DECL = -13,
  DUP = -14,
  ENUM = -15,
  TYPEDEF = -16,
  VA_LIST = -17,
  VOID = -18,
  VOID_PAREN = -19,
  TAG_OPEN = -20,
  TAG_CLOSE = -21,
  STRUCT = -22,
  UNION = -23,
  STRUCT_SPACE = -24,
  UNION_SPACE = -25,
  LL = -26,
  ULL = -27,
  LONG = -28,
  INT = -29,
  SHORT = -30,
  CHAR = -31,
  SEMI = -32,
  RBRACE = -33,
  STAR = -34,
  LPAREN = -35,
  RPAREN = -36,
  LBRACK = -37,
  RBRACK = -38,
  COMMA1 = -39,
  MINUS = -40,
  SPACE = -41,
  VOLATILE_SPACE = -42,
  CONST_SPACE = -43,
  RESTRICT_SPACE = -44,
  SPACE_VOLATILE = -45,
  SPACE_CONST = -46,
  SPACE_RESTRICT = -47,
}
/** The words' texts, in the order of {@link W} (word w is WORD_TEXTS[-1 - w]). */
const WORD_TEXTS = [
  " (",
  " *",
  " = ",
  " __attribute__((",
  " __attribute__((mode(byte)))",
  " __attribute__((mode(word)))",
  " __attribute__((packed))",
  " {",
  "))",
  ", ",
  "...",
  ": ",
  ";\n\n",
  "___",
  "enum",
  "typedef ",
  "typedef __builtin_va_list __gnuc_va_list",
  "void",
  "void)",
  ' __attribute__((btf_type_tag("',
  '")))',
  "struct",
  "union",
  "struct ",
  "union ",
  "LL,",
  "ULL,",
  "long",
  "int",
  "short",
  "char",
  ";",
  "}",
  "*",
  "(",
  ")",
  "[",
  "]",
  ",",
  "-",
  " ",
  "volatile ",
  "const ",
  "restrict ",
  " volatile",
  " const",
  " restrict",
];
/** The words as bytes, one after another, and where each starts (WORD_AT[i + 1] is where it ends). */
const WORD_BYTES = utf8In.encode(WORD_TEXTS.join(""));
const WORD_AT = new Int32Array(WORD_TEXTS.length + 1);
for (let i = 0; i < WORD_TEXTS.length; i++) WORD_AT[i + 1] = WORD_AT[i]! + WORD_TEXTS[i]!.length;

/** Operations of the queue besides names (>= 0) and words (-1 down to -WORD_TEXTS.length). */
// biome-ignore lint/suspicious/noConstEnum: file-private, inlined as literals by tsc and esbuild
const enum Op {
  /** next slot: a number below 2^32 (as int32) */
  NUM = -100,
  /** next slot: `___` and a number */
  DUP = -101,
  /** next slot: a new line and that many tabs */
  LINE = -102,
  /** next slot: index of a string in `texts` */
  TEXT = -103,
  /** smallest word */
  LAST_WORD = -47,
}
/** What {@link CPrinter.name} does. */
// biome-ignore lint/suspicious/noConstEnum: file-private, inlined as literals by tsc and esbuild
const enum Name {
  QUIET = 0,
  TYPE = 1,
  VALUE = 2,
}

/** Flag in `aligns`: the record needs `__attribute__((packed))`. */
const PACKED = 16;

/** Slots in the operation queue: rendered when full and at the end. */
const QUEUE_SLOTS = 1 << 10;
/** The warm-up's queue: small, so that it fills (V8 sees `render` called from every queueing site). */
const WARMUP_QUEUE_SLOTS = 16;

/** Options of {@link formatC}. */
export interface CFormatOptions {
  /** include guard name (default `__VMLINUX_H__`) */
  readonly guard?: string;
  /** emit the `preserve_access_index` pragma (default true) */
  readonly preserveAccessIndex?: boolean;
}

/** The blob and its bases as one id space: words, where each type starts, strings. */
interface Flat {
  readonly words: Uint32Array;
  /** word index of each type, by id (0 for void) */
  readonly starts: Uint32Array;
  readonly strings: Uint8Array;
  /** one past the last id */
  readonly count: number;
  /** size of the blobs together */
  readonly bytes: number;
}

function flatten(btf: Btf): Flat {
  const chain: Btf[] = [];
  for (let b: Btf | undefined = btf; b; b = b.base) chain.unshift(b);
  const count = btf.endId;
  const starts = new Uint32Array(count);
  let words: Uint32Array;
  let strings: Uint8Array;
  let bytes = 0;
  if (chain.length === 1) {
    const v = btf.typeWords;
    words = v.words;
    starts.set(v.starts, 1);
    strings = btf.stringBytes;
    bytes = btf.bytes.length;
  } else {
    let nWords = 0;
    let nStrings = 0;
    for (const b of chain) {
      nWords += b.typeWords.words.length;
      nStrings += b.stringBytes.length;
    }
    words = new Uint32Array(nWords);
    strings = new Uint8Array(nStrings);
    let w = 0;
    for (const b of chain) {
      const v = b.typeWords;
      words.set(v.words, w);
      for (let i = 0; i < v.starts.length; i++) starts[b.startId + i] = v.starts[i]! + w;
      w += v.words.length;
      strings.set(b.stringBytes, b.stringsStart);
      bytes += b.bytes.length;
    }
  }
  return { words, starts, strings, count, bytes };
}

class CPrinter {
  private readonly w: Uint32Array;
  private readonly o: Uint32Array;
  private readonly k: Uint8Array;
  private readonly s: Uint8Array;
  private readonly n: number;

  private readonly order: Uint8Array;
  private readonly emitState: Uint8Array;
  private readonly fwdEmitted: Uint8Array;
  private readonly referenced: Uint8Array;
  private readonly aligns: Uint8Array;
  /** 0: name not resolved yet; 1: resolved, no suffix; N > 1: resolved as `name___N` */
  private readonly suffix: Int32Array;
  private readonly queue: Int32Array;
  private queued = 0;
  private stack: Int32Array;
  private sp = 0;
  private depth = 0;

  /**
   * The names that may be counted, each once (by its bytes): open addressing, 2 words a slot
   * (string offset + 1, hash), small enough to stay in the cache. Filled up front by
   * {@link slotNames}; printing only counts, in `uses` through the slots below.
   */
  private names: Int32Array;
  /** uses of each slot's name: among types (at 2 * slot) and identifiers (at 2 * slot + 1) */
  private uses: Int32Array;
  /** slot in `names` of each record's, enum's and typedef's name (-1: offset past the strings) */
  private readonly nameSlot: Int32Array;
  /** slot in `names` of each enum value's name, enum after enum, value after value */
  private valueSlot: Int32Array;
  /** index in `valueSlot` of each enum's first value */
  private readonly valueBase: Int32Array;
  /** slots of the names `__builtin_va_list` and `__gnuc_va_list` (-2 when no type has them) */
  private readonly vaList: number;
  private readonly gnucVaList: number;

  /** the operation queue (see {@link W}) */
  private readonly ops: Int32Array;
  /** size of the queue (a field: the warm-up's is small) */
  private readonly slots: number;
  private nops = 0;
  /** strings of TEXT operations */
  private texts: string[] = [];
  out: Uint8Array;
  at = 0;
  private readonly limit: number;
  /** bytes of the include guard and pragmas around the types */
  private readonly frame: number;

  constructor(f: Flat, frame: number, queue: number) {
    this.slots = queue;
    // one slot more: an operation with a value is queued while one slot is free
    this.ops = new Int32Array(queue + 1);
    this.w = f.words;
    this.o = f.starts;
    this.k = new Uint8Array(f.count);
    this.s = f.strings;
    const n = (this.n = f.count);
    this.order = new Uint8Array(n);
    this.emitState = new Uint8Array(n);
    this.fwdEmitted = new Uint8Array(n);
    this.referenced = new Uint8Array(n);
    this.aligns = new Uint8Array(n);
    this.suffix = new Int32Array(n);
    this.queue = new Int32Array(n);
    this.stack = new Int32Array(256);
    this.names = new Int32Array(0);
    this.uses = new Int32Array(0);
    this.nameSlot = new Int32Array(n);
    this.valueSlot = new Int32Array(0);
    this.valueBase = new Int32Array(n);
    this.frame = frame;
    this.limit = 64 * f.bytes + (1 << 20) + frame;
    this.out = new Uint8Array(Math.min(this.limit, f.bytes + frame + 4096));
    // names that can be counted: named records, enums and typedefs, and enum values
    const names = this.scan();
    let slots = 1024;
    while (slots < 1.5 * names) slots *= 2;
    this.names = new Int32Array(2 * slots);
    this.uses = new Int32Array(2 * slots);
    this.valueSlot = new Int32Array(names);
    this.slotNames();
    this.vaList = this.find("__builtin_va_list");
    this.gnucVaList = this.find("__gnuc_va_list");
  }

  // ---- output ----

  private grow(need: number): void {
    if (this.at + need > this.limit) {
      throw new BtfError(
        `the C header would exceed ${this.limit - this.frame} bytes, far more than this BTF's size warrants: ` +
          "anonymous types nested many times over, or huge padding gaps (malformed BTF?)",
      );
    }
    let size = this.out.length * 2;
    while (size < this.at + need) size *= 2;
    const next = new Uint8Array(Math.min(size, this.limit));
    next.set(this.out.subarray(0, this.at));
    this.out = next;
  }

  /** Appends bytes (outside the queue: render it first). */
  bytes(b: Uint8Array): void {
    if (this.at + b.length > this.out.length) this.grow(b.length);
    this.out.set(b, this.at);
    this.at += b.length;
  }

  /** Queues a word ({@link W}) or the string at an offset already checked. */
  private op(v: number): void {
    if (this.nops >= this.slots) this.render();
    this.ops[this.nops++] = v;
  }

  /** Queues an operation that takes a value ({@link Op}). */
  private op2(code: number, v: number): void {
    if (this.nops >= this.slots) this.render();
    const ops = this.ops;
    ops[this.nops] = code;
    ops[this.nops + 1] = v;
    this.nops += 2;
  }

  /** Queues a new line and `level` tabs. */
  private line(level: number): void {
    this.op2(Op.LINE, level);
  }

  /** Queues a non-negative integer below 2^32. */
  private num(x: number): void {
    this.op2(Op.NUM, x | 0);
  }

  /** Queues the string at `off` (its bytes as they are). */
  private str(off: number): void {
    if (off >= this.s.length) this.checkString(off);
    this.op(off);
  }

  /** Queues a name and its `___N` suffix. */
  private named(off: number, suffix: number): void {
    this.str(off);
    if (suffix > 1) this.op2(Op.DUP, suffix);
  }

  /** Queues a string of the printer's own (rare: a 64-bit enum value past 2^53). */
  private put(t: string): void {
    // render first if the queue is full: rendering empties `texts`
    if (this.nops >= this.slots) this.render();
    this.op2(Op.TEXT, this.texts.push(t) - 1);
  }

  /** Writes the queued operations as bytes and empties the queue. */
  render(): void {
    const ops = this.ops;
    const n = this.nops;
    const s = this.s;
    const wordAt = WORD_AT;
    const wordBytes = WORD_BYTES;
    let out = this.out;
    let at = this.at;
    for (let i = 0; i < n; i++) {
      let v = ops[i]!;
      if (v >= 0) {
        // a name: copy up to its NUL (offsets were checked when queued)
        for (let c = s[v]!; c !== 0; c = s[++v]!) {
          if (at === out.length) {
            this.at = at;
            this.grow(1);
            out = this.out;
          }
          out[at++] = c;
        }
        continue;
      }
      if (v >= Op.LAST_WORD) {
        const from = wordAt[-1 - v]!;
        const to = wordAt[-v]!;
        if (at + (to - from) > out.length) {
          this.at = at;
          this.grow(to - from);
          out = this.out;
        }
        for (let j = from; j < to; j++) out[at++] = wordBytes[j]!;
        continue;
      }
      let x = ops[++i]!;
      // room for a new line and its tabs, a number, or `___` and a number (what the writes asked
      // for one at a time before the queue: the buffer grows, or is found too big, where it did)
      if (v === Op.LINE && x > N.MAX_TABS) x = N.MAX_TABS;
      const room = v === Op.LINE ? x + 1 : v === Op.DUP ? 23 : v === Op.NUM ? 20 : 0;
      if (at + room > out.length) {
        this.at = at;
        this.grow(room);
        out = this.out;
      }
      if (v === Op.LINE) {
        out[at++] = 10;
        for (let t = 0; t < x; t++) out[at++] = 9;
        continue;
      }
      if (v === Op.TEXT) {
        const t = this.texts[x]!;
        this.at = at;
        if (at + t.length > out.length) this.grow(t.length);
        out = this.out;
        for (let j = 0; j < t.length; j++) out[at++] = t.charCodeAt(j);
        continue;
      }
      if (v === Op.DUP) {
        out[at++] = 95;
        out[at++] = 95;
        out[at++] = 95;
      } else {
        x >>>= 0;
      }
      // a number: count its digits, then write them from the last
      let digits = 1;
      for (let t = x; t >= 10; t = Math.floor(t / 10)) digits++;
      at += digits;
      for (let d = at; x >= 10; ) {
        const q = Math.floor(x / 10);
        out[--d] = 48 + x - q * 10;
        x = q;
      }
      out[at - digits] = 48 + x;
    }
    this.at = at;
    this.nops = 0;
    if (this.texts.length) this.texts = [];
  }

  private checkString(off: number): void {
    if (off >= this.s.length) {
      throw new BtfError(`string offset ${off} is past the string table (${this.s.length} bytes)`);
    }
  }

  // ---- names ----

  /**
   * How types and enum values are named, in one function (few functions: see {@link W}):
   * - `Name.VALUE`: `x` is an enum value's index in `valueSlot`, `value` its name's string
   *   offset: counts one more use of it among identifiers and queues it with its `___N` suffix;
   * - `Name.TYPE`: `x` is a type id: queues how the type is referred to (`struct name`,
   *   `enum name`, a forward declaration's `union name`, a typedef's name);
   * - `Name.QUIET`: the same without queueing anything.
   * A type's name is counted among types (records, enums, forward declarations) or identifiers
   * (typedefs) the first time it is resolved; returns its suffix (1: none, N > 1: `name___N`).
   */
  private name(x: number, mode: Name, value = 0): number {
    const s = this.s;
    let off = value;
    let ns = 2;
    let k = 0;
    let sfx = 0;
    if (mode !== Name.VALUE) {
      const at = this.o[x]!;
      off = this.w[at]!;
      k = this.k[x]!;
      if (k !== K.TYPEDEF) ns = 1;
      sfx = this.suffix[x]!;
      if (sfx === 0 && (off === 0 || k === K.FWD || (k === K.ENUM && (this.w[at + 1]! & 0xffff) === 0))) {
        sfx = 1;
        this.suffix[x] = 1;
      }
    }
    if (sfx === 0) {
      // one more use of the name (the slot is -1 when the offset is past the strings: an error)
      const slot = mode === Name.VALUE ? this.valueSlot[x]! : this.nameSlot[x]!;
      if (slot < 0) this.checkString(off);
      sfx = ++this.uses[(slot << 1) + ns - 1]!;
      if (mode !== Name.VALUE) this.suffix[x] = sfx;
    }
    if (mode === Name.QUIET) return sfx;
    if (mode === Name.TYPE) {
      if (k === K.TYPEDEF) {
        if (off === 0) return sfx;
      } else if (k === K.FWD) {
        this.op(this.w[this.o[x]! + 1]! >>> 31 ? W.UNION_SPACE : W.STRUCT_SPACE);
        if (off === 0) return sfx;
      } else {
        this.op(k === K.STRUCT ? W.STRUCT : k === K.UNION ? W.UNION : W.ENUM);
        if (off === 0) return sfx;
        // ` name`, or nothing when the name is empty
        if (off >= s.length) this.checkString(off);
        if (s[off] === 0 && sfx < 2) return sfx;
        this.op(W.SPACE);
      }
    }
    if (off >= s.length) this.checkString(off);
    this.op(off);
    if (sfx > 1) this.op2(Op.DUP, sfx);
    return sfx;
  }

  /**
   * Puts every name that may be counted (records', enums', typedefs' and enum values') in the
   * name table, each distinct name once, and records its slot. Why up front: looking a name up by
   * its bytes is the costly part of counting, and done here it is one small loop that V8 compiles
   * early and once; printing then counts through the slots. Names past the strings get -1 (the
   * error is thrown when such a name is printed, as before).
   */
  private slotNames(): void {
    const w = this.w;
    const o = this.o;
    const ks = this.k;
    const n = this.n;
    const nameSlot = this.nameSlot;
    const valueSlot = this.valueSlot;
    let v = 0;
    for (let id = 1; id < n; id++) {
      const k = ks[id]!;
      if (((KS.NAMED >>> k) & 1) === 0) continue;
      const at = o[id]!;
      nameSlot[id] = this.slotOf(w[at]!);
      if (k === K.ENUM || k === K.ENUM64) {
        const vlen = w[at + 1]! & 0xffff;
        const stride = k === K.ENUM ? 2 : 3;
        this.valueBase[id] = v;
        for (let i = 0, m = at + 3; i < vlen; i++, m += stride) valueSlot[v++] = this.slotOf(w[m]!);
      }
    }
  }

  /** The slot of the string at `off` in the name table (added if new); -1 past the strings. */
  private slotOf(off: number): number {
    const s = this.s;
    if (off >= s.length) return -1;
    let h = 0x811c9dc5;
    for (let i = off, c = s[i]!; c !== 0; c = s[++i]!) h = Math.imul(h ^ c, 0x01000193);
    const names = this.names;
    const mask = (names.length >> 1) - 1;
    // the table has at least 1.5 times as many slots as there are names: never full
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const key = names[slot << 1]!;
      if (key === 0) {
        names[slot << 1] = off + 1;
        names[(slot << 1) + 1] = h;
        return slot;
      }
      if (key - 1 === off || (names[(slot << 1) + 1] === h && this.sameString(key - 1, off))) return slot;
    }
  }

  /** The slot of ASCII name `t` in the name table, or -2. */
  private find(t: string): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < t.length; i++) h = Math.imul(h ^ t.charCodeAt(i), 0x01000193);
    const names = this.names;
    const s = this.s;
    const mask = (names.length >> 1) - 1;
    for (let slot = h & mask; names[slot << 1] !== 0; slot = (slot + 1) & mask) {
      if (names[(slot << 1) + 1] !== h) continue;
      const off = names[slot << 1]! - 1;
      let i = 0;
      while (i < t.length && s[off + i] === t.charCodeAt(i)) i++;
      if (i === t.length && s[off + i] === 0) return slot;
    }
    return -2;
  }

  private sameString(a: number, b: number): boolean {
    const s = this.s;
    for (;;) {
      const c = s[a++]!;
      if (c !== s[b++]) return false;
      if (c === 0) return true;
    }
  }

  // ---- the pass that checks references ----

  private bad(id: number, from: number): never {
    throw new BtfError(`reference to type id ${id}, which does not exist (ids go up to ${this.n - 1})`, {
      typeId: from,
    });
  }

  /**
   * Records each type's kind and marks what is referenced, checking every reference; returns how
   * many names may be counted. One uniform, table-driven loop: a cold process optimises it once.
   */
  private scan(): number {
    const w = this.w;
    const o = this.o;
    const ks = this.k;
    const r = this.referenced;
    const n = this.n;
    // the tables in locals: module variables are slower to read, interpreted or not
    const nameFixed = NAME_FIXED;
    const namePerVlen = NAME_PER_VLEN;
    const refFirst = REF_FIRST;
    const refStride = REF_STRIDE;
    const refCount = REF_COUNT;
    let names = 0;
    for (let id = 1; id < n; id++) {
      const at = o[id]!;
      const info = w[at + 1]!;
      const k = (info >>> 24) & 0x1f;
      const vlen = info & 0xffff;
      ks[id] = k;
      names += nameFixed[k]! + namePerVlen[k]! * vlen;
      const count = refCount[k]!;
      const stride = refStride[k]!;
      const first = at + refFirst[k]!;
      const end = first + (count < 0 ? vlen : count) * stride;
      for (let m = first; m < end; m += stride) {
        const t = w[m]!;
        if (t >= n) this.bad(t, id);
        r[t] = 1;
      }
      // a prototype's return type is checked, not marked: libbpf marks the parameters only
      if (k === K.FUNC_PROTO && w[at + 2]! >= n) this.bad(w[at + 2]!, id);
    }
    return names;
  }

  // ---- ordering ----

  private tooDeep(id: number): never {
    throw new BtfError(`types nest deeper than ${N.MAX_NESTING} levels: a loop?`, { typeId: id });
  }

  /** Dumps every type, each after whatever it needs first. */
  dumpAll(): void {
    const order = this.order;
    for (let id = 1; id < this.n; id++) if (order[id] !== N.ORDERED) this.dumpType(id);
  }

  /** Dumps one type (and whatever it needs first). */
  private dumpType(id: number): void {
    this.queued = 0;
    this.orderType(id, false);
    const q = this.queue;
    for (let i = 0; i < this.queued; i++) this.emitType(q[i]!, 0);
  }

  /** Returns 1 when the type is "strong" (needs a full definition), 0 when a forward declaration does. */
  private orderType(id: number, throughPtr: boolean): number {
    const order = this.order;
    const state = order[id]!;
    if (state === N.ORDERED) return 1;
    const w = this.w;
    const at = this.o[id]!;
    const k = this.k[id]!;
    const named = id !== 0 && w[at]! !== 0;
    if (state === N.ORDERING) {
      if ((k === K.STRUCT || k === K.UNION) && throughPtr && named) return 0;
      throw new BtfError("types contain each other by value: no C declaration order exists", { typeId: id });
    }
    if (++this.depth > N.MAX_NESTING) this.tooDeep(id);
    // r: strong (1) or not (0); done: the type is ordered for good; emit: it goes in the queue
    let r = 0;
    let done = false;
    let emit = false;
    switch (k) {
      case 0: // void
        break;
      case K.PTR: {
        const t = w[at + 2]!;
        r = order[t] === N.ORDERED ? 1 : this.orderType(t, true);
        done = true;
        break;
      }
      case K.ARRAY:
      case K.VOLATILE:
      case K.CONST:
      case K.RESTRICT:
      case K.TYPE_TAG: {
        const t = w[at + (k === K.ARRAY ? 3 : 2)]!;
        r = order[t] === N.ORDERED ? 1 : this.orderType(t, k === K.ARRAY ? false : throughPtr);
        break;
      }
      case K.STRUCT:
      case K.UNION: {
        if (throughPtr && named) break;
        order[id] = N.ORDERING;
        const vlen = w[at + 1]! & 0xffff;
        for (let i = 0, m = at + 4; i < vlen; i++, m += 3) {
          if (order[w[m]!] !== N.ORDERED) this.orderType(w[m]!, false);
        }
        emit = named;
        done = true;
        r = 1;
        break;
      }
      case K.ENUM:
      case K.ENUM64:
      case K.FWD:
        emit = named || !this.referenced[id];
        done = true;
        r = 1;
        break;
      case K.TYPEDEF: {
        const t = w[at + 2]!;
        const strong = order[t] === N.ORDERED ? 1 : this.orderType(t, throughPtr);
        if (throughPtr && !strong) break;
        emit = true;
        done = true;
        r = 1;
        break;
      }
      case K.FUNC_PROTO: {
        r = order[w[at + 2]!] === N.ORDERED || this.orderType(w[at + 2]!, throughPtr) > 0 ? 1 : 0;
        const vlen = w[at + 1]! & 0xffff;
        for (let i = 0, m = at + 4; i < vlen; i++, m += 2) {
          if (order[w[m]!] === N.ORDERED || this.orderType(w[m]!, throughPtr) > 0) r = 1;
        }
        break;
      }
      default: // int, float, and what C has no declaration for
        done = true;
    }
    if (emit) this.queue[this.queued++] = id;
    if (done) order[id] = N.ORDERED;
    this.depth--;
    return r;
  }

  // ---- emitting ----

  private emitType(id: number, container: number): void {
    const state = this.emitState[id]!;
    if (state === E.EMITTED) return;
    const w = this.w;
    const at = this.o[id]!;
    const k = this.k[id]!;
    if (state === E.EMITTING) {
      if (this.fwdEmitted[id]) return;
      if (k === K.STRUCT || k === K.UNION) {
        if (id === container) return;
        if (w[at] === 0) return; // anonymous loop: nothing sensible to print
        this.name(id, Name.TYPE);
        this.op(W.END_DECL);
        this.fwdEmitted[id] = 1;
      } else if (k === K.TYPEDEF) {
        if (!this.blocked(id)) {
          this.typedefDef(id, 0);
          this.op(W.END_DECL);
        }
        this.fwdEmitted[id] = 1;
      }
      return;
    }
    if (++this.depth > N.MAX_NESTING) this.tooDeep(id);
    switch (k) {
      case K.INT:
        this.emitState[id] = E.EMITTED;
        break;
      case K.ENUM:
      case K.ENUM64:
        if (container === 0) {
          this.enumDef(id, 0);
          this.op(W.END_DECL);
        }
        this.emitState[id] = E.EMITTED;
        break;
      case K.PTR:
      case K.VOLATILE:
      case K.CONST:
      case K.RESTRICT:
      case K.TYPE_TAG:
        this.emitType(w[at + 2]!, container);
        break;
      case K.ARRAY:
        this.emitType(w[at + 3]!, container);
        break;
      case K.FWD:
        this.name(id, Name.TYPE);
        this.op(W.END_DECL);
        this.emitState[id] = E.EMITTED;
        break;
      case K.TYPEDEF:
        this.emitState[id] = E.EMITTING;
        this.emitType(w[at + 2]!, id);
        if (!this.fwdEmitted[id] && !this.blocked(id)) {
          this.typedefDef(id, 0);
          this.op(W.END_DECL);
        }
        this.emitState[id] = E.EMITTED;
        break;
      case K.STRUCT:
      case K.UNION: {
        this.emitState[id] = E.EMITTING;
        const named = w[at] !== 0;
        if (container === 0 || !named) {
          const vlen = w[at + 1]! & 0xffff;
          const inner = named ? id : container;
          for (let i = 0, m = at + 4; i < vlen; i++, m += 3) this.emitType(w[m]!, inner);
        } else if (!this.fwdEmitted[id] && id !== container) {
          this.name(id, Name.TYPE);
          this.op(W.END_DECL);
          this.fwdEmitted[id] = 1;
        }
        if (container === 0) {
          this.structDef(id, 0);
          this.op(W.END_DECL);
          this.emitState[id] = E.EMITTED;
        } else {
          this.emitState[id] = 0;
        }
        break;
      }
      case K.FUNC_PROTO: {
        this.emitType(w[at + 2]!, container);
        const vlen = w[at + 1]! & 0xffff;
        for (let i = 0, m = at + 4; i < vlen; i++, m += 2) this.emitType(w[m]!, container);
        break;
      }
    }
    this.depth--;
  }

  /** Whether a typedef is `__builtin_va_list` (which bpftool leaves out). */
  private blocked(id: number): boolean {
    const off = this.w[this.o[id]!]!;
    if (off === 0) return false;
    const slot = this.nameSlot[id]!;
    if (slot < 0) this.checkString(off);
    return slot === this.vaList;
  }

  private enumDef(id: number, level: number): void {
    const w = this.w;
    const at = this.o[id]!;
    const info = w[at + 1]!;
    const vlen = info & 0xffff;
    this.name(id, Name.TYPE);
    if (vlen === 0) return;
    this.op(W.OPEN_BRACE);
    const signed = info >>> 31 === 1;
    const is64 = this.k[id] === K.ENUM64;
    const stride = is64 ? 3 : 2;
    let high = false;
    const base = this.valueBase[id]!;
    for (let i = 0, m = at + 3; i < vlen; i++, m += stride) {
      this.line(level + 1);
      this.name(base + i, Name.VALUE, w[m]!);
      this.op(W.EQUALS);
      // one path for both widths: a 32-bit value is its 64-bit sign or zero extension
      const lo = w[m + 1]!;
      const hi = is64 ? w[m + 2]! : signed && lo >= 0x80000000 ? 0xffffffff : 0;
      if (hi === 0) {
        this.num(lo);
      } else if (signed && hi === 0xffffffff && lo !== 0) {
        this.op(W.MINUS);
        this.num(0x100000000 - lo);
      } else {
        this.big(lo, hi, signed);
      }
      if (is64) {
        if (hi !== 0) high = true;
        this.op(signed ? W.LL : W.ULL);
      } else {
        this.op(W.COMMA1);
      }
    }
    this.line(level);
    this.op(W.RBRACE);
    const size = w[at + 2]!;
    if (size === 1) this.op(W.MODE_BYTE);
    else if (size === 8 && (!is64 || !high)) this.op(W.MODE_WORD);
  }

  /** Queues a 64-bit enum value past 53 bits (rare: kept out of {@link enumDef}). */
  private big(lo: number, hi: number, signed: boolean): void {
    const u = (BigInt(hi) << 32n) | BigInt(lo);
    this.put(String(signed ? BigInt.asIntN(64, u) : u));
  }

  private typedefDef(id: number, level: number): void {
    const at = this.o[id]!;
    const sfx = this.name(id, Name.QUIET);
    const off = this.w[at]!;
    const target = this.w[at + 2]!;
    if (target === 0 && sfx < 2 && off !== 0 && this.nameSlot[id] === this.gnucVaList) {
      this.op(W.VA_LIST);
      return;
    }
    this.op(W.TYPEDEF);
    this.decl(target, 0, off, sfx, level);
  }

  // ---- sizes and alignment ----

  /**
   * Alignment as libbpf's btf__align_of computes it (0 when the type has none), computed once:
   * `aligns` holds it plus 1, and PACKED when the type is a record whose layout C cannot give
   * without `__attribute__((packed))` (a member off its alignment, or a size that is not a
   * multiple of it); see {@link packed}.
   */
  private alignOf(id: number): number {
    const cached = this.aligns[id]!;
    if (cached !== 0) return (cached & 15) - 1;
    if (++this.depth > N.MAX_NESTING) this.tooDeep(id);
    const ks = this.k;
    const w = this.w;
    // skip typedefs and modifiers
    let r = id;
    for (let steps = 0; ; steps++) {
      const k = ks[r]!;
      if (((KS.SKIP >>> k) & 1) === 0) break;
      if (steps >= this.n) throw new BtfError("type chain loops back on itself", { typeId: r });
      r = w[this.o[r]! + 2]!;
    }
    const at = this.o[r]!;
    let a = 0;
    let packed = 0;
    switch (ks[r]) {
      case K.INT:
      case K.ENUM:
      case K.ENUM64:
      case K.FLOAT: {
        const size = w[at + 2]!;
        a = Math.max(1, Math.min(size, POINTER_SIZE));
        break;
      }
      case K.PTR:
        a = POINTER_SIZE;
        break;
      case K.ARRAY:
        a = this.alignOf(w[at + 3]!);
        break;
      case K.STRUCT:
      case K.UNION: {
        // libbpf: the first member without alignment makes it 0, the first one off its
        // alignment (bitfields aside) makes it 1; else the largest, or 1 when the size is
        // not a multiple of that. Packed (bpftool): a member off its alignment, or such a size.
        const info = w[at + 1]!;
        const vlen = info & 0xffff;
        const flag = info >>> 31 === 1;
        let first = 1;
        let max = 1;
        for (let i = 0, m = at + 4; i < vlen; i++, m += 3) {
          const ma = this.alignOf(w[m]!);
          if (ma === 0) {
            if (first === 1) first = 0;
            continue;
          }
          const o = w[m + 1]!;
          if ((flag ? o >>> 24 : 0) === 0 && (flag ? o & 0xffffff : o) % (8 * ma) !== 0) {
            if (first === 1) first = -1;
            packed = PACKED;
          }
          if (ma > max) max = ma;
        }
        const odd = w[at + 2]! % max !== 0;
        if (odd) packed = PACKED;
        a = first === 0 ? 0 : first === -1 || odd ? 1 : max;
        break;
      }
    }
    this.depth--;
    this.aligns[id] = a + 1 + (r === id ? packed : 0);
    return a;
  }

  /** Whether a struct needs `__attribute__((packed))` (after {@link alignOf} of it). */
  private packed(id: number): boolean {
    return (this.aligns[id]! & PACKED) !== 0;
  }

  /** Size in bytes, through typedefs, modifiers and arrays; 0 for types without one. */
  private sizeOf(id: number): number {
    const w = this.w;
    const ks = this.k;
    const start = id;
    let factor = 1;
    for (let steps = 1; ; steps++) {
      if (steps > this.n) throw new BtfError("type chain loops back on itself", { typeId: start });
      const at = this.o[id]!;
      switch (ks[id]) {
        case K.INT:
        case K.STRUCT:
        case K.UNION:
        case K.ENUM:
        case K.ENUM64:
        case K.DATASEC:
        case K.FLOAT: {
          const size = factor * w[at + 2]!;
          if (size > 0xffffffff) throw new BtfError(`size ${size} overflows 32 bits`, { typeId: start });
          return size;
        }
        case K.PTR:
          return factor * POINTER_SIZE;
        case K.TYPEDEF:
        case K.CONST:
        case K.VOLATILE:
        case K.RESTRICT:
        case K.TYPE_TAG:
        case K.VAR:
          id = w[at + 2]!;
          break;
        case K.ARRAY:
          factor *= w[at + 5]!;
          if (factor > 0xffffffff) throw new BtfError("array size overflows 32 bits", { typeId: start });
          id = w[at + 3]!;
          break;
        default:
          return 0;
      }
    }
  }

  /**
   * Queues the padding bitfields from bit `cur` to bit `next` of a struct, as bpftool places them:
   * a unit is `long`, `int`, `short` or `char` (64 >> unit bits). Every line is queued at one
   * place in the loop (one inlined copy of the queueing).
   */
  private padding(cur: number, next: number, nextAlign: number, inBitfield: boolean, level: number): void {
    if (cur >= next) return;
    let unit = 0;
    let rounded = 0;
    for (; unit < 4; unit++) {
      rounded = Math.ceil(cur / (64 >> unit)) * (64 >> unit);
      if (rounded <= next) break;
    }
    if (unit === 4) unit = 3;
    const padBits = 64 >> unit;
    // first, maybe, a line up to the unit's boundary; then whole units; then what is left
    let first = rounded > cur && rounded <= next;
    for (;;) {
      let u = unit;
      let bits: number;
      let to: number;
      if (first) {
        first = false;
        if (
          !inBitfield &&
          (rounded !== next || Math.ceil(cur / (nextAlign * 8)) * nextAlign * 8 === rounded) &&
          (rounded === next || next - rounded > rounded - cur)
        ) {
          cur = rounded;
          continue;
        }
        bits = inBitfield ? rounded - cur : 0;
        to = rounded;
      } else {
        if (cur === next) return;
        bits = Math.min(next - cur, padBits);
        // the narrowest unit that holds what is left
        if (bits !== padBits) for (u = 3; 64 >> u < bits; u--);
        to = cur + bits;
      }
      this.line(level);
      this.op(W.LONG - u);
      this.op(W.COLON);
      this.num(bits);
      this.op(W.SEMI);
      cur = to;
    }
  }

  private structDef(id: number, level: number): void {
    const w = this.w;
    const at = this.o[id]!;
    const isStruct = this.k[id] === K.STRUCT;
    const info = w[at + 1]!;
    const vlen = info & 0xffff;
    const flag = info >>> 31 === 1;
    const align = this.alignOf(id);
    const packed = isStruct ? this.packed(id) : false;
    this.name(id, Name.TYPE);
    this.op(W.OPEN_BRACE);
    let off = 0;
    let prevBitfield = false;
    for (let i = 0, m = at + 3; i < vlen; i++, m += 3) {
      const mname = w[m]!;
      const mtype = w[m + 1]!;
      const o = w[m + 2]!;
      const bits = flag ? o >>> 24 : 0;
      const moff = flag ? o & 0xffffff : o;
      const malign = packed ? 1 : this.alignOf(mtype);
      if (off < moff) this.padding(off, moff, malign, prevBitfield && bits !== 0, level + 1);
      this.line(level + 1);
      this.decl(mtype, 0, mname, 1, level + 1);
      if (bits) {
        this.op(W.COLON);
        this.num(bits);
        off = moff + bits;
        prevBitfield = true;
      } else {
        off = moff + this.sizeOf(mtype) * 8;
        prevBitfield = false;
      }
      this.op(W.SEMI);
    }
    const size = w[at + 2]!;
    if (isStruct) this.padding(off, size * 8, align, false, level + 1);
    if (vlen || size) this.line(level);
    this.op(W.RBRACE);
    if (packed) this.op(W.PACKED);
  }

  // ---- declarations ----

  private growStack(): void {
    const next = new Int32Array(this.stack.length * 2);
    next.set(this.stack);
    this.stack = next;
  }

  /**
   * Prints a declaration of the name at string offset `name` (with its `___N` suffix): the C
   * declarator, inside out. With `id` >= 0, of type `id`: pushes the chain of types from it to a
   * named or basic type on the stack, then prints it. With `id` < 0, prints the rest of a chain
   * already on the stack above `start` (the part inside parentheses or before `[N]`).
   * One function for the whole declarator, modifiers and prototypes included: a cold process
   * compiles it once (see {@link W}).
   */
  private decl(id: number, start: number, name: number, suffix: number, level: number): void {
    const w = this.w;
    const ks = this.k;
    const fresh = id >= 0;
    if (fresh) {
      start = this.sp;
      for (let steps = 0; ; steps++) {
        if (steps > N.MAX_NESTING)
          throw new BtfError("declarator chain loops back on itself", { typeId: id });
        if (this.sp === this.stack.length) this.growStack();
        this.stack[this.sp++] = id;
        if (id === 0) break;
        const k = ks[id]!;
        if ((KS.LINK >>> k) & 1) id = w[this.o[id]! + 2]!;
        else if (k === K.ARRAY) id = w[this.o[id]! + 3]!;
        else if ((KS.BASE >>> k) & 1) break;
        else throw new BtfError(`a ${KIND_NAMES[k]} cannot appear in a C declaration`, { typeId: id });
      }
      if (++this.depth > N.MAX_NESTING) this.tooDeep(id);
    }
    const stack = this.stack;
    let lastWasPtr = true;
    let nameLeft = true;
    chain: while (this.sp > start) {
      const tid = stack[--this.sp]!;
      const at = this.o[tid]!;
      const k = ks[tid]!; // 0 for void
      if (k === K.ARRAY || k === K.FUNC_PROTO) {
        // modifiers of an array or a prototype mean nothing in C: dropped
        while (this.sp > start) {
          const m = ks[stack[this.sp - 1]!];
          if (((KS.DROP >>> m) & 1) === 0) break;
          this.sp--;
        }
      } else if (((KS.AFTER >>> k) & 1) === 0) {
        // a named or basic type (or a type tag): the modifiers that follow go before it
        while (this.sp > start) {
          const m = ks[stack[this.sp - 1]!];
          if (((KS.MODS >>> m) & 1) === 0) break;
          this.op(W.VOLATILE_SPACE - (m - K.VOLATILE));
          this.sp--;
        }
      }
      switch (k) {
        case 0:
          this.op(W.VOID);
          break;
        case K.INT:
        case K.FLOAT:
          this.str(w[at]!);
          break;
        case K.STRUCT:
        case K.UNION:
          if (w[at] === 0) this.structDef(tid, level);
          else this.name(tid, Name.TYPE);
          break;
        case K.ENUM:
        case K.ENUM64:
          if (w[at] === 0) this.enumDef(tid, level);
          else this.name(tid, Name.TYPE);
          break;
        case K.FWD:
        case K.TYPEDEF:
          this.name(tid, Name.TYPE);
          break;
        case K.PTR:
          this.op(lastWasPtr ? W.STAR : W.SPACE_STAR);
          break;
        case K.VOLATILE:
        case K.CONST:
        case K.RESTRICT:
          this.op(W.SPACE_VOLATILE - (k - K.VOLATILE));
          break;
        case K.TYPE_TAG: {
          const attr = w[at + 1]! >>> 31 !== 0;
          this.op(attr ? W.ATTR_OPEN : W.TAG_OPEN);
          this.str(w[at]!);
          this.op(attr ? W.ATTR_CLOSE : W.TAG_CLOSE);
          break;
        }
        case K.ARRAY: {
          if (this.sp === start) {
            this.putName(name, suffix, lastWasPtr);
          } else {
            const multi = ks[stack[this.sp - 1]!] === K.ARRAY;
            if (!lastWasPtr && this.hasName(name, suffix)) this.op(W.SPACE);
            if (!multi) this.op(W.LPAREN);
            this.decl(-1, start, name, suffix, level);
            if (!multi) this.op(W.RPAREN);
          }
          this.op(W.LBRACK);
          this.num(w[at + 5]!);
          this.op(W.RBRACK);
          nameLeft = false;
          break chain;
        }
        case K.FUNC_PROTO: {
          const vlen = w[at + 1]! & 0xffff;
          if (this.sp > start) {
            this.op(W.SPACE_PAREN);
            this.decl(-1, start, name, suffix, level);
            this.op(W.RPAREN);
          } else {
            this.putName(name, suffix, lastWasPtr);
          }
          this.op(W.LPAREN);
          if (vlen === 0 || (vlen === 1 && w[at + 4] === 0)) {
            this.op(W.VOID_PAREN);
          } else {
            for (let i = 0, m = at + 3; i < vlen; i++, m += 2) {
              if (i > 0) this.op(W.COMMA);
              const ptype = w[m + 1]!;
              if (i === vlen - 1 && ptype === 0) {
                this.op(W.ELLIPSIS);
                break;
              }
              this.decl(ptype, 0, w[m]!, 1, level);
            }
            this.op(W.RPAREN);
          }
          nameLeft = false;
          break chain;
        }
      }
      lastWasPtr = k === K.PTR;
    }
    if (nameLeft) this.putName(name, suffix, lastWasPtr);
    if (fresh) {
      this.depth--;
      this.sp = start;
    }
  }

  /** Whether a declarator name is non-empty. */
  private hasName(name: number, suffix: number): boolean {
    if (suffix > 1) return true;
    if (name >= this.s.length) this.checkString(name);
    return this.s[name] !== 0;
  }

  private putName(name: number, suffix: number, lastWasPtr: boolean): void {
    if (!this.hasName(name, suffix)) return;
    if (!lastWasPtr) this.op(W.SPACE);
    this.named(name, suffix);
  }
}

const WARMUP_ROUNDS = 2;
/** Blobs with fewer types than this are printed without warming up first. */
const WARMUP_AFTER = 8192;
let warmedUp = false;

/**
 * Prints the warm-up blob a few times: V8 optimises the printer's functions with the type feedback
 * seen so far, and a branch that had not run yet (the first union where only structs had been, the
 * first `___2`, ...) throws the optimised code away to compile it again. With every branch run
 * first, a cold `rawbpf btf dump --format c` of vmlinux compiles each function once (no
 * deoptimisation instead of ~20, and about a third less compile time).
 */
function warmUp(): void {
  warmedUp = true;
  const btf = warmupBtf();
  const extra = warmupCExtraBtf();
  for (let i = 0; i < WARMUP_ROUNDS; i++) {
    printC(btf, {}, WARMUP_QUEUE_SLOTS);
    printC(extra, {}, WARMUP_QUEUE_SLOTS);
  }
}

/**
 * The blob (with its base, for split BTF) as a C header, in the shape bpftool prints vmlinux.h,
 * as UTF-8 bytes (names are copied as the blob holds them). This is what `rawbpf btf dump
 * --format c` writes; {@link formatC} is the same as a string.
 * @throws BtfError when the types cannot be written as C (types that contain each other by value)
 */
export function formatCBytes(btf: Btf, options: CFormatOptions = {}): Uint8Array {
  if (!warmedUp && btf.endId > WARMUP_AFTER) warmUp();
  return printC(btf, options, QUEUE_SLOTS);
}

/**
 * {@link formatCBytes} with a queue of `slots` operations (at least 2): exported for the tests,
 * which check that where the queue is rendered changes nothing.
 * @internal
 */
export function printC(btf: Btf, options: CFormatOptions, slots: number): Uint8Array {
  const guard = options.guard ?? "__VMLINUX_H__";
  const pai = options.preserveAccessIndex ?? true;
  let head = `#ifndef ${guard}\n#define ${guard}\n\n`;
  if (pai) {
    head +=
      "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n" +
      "#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n" +
      "#endif\n\n";
  }
  let tail = "";
  if (pai) tail += "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n";
  tail += `#endif /* ${guard} */\n`;
  const headBytes = utf8In.encode(head);
  const tailBytes = utf8In.encode(tail);
  const f = flatten(btf);
  const p = new CPrinter(f, headBytes.length + tailBytes.length, Math.max(2, slots));
  p.bytes(headBytes);
  p.dumpAll();
  p.render();
  p.bytes(tailBytes);
  return p.out.subarray(0, p.at);
}

/**
 * The blob (with its base, for split BTF) as a C header, in the shape bpftool prints vmlinux.h.
 * @throws BtfError when the types cannot be written as C (types that contain each other by value)
 */
export function formatC(btf: Btf, options: CFormatOptions = {}): string {
  return utf8Out.decode(formatCBytes(btf, options));
}
