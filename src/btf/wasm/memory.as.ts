/**
 * The memory of rawbpf's WebAssembly for BTF (see btf.as.ts): how it is laid out, the input (type
 * words and strings), the index of where each type starts with what the printers keep of each
 * type, and the errors.
 *
 * One fresh instance per job, so memory starts zeroed. The glue (src/btf/wasm.ts) calls
 * {@link begin}, puts the blob (or its type words and strings) where it says, has {@link index}
 * find where each type starts, and says where the strings are ({@link setStrings}); a printer
 * then takes what it needs after that ({@link take}) and writes its output last (output.as.ts).
 * On bad input a printer records an error ({@link fail}) and traps; the glue turns that into a
 * BtfError.
 */

// ---- kinds (include/uapi/linux/btf.h) ----
export const K_INT: u32 = 1;
export const K_PTR: u32 = 2;
export const K_ARRAY: u32 = 3;
export const K_STRUCT: u32 = 4;
export const K_UNION: u32 = 5;
export const K_ENUM: u32 = 6;
export const K_FWD: u32 = 7;
export const K_TYPEDEF: u32 = 8;
export const K_VOLATILE: u32 = 9;
export const K_CONST: u32 = 10;
export const K_RESTRICT: u32 = 11;
export const K_FUNC: u32 = 12;
export const K_FUNC_PROTO: u32 = 13;
export const K_VAR: u32 = 14;
export const K_DATASEC: u32 = 15;
export const K_FLOAT: u32 = 16;
export const K_DECL_TAG: u32 = 17;
export const K_TYPE_TAG: u32 = 18;
export const K_ENUM64: u32 = 19;

// ---- errors: the code, its values and the type it is about (src/btf/wasm.ts has the messages) ----
export const ERR_STRING = 1; // a: offset, b: size of the strings
export const ERR_REFERENCE = 2; // a: the id referred to, b: the last id
export const ERR_TOO_DEEP = 3;
export const ERR_BY_VALUE = 4;
export const ERR_CHAIN_LOOP = 5;
export const ERR_SIZE = 6; // a * b: the size
export const ERR_ARRAY_SIZE = 7;
export const ERR_DECL_KIND = 8; // a: the kind
export const ERR_DECL_LOOP = 9;
export const ERR_TOO_BIG = 10; // a: the most the output may take
export const ERR_MEMORY = 11; // a: bytes asked for

let errCode: i32 = 0;
let errA: f64 = 0;
let errB: f64 = 0;
let errType: i32 = -1;

/** The error recorded before the last trap (0: none). */
export function errorCode(): i32 {
  return errCode;
}
export function errorA(): f64 {
  return errA;
}
export function errorB(): f64 {
  return errB;
}
/** The type id the error is about, or -1. */
export function errorType(): i32 {
  return errType;
}

/** Forgets the error recorded last (before a job on an instance that ran one). */
export function clearError(): void {
  errCode = 0;
  errA = 0;
  errB = 0;
  errType = -1;
}

export function fail(code: i32, a: f64, b: f64, typeId: i32): void {
  errCode = code;
  errA = a;
  errB = b;
  errType = typeId;
  unreachable();
}

// ---- memory ----
/** the type words (u32), the strings */
let W: usize = 0;
export let S: usize = 0;
export let SLEN: u32 = 0;
/** one past the last id */
export let N: u32 = 0;

/**
 * What is kept of each type, REC bytes a type id (in one record rather than an array
 * each: a type's are read together, and a record is one cache line): where its words start
 * (u32), its kind, ordering state, emitting state, whether it was forward-declared, whether it is
 * referenced, its alignment + 1 | PACKED (u8 each), its `___N` suffix (0: name not resolved yet,
 * 1: no suffix, N > 1: `name___N`), the slot of its name in the name table (-1: offset past the
 * strings), and for an enum the index in VALUESLOT of its first value.
 */
