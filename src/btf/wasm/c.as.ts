/**
 * The C printer, in AssemblyScript (see btf.as.ts): what libbpf's btf_dump (bpftool) does. Types
 * come out in an order C accepts (a struct embedded by value is defined before its container, one
 * reached only through a pointer gets a forward declaration, typedefs follow what they name),
 * duplicate names get a `___N` suffix, gaps in structs become padding bitfields, packed structs
 * get `__attribute__((packed))`. src/btf/c.ts is its glue: the API, the options, the frame.
 */
import {
  checkString,
  ERR_ARRAY_SIZE,
  ERR_BY_VALUE,
  ERR_CHAIN_LOOP,
  ERR_DECL_KIND,
  ERR_DECL_LOOP,
  ERR_REFERENCE,
  ERR_SIZE,
  ERR_TOO_DEEP,
  fail,
  K_ARRAY,
  K_CONST,
  K_DATASEC,
  K_DECL_TAG,
  K_ENUM,
  K_ENUM64,
  K_FLOAT,
  K_FUNC,
  K_FUNC_PROTO,
  K_FWD,
  K_INT,
  K_PTR,
  K_RESTRICT,
  K_STRUCT,
  K_TYPE_TAG,
  K_TYPEDEF,
  K_UNION,
  K_VAR,
  K_VOLATILE,
  kind,
  N,
  o,
  R_ALIGN,
  R_EMIT,
  R_FWD,
  R_KIND,
  R_ORDER,
  R_REF,
  R_SLOT,
  R_SUFFIX,
  R_VALUES,
  rec,
  S,
  SLEN,
  str,
  take,
  w,
} from "./memory.as";
import { endOutput, line, num, startOutput, text, word } from "./output.as";

/** modifiers C has: volatile, const, restrict */
const KS_MODS: u32 = (1 << K_VOLATILE) | (1 << K_CONST) | (1 << K_RESTRICT);
/** what is dropped before an array or a prototype: modifiers and type tags */
const KS_DROP: u32 = KS_MODS | (1 << K_TYPE_TAG);
/** declarator links to the type in word 2: those, pointers, prototypes (arrays: word 3) */
const KS_LINK: u32 = KS_DROP | (1 << K_PTR) | (1 << K_FUNC_PROTO);
/** where a declarator's chain ends */
const KS_BASE: u32 =
  (1 << K_INT) |
  (1 << K_STRUCT) |
  (1 << K_UNION) |
  (1 << K_ENUM) |
  (1 << K_FWD) |
  (1 << K_TYPEDEF) |
  (1 << K_FLOAT) |
  (1 << K_ENUM64);
/** skipped to find a type's alignment: typedefs, modifiers, type tags */
const KS_SKIP: u32 = KS_DROP | (1 << K_TYPEDEF);
/** chain entries printed after what follows them: pointers and modifiers */
const KS_AFTER: u32 = KS_MODS | (1 << K_PTR);
/** kinds whose names may be counted for `___N`: records, enums, typedefs */
const KS_NAMED: u32 = (1 << K_STRUCT) | (1 << K_UNION) | (1 << K_ENUM) | (1 << K_TYPEDEF) | (1 << K_ENUM64);

/** states of a type while ordering */
const ORDERING: u8 = 1;
const ORDERED: u8 = 2;
/** states of a type while emitting */
const EMITTING: u8 = 1;
const EMITTED: u8 = 2;
const MAX_NESTING: i32 = 1000;
const POINTER_SIZE: u32 = 8;
/** flag in `aligns`: the record needs `__attribute__((packed))` */
const PACKED: u8 = 16;
/** what {@link name} does: count only, queue a type's name, or an enum value's */
const QUIET: i32 = 0;
const TYPE: i32 = 1;
const VALUE: i32 = 2;

/** the types one {@link dumpType} emits, in order */
let QUEUE: usize = 0;
let queued: u32 = 0;
/** slot of each enum value's name, enum after enum */
let VALUESLOT: usize = 0;
/** the name table: open addressing, 2 words a slot (string offset + 1, hash) */
let NAMES: usize = 0;
let NAMES_MASK: u32 = 0;
/** uses of each slot's name: among types (2 * slot) and identifiers (2 * slot + 1) */
let USES: usize = 0;
/** the declarator stack (type ids) and its top */
let STACK: usize = 0;
let sp: u32 = 0;
let depth: i32 = 0;
let vaList: i32 = -2;
let gnucVaList: i32 = -2;

