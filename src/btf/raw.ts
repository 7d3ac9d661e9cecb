/**
 * The raw lister: one `[id] KIND 'name' ...` entry per type, as `bpftool btf dump file X format
 * raw` prints it. Built for a cold process: it reads the type words and string bytes directly and
 * writes bytes (names are copied as the blob holds them, numbers written digit by digit), in a few
 * small functions so the engine optimises them early and once.
 */
import type { Btf } from "./decode.js";
import { BtfError } from "./errors.js";
import { warmupBtf } from "./warmup.js";

const K_INT = 1;
const K_ARRAY = 3;
const K_STRUCT = 4;
const K_UNION = 5;
const K_ENUM = 6;
const K_FWD = 7;
const K_FUNC = 12;
const K_FUNC_PROTO = 13;
const K_VAR = 14;
const K_DATASEC = 15;
const K_FLOAT = 16;
const K_DECL_TAG = 17;
const K_ENUM64 = 19;

const utf8In = new TextEncoder();
const utf8Out = new TextDecoder();
const word = (t: string): Uint8Array => utf8In.encode(t);

/** `KIND '` by kind number, with the leading space. */
const KIND_WORDS = [
  "UNKNOWN",
  "INT",
  "PTR",
  "ARRAY",
  "STRUCT",
  "UNION",
  "ENUM",
  "FWD",
  "TYPEDEF",
  "VOLATILE",
  "CONST",
  "RESTRICT",
  "FUNC",
  "FUNC_PROTO",
  "VAR",
  "DATASEC",
  "FLOAT",
  "DECL_TAG",
  "TYPE_TAG",
  "ENUM64",
].map((k) => word(`] ${k} `));
const LINKAGE_WORDS = ["static", "global", "extern"].map(word);
const INT_ENCODING_WORDS = ["(none)", "SIGNED", "CHAR", "UNKN", "BOOL"].map(word);
const W_UNKN = word("UNKN");
const W_ANON = word("'(anon)'");
const W_SIZE = word(" size=");
const W_TYPE_ID = word(" type_id=");
const W_VLEN = word(" vlen=");
const W_BITS_OFFSET = word(" bits_offset=");
const W_NR_BITS = word(" nr_bits=");
const W_ENCODING = word(" encoding=");
const W_INDEX_TYPE_ID = word(" index_type_id=");
const W_NR_ELEMS = word(" nr_elems=");
const W_BITFIELD_SIZE = word(" bitfield_size=");
const W_ENCODING_SIGNED = word(" encoding=SIGNED");
const W_ENCODING_UNSIGNED = word(" encoding=UNSIGNED");
const W_VAL = word(" val=");
const W_FWD_STRUCT = word(" fwd_kind=struct");
const W_FWD_UNION = word(" fwd_kind=union");
const W_LINKAGE = word(" linkage=");
const W_COMMA_LINKAGE = word(", linkage=");
const W_RET_TYPE_ID = word(" ret_type_id=");
const W_ITEM = word("\n\t");
const W_DATASEC_VAR = word("\n\ttype_id=");
const W_OFFSET = word(" offset=");
const W_COMPONENT_IDX = word(" component_idx=");

/** A growable byte buffer with the few writes the lister needs. */
class Sink {
  out: Uint8Array;
  at = 0;

  constructor(
    size: number,
    private readonly strings: Uint8Array,
  ) {
    this.out = new Uint8Array(size);
  }

  private grow(need: number): void {
    let size = this.out.length * 2;
    while (size < this.at + need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.out.subarray(0, this.at));
    this.out = next;
  }

  bytes(b: Uint8Array): void {
    const n = b.length;
    if (this.at + n > this.out.length) this.grow(n);
    this.out.set(b, this.at);
    this.at += n;
  }

  byte(c: number): void {
    if (this.at === this.out.length) this.grow(1);
    this.out[this.at++] = c;
  }

  /** A word followed by a non-negative integer below 2^53. */
  num(label: Uint8Array, x: number): void {
    if (this.at + label.length + 20 > this.out.length) this.grow(label.length + 20);
    const out = this.out;
    out.set(label, this.at);
    let at = this.at + label.length;
    if (x < 10) {
      out[at] = 48 + x;
      this.at = at + 1;
      return;
    }
    let digits = 1;
    for (let t = x; t >= 10; t = Math.floor(t / 10)) digits++;
    at += digits;
    this.at = at;
    while (x >= 10) {
      const q = Math.floor(x / 10);
      out[--at] = 48 + x - q * 10;
      x = q;
    }
    out[--at] = 48 + x;
  }