let T: usize = 0;
const REC: usize = 24;
export const R_KIND = 4;
export const R_ORDER = 5;
export const R_EMIT = 6;
export const R_FWD = 7;
export const R_REF = 8;
export const R_ALIGN = 9;
export const R_SUFFIX = 12;
export const R_SLOT = 16;
export const R_VALUES = 20;
let top: usize = 0;

/** Takes `bytes` of memory after what is taken (zeroed: the instance is fresh). */
export function take(bytes: u64): usize {
  const p = top;
  // past the 4 GiB a 32-bit memory has, the sum would wrap
  if (<u64>p + bytes + 15 > 0xffffffff) fail(ERR_MEMORY, <f64>p + <f64>bytes, 0, -1);
  top = (p + <usize>bytes + 15) & ~(<usize>15);
  reach(top);
  return p;
}

/** Grows memory so that it reaches `end`. */
export function reach(end: usize): void {
  const have = (<usize>memory.size()) << 16;
  if (end <= have) return;
  if (memory.grow(<i32>((end - have + 0xffff) >> 16)) < 0) fail(ERR_MEMORY, <f64>end, 0, -1);
}

/** the record sizes by kind, copied in from decode.ts by the glue: words after btf_type (-1: no
 * such kind) at TABLES + kind, words per vlen item at TABLES + 32 + kind */
let TABLES: usize = 0;
/** the word where {@link index} stopped */
let STOP: u32 = 0;

/**
 * Takes `bytes` of memory for the input (the blob, or its type words and strings), followed by 8
 * zero bytes (room to read 8 bytes at a time: see text), and returns where it starts.
 */
export function begin(bytes: u32): usize {
  top = (__heap_base + 15) & ~(<usize>15);
  TABLES = take(64);
  return take(<u64>bytes + 8);
}
export function tablesAt(): usize {
  return TABLES;
}

/**
 * Finds where each of the `words` type words at `at` starts, as decode.ts's index does (same
 * tables, same stop); returns how many whole types there are. The walk stopped short of or past
 * the end when {@link indexStop} is not `words`: the glue then throws decode.ts's error.
 */
export function index(at: usize, words: u32): u32 {
  W = at;
  // id 0 (void), and every type takes at least 3 words
  T = take((<u64>words / 3 + 1) * REC);
  let w: u32 = 0;
  let n: u32 = 1;
  while (w + 3 <= words) {
    const info = load<u32>(W + ((<usize>w) << 2), 4);
    const k = (info >>> 24) & 0x1f;
    const fixed = load<i8>(TABLES + k);
    if (fixed < 0) break;
    store<u32>(rec(n), w);
    n++;
    w += 3 + <u32>fixed + <u32>load<i8>(TABLES + 32 + k) * (info & 0xffff);
  }
  STOP = w;
  N = n;
  return n - 1;
}
/** One past the last type id (after {@link index}). */
export function endId(): u32 {
  return N;
}
export function indexStop(): u32 {
  return STOP;
}
/** The word where type `id` starts (after {@link index}). */
export function startOf(id: u32): u32 {
  return load<u32>(rec(id));
}

/** Sets where the strings are: `strings` bytes at `at`, the last a NUL (decode.ts checks). */
export function setStrings(at: usize, strings: u32): void {
  S = at;
  SLEN = strings;
}

/** Where the memory taken so far ends. */
export function taken(): usize {
  return top;
}

// ---- reading ----
export function w(i: u32): u32 {
  return load<u32>(W + ((<usize>i) << 2));
}
/** Type `id`'s record (see T). */
export function rec(id: u32): usize {
  return T + <usize>id * REC;
}
export function o(id: u32): u32 {
  return load<u32>(rec(id));
}
export function kind(id: u32): u32 {
  return load<u8>(rec(id), R_KIND);
}
export function str(off: u32): u8 {
  return load<u8>(S + off);
}

export function checkString(off: u32): void {
  if (off >= SLEN) fail(ERR_STRING, <f64>off, <f64>SLEN, -1);
}