/** A name and its `___N` suffix. */
function named(off: u32, suffix: i32): void {
  text(off);
  if (suffix > 1) {
    word("___");
    num(<u32>suffix);
  }
}

function endDecl(): void {
  word(";\n\n");
}

// ---- names ----

/**
 * How types and enum values are named:
 * - VALUE: `x` is an enum value's index in VALUESLOT, `value` its name's string offset: counts
 *   one more use of it among identifiers and writes it with its `___N` suffix;
 * - TYPE: `x` is a type id: writes how the type is referred to (`struct name`, `enum name`, a
 *   forward declaration's `union name`, a typedef's name);
 * - QUIET: the same without writing anything.
 * A type's name is counted among types (records, enums, forward declarations) or identifiers
 * (typedefs) the first time it is resolved; returns its suffix (1: none, N > 1: `name___N`).
 */
function name(x: u32, mode: i32, value: u32): i32 {
  let off = value;
  let ns: i32 = 2;
  let k: u32 = 0;
  let sfx: i32 = 0;
  if (mode !== VALUE) {
    const p = o(x);
    off = w(p);
    k = kind(x);
    if (k !== K_TYPEDEF) ns = 1;
    sfx = load<i32>(rec(x), R_SUFFIX);
    if (sfx === 0 && (off === 0 || k === K_FWD || (k === K_ENUM && (w(p + 1) & 0xffff) === 0))) {
      sfx = 1;
      store<i32>(rec(x), 1, R_SUFFIX);
    }
  }
  if (sfx === 0) {
    // one more use of the name (the slot is -1 when the offset is past the strings: an error)
    const slot = mode === VALUE ? load<i32>(VALUESLOT + ((<usize>x) << 2)) : load<i32>(rec(x), R_SLOT);
    if (slot < 0) checkString(off);
    const u = USES + ((<usize>((slot << 1) + ns - 1)) << 2);
    sfx = load<i32>(u) + 1;
    store<i32>(u, sfx);
    if (mode !== VALUE) store<i32>(rec(x), sfx, R_SUFFIX);
  }
  if (mode === QUIET) return sfx;
  if (mode === TYPE) {
    if (k === K_TYPEDEF) {
      if (off === 0) return sfx;
    } else if (k === K_FWD) {
      word(w(o(x) + 1) >>> 31 ? "union " : "struct ");
      if (off === 0) return sfx;
    } else {
      word(k === K_STRUCT ? "struct" : k === K_UNION ? "union" : "enum");
      if (off === 0) return sfx;
      // ` name`, or nothing when the name is empty
      if (off >= SLEN) checkString(off);
      if (str(off) === 0 && sfx < 2) return sfx;
      word(" ");
    }
  }
  named(off, sfx);
  return sfx;
}

/** The slot of the string at `off` in the name table (added if new); -1 past the strings. */
function slotOf(off: u32): i32 {
  if (off >= SLEN) return -1;
  let h: u32 = 0x811c9dc5;
  let p = S + off;
  for (let c = load<u8>(p); c !== 0; c = load<u8>(++p)) h = (h ^ c) * 0x01000193;
  // the table has at least 1.5 times as many slots as there are names: never full
  let slot = h & NAMES_MASK;
  let e = NAMES + ((<usize>slot) << 3);
  for (let key = load<u32>(e); key !== 0; key = load<u32>(e)) {
    if (key - 1 === off || (load<u32>(e, 4) === h && sameString(key - 1, off))) return <i32>slot;
    slot = (slot + 1) & NAMES_MASK;
    e = NAMES + ((<usize>slot) << 3);
  }
  store<u32>(e, off + 1);
  store<u32>(e, h, 4);
  return <i32>slot;
}

function sameString(a: u32, b: u32): bool {
  let p = S + a;
  let q = S + b;
  let c: u8 = 0;
  do {
    c = load<u8>(p++);
    if (c !== load<u8>(q++)) return false;
  } while (c !== 0);
  return true;
}