  /** A word followed by a 32-bit value read as signed. */
  signed(label: Uint8Array, x: number): void {
    if (x < 0x80000000) {
      this.num(label, x);
      return;
    }
    this.bytes(label);
    this.byte(45);
    this.num(EMPTY, 0x100000000 - x);
  }

  /** A name in quotes, or '(anon)' for offset 0. */
  quoted(off: number): void {
    if (off === 0) {
      this.bytes(W_ANON);
      return;
    }
    const s = this.strings;
    if (off >= s.length) {
      throw new BtfError(`string offset ${off} is past the string table (${s.length} bytes)`);
    }
    let out = this.out;
    let at = this.at;
    if (at === out.length) {
      this.grow(1);
      out = this.out;
    }
    out[at++] = 39;
    for (let c = s[off]!; c !== 0; c = s[++off]!) {
      if (at === out.length) {
        this.at = at;
        this.grow(1);
        out = this.out;
      }
      out[at++] = c;
    }
    this.at = at;
    this.byte(39);
  }
}

const EMPTY = new Uint8Array(0);

/** The strings a blob's names index: its own table, after its bases' (split BTF). */
function stringsOf(btf: Btf): Uint8Array {
  if (!btf.base) return btf.stringBytes;
  const all = new Uint8Array(btf.stringsEnd);
  for (let b: Btf | undefined = btf; b; b = b.base) all.set(b.stringBytes, b.stringsStart);
  return all;
}

function enum64Value(o: Sink, lo: number, hi: number, signed: boolean): void {
  const u = (BigInt(hi) << 32n) | BigInt(lo);
  o.bytes(W_VAL);
  o.bytes(word(signed ? `${BigInt.asIntN(64, u)}LL` : `${u}ULL`));
}

/** Members, values and parameters: the tab-indented lines after a type's own. */
function items(o: Sink, w: Uint32Array, at: number, k: number, vlen: number, flag: boolean): void {
  if (k === K_STRUCT || k === K_UNION) {
    for (let m = at + 3, end = m + 3 * vlen; m < end; m += 3) {
      const bits = w[m + 2]!;
      o.bytes(W_ITEM);
      o.quoted(w[m]!);
      o.num(W_TYPE_ID, w[m + 1]!);
      o.num(W_BITS_OFFSET, flag ? bits & 0xffffff : bits);
      if (flag && bits >>> 24 !== 0) o.num(W_BITFIELD_SIZE, bits >>> 24);
    }
  } else if (k === K_FUNC_PROTO) {
    for (let m = at + 3, end = m + 2 * vlen; m < end; m += 2) {
      o.bytes(W_ITEM);
      o.quoted(w[m]!);
      o.num(W_TYPE_ID, w[m + 1]!);
    }
  } else if (k === K_ENUM) {
    for (let m = at + 3, end = m + 2 * vlen; m < end; m += 2) {
      o.bytes(W_ITEM);
      o.quoted(w[m]!);
      if (flag) o.signed(W_VAL, w[m + 1]!);
      else o.num(W_VAL, w[m + 1]!);
    }
  } else {
    for (let m = at + 3, end = m + 3 * vlen; m < end; m += 3) {
      o.bytes(W_ITEM);
      o.quoted(w[m]!);
      enum64Value(o, w[m + 1]!, w[m + 2]!, flag);
    }
  }
}

function datasec(o: Sink, btf: Btf, w: Uint32Array, at: number, id: number, vlen: number): void {
  for (let m = at + 3, end = m + 3 * vlen; m < end; m += 3) {
    const t = btf.checkId(w[m]!, id);
    o.num(W_DATASEC_VAR, t);
    o.num(W_OFFSET, w[m + 1]!);
    o.num(W_SIZE, w[m + 2]!);
    o.byte(32);
    o.byte(40);
    o.bytes(KIND_WORDS[btf.kindOf(t)]!.subarray(2));
    o.quoted(btf.nameOffsetOf(t));
    o.byte(41);
  }
}