/** The slot of ASCII name `t` in the name table, or -2. */
function find(t: string): i32 {
  const n = <u32>t.length;
  const tp = changetype<usize>(t);
  let h: u32 = 0x811c9dc5;
  for (let i: u32 = 0; i < n; i++) h = (h ^ load<u16>(tp + ((<usize>i) << 1))) * 0x01000193;
  for (
    let slot = h & NAMES_MASK;
    load<u32>(NAMES + ((<usize>slot) << 3)) !== 0;
    slot = (slot + 1) & NAMES_MASK
  ) {
    const e = NAMES + ((<usize>slot) << 3);
    if (load<u32>(e, 4) !== h) continue;
    const off = load<u32>(e) - 1;
    let i: u32 = 0;
    while (i < n && <u32>str(off + i) === <u32>load<u16>(tp + ((<usize>i) << 1))) i++;
    if (i === n && str(off + i) === 0) return <i32>slot;
  }
  return -2;
}

/**
 * Puts every name that may be counted (records', enums', typedefs' and enum values') in the name
 * table, each distinct name once, and records its slot; printing then counts through the slots.
 * Names past the strings get -1 (the error comes when such a name is printed).
 */
function slotNames(): void {
  let v: u32 = 0;
  for (let id: u32 = 1; id < N; id++) {
    const k = kind(id);
    if (((KS_NAMED >>> k) & 1) === 0) continue;
    const p = o(id);
    store<i32>(rec(id), slotOf(w(p)), R_SLOT);
    if (k === K_ENUM || k === K_ENUM64) {
      const vlen = w(p + 1) & 0xffff;
      const stride: u32 = k === K_ENUM ? 2 : 3;
      store<u32>(rec(id), v, R_VALUES);
      for (let i: u32 = 0, m = p + 3; i < vlen; i++, m += stride) {
        store<i32>(VALUESLOT + ((<usize>v) << 2), slotOf(w(m)));
        v++;
      }
    }
  }
}

// ---- the pass that checks references ----

function bad(id: u32, from: u32): void {
  fail(ERR_REFERENCE, <f64>id, <f64>(N - 1), <i32>from);
}

/**
 * Records each type's kind and marks what is referenced, checking every reference; returns how
 * many names may be counted.
 */
function scan(): u32 {
  let names: u32 = 0;
  for (let id: u32 = 1; id < N; id++) {
    const p = o(id);
    const info = w(p + 1);
    const k = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    store<u8>(rec(id), k, R_KIND);
    let first: u32 = 0;
    let stride: u32 = 1;
    let count: u32 = 0;
    switch (k) {
      case K_PTR:
      case K_TYPEDEF:
      case K_VOLATILE:
      case K_CONST:
      case K_RESTRICT:
      case K_FUNC:
      case K_VAR:
      case K_DECL_TAG:
      case K_TYPE_TAG:
        first = 2;
        count = 1;
        break;
      case K_ARRAY: // element and index types
        first = 3;
        count = 2;
        break;
      case K_STRUCT:
      case K_UNION:
        names += 1;
        first = 4;
        stride = 3;
        count = vlen;
        break;
      case K_FUNC_PROTO:
        first = 4;
        stride = 2;
        count = vlen;
        break;
      case K_DATASEC:
        first = 3;
        stride = 3;
        count = vlen;
        break;
      case K_ENUM:
      case K_ENUM64:
        names += 1 + vlen;
        break;
    }
    if (k === K_TYPEDEF) names += 1;
    for (let i: u32 = 0, m = p + first; i < count; i++, m += stride) {
      const t = w(m);
      if (t >= N) bad(t, id);
      store<u8>(rec(t), 1, R_REF);
    }
    // a prototype's return type is checked, not marked: libbpf marks the parameters only
    if (k === K_FUNC_PROTO && w(p + 2) >= N) bad(w(p + 2), id);
  }
  return names;
}

// ---- ordering ----

function tooDeep(id: u32): void {
  fail(ERR_TOO_DEEP, 0, 0, <i32>id);
}

/** Dumps one type (and whatever it needs first). */
function dumpType(id: u32): void {
  queued = 0;
  orderType(id, false);
  for (let i: u32 = 0; i < queued; i++) emitType(load<u32>(QUEUE + ((<usize>i) << 2)), 0);
}

function ordered(id: u32): bool {
  return load<u8>(rec(id), R_ORDER) === ORDERED;
}

/** Returns 1 when the type is "strong" (needs a full definition), 0 when a forward declaration does. */
function orderType(id: u32, throughPtr: bool): i32 {
  const state = load<u8>(rec(id), R_ORDER);
  if (state === ORDERED) return 1;
  const p = o(id);
  const k = kind(id);
  const isNamed = id !== 0 && w(p) !== 0;
  if (state === ORDERING) {
    if ((k === K_STRUCT || k === K_UNION) && throughPtr && isNamed) return 0;
    fail(ERR_BY_VALUE, 0, 0, <i32>id);
  }
  if (++depth > MAX_NESTING) tooDeep(id);
  // r: strong (1) or not (0); done: the type is ordered for good; emit: it goes in the queue
  let r: i32 = 0;
  let done = false;
  let emit = false;
  switch (k) {
    case 0: // void
      break;
    case K_PTR: {
      const t = w(p + 2);
      r = ordered(t) ? 1 : orderType(t, true);
      done = true;
      break;
    }
    case K_ARRAY:
    case K_VOLATILE:
    case K_CONST:
    case K_RESTRICT:
    case K_TYPE_TAG: {
      const t = w(p + (k === K_ARRAY ? 3 : 2));
      r = ordered(t) ? 1 : orderType(t, k === K_ARRAY ? false : throughPtr);
      break;
    }
    case K_STRUCT:
    case K_UNION: {
      if (throughPtr && isNamed) break;
      store<u8>(rec(id), ORDERING, R_ORDER);
      const vlen = w(p + 1) & 0xffff;
      for (let i: u32 = 0, m = p + 4; i < vlen; i++, m += 3) {
        if (!ordered(w(m))) orderType(w(m), false);
      }
      emit = isNamed;
      done = true;
      r = 1;
      break;
    }
    case K_ENUM:
    case K_ENUM64:
    case K_FWD:
      emit = isNamed || load<u8>(rec(id), R_REF) === 0;
      done = true;
      r = 1;
      break;
    case K_TYPEDEF: {
      const t = w(p + 2);
      const strong = ordered(t) ? 1 : orderType(t, throughPtr);
      if (throughPtr && !strong) break;
      emit = true;
      done = true;
      r = 1;
      break;
    }
    case K_FUNC_PROTO: {
      r = ordered(w(p + 2)) || orderType(w(p + 2), throughPtr) > 0 ? 1 : 0;
      const vlen = w(p + 1) & 0xffff;
      for (let i: u32 = 0, m = p + 4; i < vlen; i++, m += 2) {
        if (ordered(w(m)) || orderType(w(m), throughPtr) > 0) r = 1;
      }
      break;
    }
    default:
      // int, float, and what C has no declaration for
      done = true;
  }
  if (emit) {
    store<u32>(QUEUE + ((<usize>queued) << 2), id);
    queued++;
  }
  if (done) store<u8>(rec(id), ORDERED, R_ORDER);
  depth--;
  return r;
}

// ---- emitting ----

function emitType(id: u32, container: u32): void {
  const state = load<u8>(rec(id), R_EMIT);
  if (state === EMITTED) return;
  const p = o(id);
  const k = kind(id);
  if (state === EMITTING) {
    if (load<u8>(rec(id), R_FWD)) return;
    if (k === K_STRUCT || k === K_UNION) {
      if (id === container) return;
      if (w(p) === 0) return; // anonymous loop: nothing sensible to print
      name(id, TYPE, 0);
      endDecl();
      store<u8>(rec(id), 1, R_FWD);
    } else if (k === K_TYPEDEF) {
      if (!blocked(id)) {
        typedefDef(id, 0);
        endDecl();
      }
      store<u8>(rec(id), 1, R_FWD);
    }
    return;
  }
  if (++depth > MAX_NESTING) tooDeep(id);
  switch (k) {
    case K_INT:
      store<u8>(rec(id), EMITTED, R_EMIT);
      break;
    case K_ENUM:
    case K_ENUM64:
      if (container === 0) {
        enumDef(id, 0);
        endDecl();
      }
      store<u8>(rec(id), EMITTED, R_EMIT);
      break;
    case K_PTR:
    case K_VOLATILE:
    case K_CONST:
    case K_RESTRICT:
    case K_TYPE_TAG:
      emitType(w(p + 2), container);
      break;
    case K_ARRAY:
      emitType(w(p + 3), container);
      break;
    case K_FWD:
      name(id, TYPE, 0);
      endDecl();
      store<u8>(rec(id), EMITTED, R_EMIT);
      break;
    case K_TYPEDEF:
      store<u8>(rec(id), EMITTING, R_EMIT);
      emitType(w(p + 2), id);
      if (!load<u8>(rec(id), R_FWD) && !blocked(id)) {
        typedefDef(id, 0);
        endDecl();
      }
      store<u8>(rec(id), EMITTED, R_EMIT);
      break;
    case K_STRUCT:
    case K_UNION: {
      store<u8>(rec(id), EMITTING, R_EMIT);
      const isNamed = w(p) !== 0;
      if (container === 0 || !isNamed) {
        const vlen = w(p + 1) & 0xffff;
        const inner = isNamed ? id : container;
        for (let i: u32 = 0, m = p + 4; i < vlen; i++, m += 3) emitType(w(m), inner);
      } else if (!load<u8>(rec(id), R_FWD) && id !== container) {
        name(id, TYPE, 0);
        endDecl();
        store<u8>(rec(id), 1, R_FWD);
      }
      if (container === 0) {
        structDef(id, 0);
        endDecl();
        store<u8>(rec(id), EMITTED, R_EMIT);
      } else {
        store<u8>(rec(id), 0, R_EMIT);
      }
      break;
    }
    case K_FUNC_PROTO: {
      emitType(w(p + 2), container);
      const vlen = w(p + 1) & 0xffff;
      for (let i: u32 = 0, m = p + 4; i < vlen; i++, m += 2) emitType(w(m), container);
      break;
    }
  }
  depth--;
}