/** One type's entry (without the final newline). */
function entry(o: Sink, btf: Btf, w: Uint32Array, at: number, id: number): void {
  const info = w[at + 1]!;
  const k = (info >>> 24) & 0x1f;
  const vlen = info & 0xffff;
  const flag = info >>> 31 === 1;
  const st = w[at + 2]!;
  o.byte(91);
  o.num(EMPTY, id);
  o.bytes(KIND_WORDS[k]!);
  o.quoted(w[at]!);
  switch (k) {
    case K_INT: {
      const e = w[at + 3]!;
      o.num(W_SIZE, st);
      o.num(W_BITS_OFFSET, (e >>> 16) & 0xff);
      o.num(W_NR_BITS, e & 0xff);
      o.bytes(W_ENCODING);
      o.bytes(INT_ENCODING_WORDS[e >>> 24] ?? W_UNKN);
      break;
    }
    case K_ARRAY:
      o.num(W_TYPE_ID, w[at + 3]!);
      o.num(W_INDEX_TYPE_ID, w[at + 4]!);
      o.num(W_NR_ELEMS, w[at + 5]!);
      break;
    case K_STRUCT:
    case K_UNION:
      o.num(W_SIZE, st);
      o.num(W_VLEN, vlen);
      items(o, w, at, k, vlen, flag);
      break;
    case K_ENUM:
    case K_ENUM64:
      o.bytes(flag ? W_ENCODING_SIGNED : W_ENCODING_UNSIGNED);
      o.num(W_SIZE, st);
      o.num(W_VLEN, vlen);
      items(o, w, at, k, vlen, flag);
      break;
    case K_FWD:
      o.bytes(flag ? W_FWD_UNION : W_FWD_STRUCT);
      break;
    case K_FUNC:
      o.num(W_TYPE_ID, st);
      o.bytes(W_LINKAGE);
      o.bytes(LINKAGE_WORDS[vlen] ?? W_UNKN);
      break;
    case K_FUNC_PROTO:
      o.num(W_RET_TYPE_ID, st);
      o.num(W_VLEN, vlen);
      items(o, w, at, k, vlen, flag);
      break;
    case K_VAR:
      o.num(W_TYPE_ID, st);
      o.bytes(W_COMMA_LINKAGE);
      o.bytes(LINKAGE_WORDS[w[at + 3]!] ?? W_UNKN);
      break;
    case K_DATASEC:
      o.num(W_SIZE, st);
      o.num(W_VLEN, vlen);
      datasec(o, btf, w, at, id, vlen);
      break;
    case K_FLOAT:
      o.num(W_SIZE, st);
      break;
    case K_DECL_TAG:
      o.num(W_TYPE_ID, st);
      o.signed(W_COMPONENT_IDX, w[at + 3]!);
      break;
    default: // ptr, typedef, modifiers, type tag
      o.num(W_TYPE_ID, st);
  }
}

/** One type as `bpftool btf dump ... format raw` prints it (members on following tab-indented lines). */
export function rawType(btf: Btf, id: number): string {
  btf.kindOf(id); // a BtfError when out of range
  if (id === 0) return "[0] UNKNOWN '(anon)'";
  if (id < btf.startId) return rawType(btf.base!, id);
  const o = new Sink(256, stringsOf(btf));
  const v = btf.typeWords;
  entry(o, btf, v.words, v.starts[id - btf.startId]!, id);
  return utf8Out.decode(o.out.subarray(0, o.at));
}

/** Blobs with fewer types than this are listed without warming up first. */
const WARMUP_AFTER = 8192;
let warmedUp = false;

/**
 * Lists the warm-up blob (every kind, signed and 64-bit enums, values past 2^31) twice, so that V8
 * has seen every branch when it optimises the lister: none is thrown away and compiled again.
 */
function warmUp(): void {
  warmedUp = true;
  const btf = warmupBtf();
  for (let i = 0; i < 2; i++) formatRawBytes(btf);
}

/**
 * The whole blob as `bpftool btf dump file X format raw` prints it, as UTF-8 bytes: one
 * `[id] KIND 'name' ...` entry per type (this blob's own types, for split BTF), each ending with a
 * newline. {@link formatRaw} is the same as a string.
 */
export function formatRawBytes(btf: Btf): Uint8Array {
  if (!warmedUp && btf.endId - btf.startId > WARMUP_AFTER) warmUp();
  const o = new Sink(Math.max(1 << 16, 3 * btf.bytes.length), stringsOf(btf));
  const { words, starts } = btf.typeWords;
  for (let i = 0, id = btf.startId; i < starts.length; i++, id++) {
    entry(o, btf, words, starts[i]!, id);
    o.byte(10);
  }
  return o.out.subarray(0, o.at);
}

/**
 * The whole blob as `bpftool btf dump file X format raw` prints it: one `[id] KIND 'name' ...`
 * entry per type (this blob's own types, for split BTF), each ending with a newline.
 */
export function formatRaw(btf: Btf): string {
  return utf8Out.decode(formatRawBytes(btf));
}