/** Whether a typedef is `__builtin_va_list` (which bpftool leaves out). */
function blocked(id: u32): bool {
  const off = w(o(id));
  if (off === 0) return false;
  const slot = load<i32>(rec(id), R_SLOT);
  if (slot < 0) checkString(off);
  return slot === vaList;
}

function enumDef(id: u32, level: i32): void {
  const p = o(id);
  const info = w(p + 1);
  const vlen = info & 0xffff;
  name(id, TYPE, 0);
  if (vlen === 0) return;
  word(" {");
  const signed = info >>> 31 === 1;
  const is64 = kind(id) === K_ENUM64;
  const stride: u32 = is64 ? 3 : 2;
  let high = false;
  const base = load<u32>(rec(id), R_VALUES);
  for (let i: u32 = 0, m = p + 3; i < vlen; i++, m += stride) {
    line(level + 1);
    name(base + i, VALUE, w(m));
    word(" = ");
    // one path for both widths: a 32-bit value is its 64-bit sign or zero extension
    const lo = w(m + 1);
    const hi: u32 = is64 ? w(m + 2) : signed && lo >= 0x80000000 ? 0xffffffff : 0;
    if (hi === 0) {
      num(lo);
    } else {
      const v = ((<u64>hi) << 32) | <u64>lo;
      if (signed && <i64>v < 0) {
        word("-");
        num(0 - v);
      } else {
        num(v);
      }
    }
    if (is64) {
      if (hi !== 0) high = true;
      word(signed ? "LL," : "ULL,");
    } else {
      word(",");
    }
  }
  line(level);
  word("}");
  const size = w(p + 2);
  if (size === 1) word(" __attribute__((mode(byte)))");
  else if (size === 8 && (!is64 || !high)) word(" __attribute__((mode(word)))");
}

function typedefDef(id: u32, level: i32): void {
  const p = o(id);
  const sfx = name(id, QUIET, 0);
  const off = w(p);
  const target = w(p + 2);
  if (target === 0 && sfx < 2 && off !== 0 && load<i32>(rec(id), R_SLOT) === gnucVaList) {
    word("typedef __builtin_va_list __gnuc_va_list");
    return;
  }
  word("typedef ");
  decl(target, 0, off, sfx, level);
}

// ---- sizes and alignment ----

/**
 * Alignment as libbpf's btf__align_of computes it (0 when the type has none), computed once:
 * ALIGNS holds it plus 1, and PACKED when the type is a record whose layout C cannot give
 * without `__attribute__((packed))` (a member off its alignment, or a size that is not a multiple
 * of it).
 */
function alignOf(id: u32): u32 {
  const cached = load<u8>(rec(id), R_ALIGN);
  if (cached !== 0) return (cached & 15) - 1;
  if (++depth > MAX_NESTING) tooDeep(id);
  // skip typedefs and modifiers
  let r = id;
  for (let steps: u32 = 0; ; steps++) {
    const k = kind(r);
    if (((KS_SKIP >>> k) & 1) === 0) break;
    if (steps >= N) fail(ERR_CHAIN_LOOP, 0, 0, <i32>r);
    r = w(o(r) + 2);
  }
  const p = o(r);
  let a: u32 = 0;
  let packed: u8 = 0;
  switch (kind(r)) {
    case K_INT:
    case K_ENUM:
    case K_ENUM64:
    case K_FLOAT: {
      const size = w(p + 2);
      a = size < POINTER_SIZE ? size : POINTER_SIZE;
      if (a < 1) a = 1;
      break;
    }
    case K_PTR:
      a = POINTER_SIZE;
      break;
    case K_ARRAY:
      a = alignOf(w(p + 3));
      break;
    case K_STRUCT:
    case K_UNION: {
      // libbpf: the first member without alignment makes it 0, the first one off its alignment
      // (bitfields aside) makes it 1; else the largest, or 1 when the size is not a multiple of
      // that. Packed (bpftool): a member off its alignment, or such a size.
      const info = w(p + 1);
      const vlen = info & 0xffff;
      const flag = info >>> 31 === 1;
      let first: i32 = 1;
      let max: u32 = 1;
      for (let i: u32 = 0, m = p + 4; i < vlen; i++, m += 3) {
        const ma = alignOf(w(m));
        if (ma === 0) {
          if (first === 1) first = 0;
          continue;
        }
        const off = w(m + 1);
        if ((flag ? off >>> 24 : 0) === 0 && <u64>(flag ? off & 0xffffff : off) % (<u64>8 * ma) !== 0) {
          if (first === 1) first = -1;
          packed = PACKED;
        }
        if (ma > max) max = ma;
      }
      const odd = w(p + 2) % max !== 0;
      if (odd) packed = PACKED;
      a = first === 0 ? 0 : first === -1 || odd ? 1 : max;
      break;
    }
  }
  depth--;
  store<u8>(rec(id), <u8>(a + 1) + (r === id ? packed : 0), R_ALIGN);
  return a;
}

/** Size in bytes, through typedefs, modifiers and arrays; 0 for types without one. */
function sizeOf(id: u32): u64 {
  const start = id;
  let factor: u64 = 1;
  for (let steps: u32 = 1; steps <= N; steps++) {
    const p = o(id);
    switch (kind(id)) {
      case K_INT:
      case K_STRUCT:
      case K_UNION:
      case K_ENUM:
      case K_ENUM64:
      case K_DATASEC:
      case K_FLOAT: {
        const size = factor * <u64>w(p + 2);
        if (size > 0xffffffff) fail(ERR_SIZE, <f64>factor, <f64>w(p + 2), <i32>start);
        return size;
      }
      case K_PTR:
        return factor * POINTER_SIZE;
      case K_TYPEDEF:
      case K_CONST:
      case K_VOLATILE:
      case K_RESTRICT:
      case K_TYPE_TAG:
      case K_VAR:
        id = w(p + 2);
        break;
      case K_ARRAY:
        factor *= <u64>w(p + 5);
        if (factor > 0xffffffff) fail(ERR_ARRAY_SIZE, 0, 0, <i32>start);
        id = w(p + 3);
        break;
      default:
        return 0;
    }
  }
  fail(ERR_CHAIN_LOOP, 0, 0, <i32>start);
  return 0;
}

/** The padding unit's name (`long`, `int`, `short`, `char`: 64 >> unit bits). */
function unitName(unit: u32): void {
  word(unit === 0 ? "long" : unit === 1 ? "int" : unit === 2 ? "short" : "char");
}

/** Rounds `x` up to a multiple of `m`. */
function roundUp(x: u64, m: u64): u64 {
  return ((x + m - 1) / m) * m;
}

/**
 * Writes the padding bitfields from bit `cur` to bit `next` of a struct, as bpftool places them:
 * a unit is `long`, `int`, `short` or `char` (64 >> unit bits).
 */
function padding(cur: u64, next: u64, nextAlign: u32, inBitfield: bool, level: i32): void {
  if (cur >= next) return;
  let unit: u32 = 0;
  let rounded: u64 = 0;
  for (; unit < 4; unit++) {
    rounded = roundUp(cur, 64 >> unit);
    if (rounded <= next) break;
  }
  if (unit === 4) unit = 3;
  const padBits: u64 = 64 >> unit;
  // first, maybe, a line up to the unit's boundary; then whole units; then what is left
  let first = rounded > cur && rounded <= next;
  for (;;) {
    let u = unit;
    let bits: u64;
    let to: u64;
    if (first) {
      first = false;
      if (
        !inBitfield &&
        (rounded !== next || (nextAlign !== 0 && roundUp(cur, <u64>nextAlign * 8) === rounded)) &&
        (rounded === next || next - rounded > rounded - cur)
      ) {
        cur = rounded;
        continue;
      }
      bits = inBitfield ? rounded - cur : 0;
      to = rounded;
    } else {
      if (cur === next) return;
      bits = next - cur < padBits ? next - cur : padBits;
      // the narrowest unit that holds what is left
      if (bits !== padBits) for (u = 3; <u64>(64 >> u) < bits; u--);
      to = cur + bits;
    }
    line(level);
    unitName(u);
    word(": ");
    num(<u32>bits);
    word(";");
    cur = to;
  }
}

function structDef(id: u32, level: i32): void {
  const p = o(id);
  const isStruct = kind(id) === K_STRUCT;
  const info = w(p + 1);
  const vlen = info & 0xffff;
  const flag = info >>> 31 === 1;
  const align = alignOf(id);
  const packed = isStruct ? (load<u8>(rec(id), R_ALIGN) & PACKED) !== 0 : false;
  name(id, TYPE, 0);
  word(" {");
  let off: u64 = 0;
  let prevBitfield = false;
  for (let i: u32 = 0, m = p + 3; i < vlen; i++, m += 3) {
    const mname = w(m);
    const mtype = w(m + 1);
    const x = w(m + 2);
    const bits = flag ? x >>> 24 : 0;
    const moff: u64 = flag ? x & 0xffffff : x;
    const malign = packed ? 1 : alignOf(mtype);
    if (off < moff) padding(off, moff, malign, prevBitfield && bits !== 0, level + 1);
    line(level + 1);
    decl(mtype, 0, mname, 1, level + 1);
    if (bits) {
      word(": ");
      num(bits);
      off = moff + bits;
      prevBitfield = true;
    } else {
      off = moff + sizeOf(mtype) * 8;
      prevBitfield = false;
    }
    word(";");
  }
  const size = w(p + 2);
  if (isStruct) padding(off, <u64>size * 8, align, false, level + 1);
  if (vlen || size) line(level);
  word("}");
  if (packed) word(" __attribute__((packed))");
}

// ---- declarations ----

/**
 * Writes a declaration of the name at string offset `nameOff` (with its `___N` suffix): the C
 * declarator, inside out. With `id` >= 0, of type `id`: pushes the chain of types from it to a
 * named or basic type on the stack, then writes it. With `id` < 0, writes the rest of a chain
 * already on the stack above `start` (the part inside parentheses or before `[N]`).
 */
function decl(id: i64, start: u32, nameOff: u32, suffix: i32, level: i32): void {
  const fresh = id >= 0;
  if (fresh) {
    start = sp;
    let t = <u32>id;
    for (let steps = 0; ; steps++) {
      if (steps > MAX_NESTING) fail(ERR_DECL_LOOP, 0, 0, <i32>t);
      store<u32>(STACK + ((<usize>sp) << 2), t);
      sp++;
      if (t === 0) break;
      const k = kind(t);
      if ((KS_LINK >>> k) & 1) t = w(o(t) + 2);
      else if (k === K_ARRAY) t = w(o(t) + 3);
      else if ((KS_BASE >>> k) & 1) break;
      else fail(ERR_DECL_KIND, <f64>k, 0, <i32>t);
    }
    if (++depth > MAX_NESTING) tooDeep(t);
  }
  let lastWasPtr = true;
  let nameLeft = true;
  while (sp > start) {
    sp--;
    const tid = load<u32>(STACK + ((<usize>sp) << 2));
    const p = o(tid);
    const k = kind(tid); // 0 for void
    if (k === K_ARRAY || k === K_FUNC_PROTO) {
      // modifiers of an array or a prototype mean nothing in C: dropped
      while (sp > start) {
        const m = kind(load<u32>(STACK + ((<usize>(sp - 1)) << 2)));
        if (((KS_DROP >>> m) & 1) === 0) break;
        sp--;
      }
    } else if (((KS_AFTER >>> k) & 1) === 0) {
      // a named or basic type (or a type tag): the modifiers that follow go before it
      while (sp > start) {
        const m = kind(load<u32>(STACK + ((<usize>(sp - 1)) << 2)));
        if (((KS_MODS >>> m) & 1) === 0) break;
        word(m === K_VOLATILE ? "volatile " : m === K_CONST ? "const " : "restrict ");
        sp--;
      }
    }
    if (k === K_ARRAY) {
      if (sp === start) {
        putName(nameOff, suffix, lastWasPtr);
      } else {
        const multi = kind(load<u32>(STACK + ((<usize>(sp - 1)) << 2))) === K_ARRAY;
        if (!lastWasPtr && hasName(nameOff, suffix)) word(" ");
        if (!multi) word("(");
        decl(-1, start, nameOff, suffix, level);
        if (!multi) word(")");
      }
      word("[");
      num(w(p + 5));
      word("]");
      nameLeft = false;
      break;
    }
    if (k === K_FUNC_PROTO) {
      const vlen = w(p + 1) & 0xffff;
      if (sp > start) {
        word(" (");
        decl(-1, start, nameOff, suffix, level);
        word(")");
      } else {
        putName(nameOff, suffix, lastWasPtr);
      }
      word("(");
      if (vlen === 0 || (vlen === 1 && w(p + 4) === 0)) {
        word("void)");
      } else {
        for (let i: u32 = 0, m = p + 3; i < vlen; i++, m += 2) {
          if (i > 0) word(", ");
          const ptype = w(m + 1);
          if (i === vlen - 1 && ptype === 0) {
            word("...");
            break;
          }
          decl(ptype, 0, w(m), 1, level);
        }
        word(")");
      }
      nameLeft = false;
      break;
    }
    switch (k) {
      case 0:
        word("void");
        break;
      case K_INT:
      case K_FLOAT:
        text(w(p));
        break;
      case K_STRUCT:
      case K_UNION:
        if (w(p) === 0) structDef(tid, level);
        else name(tid, TYPE, 0);
        break;
      case K_ENUM:
      case K_ENUM64:
        if (w(p) === 0) enumDef(tid, level);
        else name(tid, TYPE, 0);
        break;
      case K_FWD:
      case K_TYPEDEF:
        name(tid, TYPE, 0);
        break;
      case K_PTR:
        word(lastWasPtr ? "*" : " *");
        break;
      case K_VOLATILE:
        word(" volatile");
        break;
      case K_CONST:
        word(" const");
        break;
      case K_RESTRICT:
        word(" restrict");
        break;
      case K_TYPE_TAG: {
        const attr = w(p + 1) >>> 31 !== 0;
        word(attr ? " __attribute__((" : ' __attribute__((btf_type_tag("');
        text(w(p));
        word(attr ? "))" : '")))');
        break;
      }
    }
    lastWasPtr = k === K_PTR;
  }
  if (nameLeft) putName(nameOff, suffix, lastWasPtr);
  if (fresh) {
    depth--;
    sp = start;
  }
}

/** Whether a declarator name is non-empty. */
function hasName(nameOff: u32, suffix: i32): bool {
  if (suffix > 1) return true;
  if (nameOff >= SLEN) checkString(nameOff);
  return str(nameOff) !== 0;
}

function putName(nameOff: u32, suffix: i32, lastWasPtr: bool): void {
  if (!hasName(nameOff, suffix)) return;
  if (!lastWasPtr) word(" ");
  named(nameOff, suffix);
}

/**
 * Prints every type as C, each after whatever it needs first, after `head` bytes left for the
 * caller's opening lines and with `tail` bytes of room after it for the closing ones; `blob` is
 * the size of the blobs (see startOutput). Returns the header's length, head and tail included
 * (it starts at outputAt()).
 */
export function printC(head: u32, tail: u32, blob: u32): u32 {
  QUEUE = take((<u64>N) << 2);
  const names = scan();
  let slots: u32 = 1024;
  while (<u64>slots * 2 < <u64>names * 3) slots *= 2;
  NAMES = take((<u64>slots) << 3);
  NAMES_MASK = slots - 1;
  USES = take((<u64>slots) << 3);
  VALUESLOT = take((<u64>names) << 2);
  slotNames();
  vaList = find("__builtin_va_list");
  gnucVaList = find("__gnuc_va_list");
  // a declarator's chain has at most MAX_NESTING + 1 types, and nests at most MAX_NESTING deep
  STACK = take((<u64>(MAX_NESTING + 2) * (MAX_NESTING + 2)) << 2);
  startOutput(head, tail, blob);
  for (let id: u32 = 1; id < N; id++) if (!ordered(id)) dumpType(id);
  return endOutput(tail);
}
