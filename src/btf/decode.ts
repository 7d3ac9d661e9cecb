import { BtfError } from "./errors.js";
import {
  BTF_HEADER_SIZE,
  BTF_MAGIC,
  BTF_VERSION,
  extraSize,
  INT_BOOL,
  INT_CHAR,
  INT_SIGNED,
  KIND_MAX,
  KIND_NAMES,
  Kind,
} from "./kinds.js";
import type { StringSource } from "./strings.js";
import type { BtfKindName, BtfType, Linkage, Member } from "./types.js";
import { LINKAGES } from "./types.js";

// module-local copies: plain constants, cheaper than property reads in hot loops
const K_ARRAY = Kind.ARRAY;
const K_CONST = Kind.CONST;
const K_DATASEC = Kind.DATASEC;
const K_DECL_TAG = Kind.DECL_TAG;
const K_ENUM = Kind.ENUM;
const K_ENUM64 = Kind.ENUM64;
const K_FLOAT = Kind.FLOAT;
const K_FUNC = Kind.FUNC;
const K_FUNC_PROTO = Kind.FUNC_PROTO;
const K_FWD = Kind.FWD;
const K_INT = Kind.INT;
const K_PTR = Kind.PTR;
const K_RESTRICT = Kind.RESTRICT;
const K_STRUCT = Kind.STRUCT;
const K_TYPEDEF = Kind.TYPEDEF;
const K_TYPE_TAG = Kind.TYPE_TAG;
const K_UNION = Kind.UNION;
const K_VAR = Kind.VAR;
const K_VOLATILE = Kind.VOLATILE;

const utf8 = new TextDecoder("utf-8", { fatal: false });
const utf8Encoder = new TextEncoder();
const VOID: BtfType = Object.freeze({ kind: "void", name: "" });
/**
 * @internal Words after `btf_type` by kind (-1: no such kind), and words per vlen item (extraSize
 * in words): the index below walks the type section with them, and so does the C printer's
 * WebAssembly (c.ts copies them in).
 */
export const EXTRA_FIXED = new Int8Array(32).fill(-1);
/** @internal See {@link EXTRA_FIXED}. */
export const EXTRA_PER_VLEN = new Int8Array(32);
for (let k = 1; k <= KIND_MAX; k++) {
  const one = extraSize(k, 1);
  const none = extraSize(k, 0);
  EXTRA_FIXED[k] = none >> 2;
  EXTRA_PER_VLEN[k] = (one - none) >> 2;
}
/**
 * Whether `full` is `name` with a flavour: `name___flavour` whose essential name (up to the last
 * `X___Y` separator, X and Y not underscores) is `name`, as libbpf's bpf_core_essential_name_len.
 */
function flavourOf(full: string, name: string): boolean {
  for (let i = full.length - 5; i >= 0; i--) {
    if (
      full.charCodeAt(i) !== 95 &&
      full.charCodeAt(i + 1) === 95 &&
      full.charCodeAt(i + 2) === 95 &&
      full.charCodeAt(i + 3) === 95 &&
      full.charCodeAt(i + 4) !== 95
    )
      return i + 1 === name.length && full.startsWith(name);
  }
  return false;
}

/** How many strings {@link Btf.string} decodes one by one before it makes the table one string. */
const DECODE_ALONE = 2048;

/** How many name lookups search the strings before the name index is built (see {@link Btf.findIds}). */
export const SCAN_LOOKUPS = 16;
/** How deep types may nest (arrays of structs of arrays...) before we call it a loop. */
export const MAX_DEPTH = 64;
/** Size of a pointer (and of `long`) on the targets BPF runs on. */
export const POINTER_SIZE = 8;

/** The parsed BTF header. */
export interface BtfHeader {
  readonly magic: number;
  readonly version: number;
  readonly flags: number;
  readonly hdrLen: number;
  readonly typeOff: number;
  readonly typeLen: number;
  readonly strOff: number;
  readonly strLen: number;
}

function kindNumber(kind: BtfKindName | number | undefined): number {
  if (kind === undefined) return -1;
  if (typeof kind === "number") return kind;
  const k = KIND_NAMES.indexOf(kind);
  if (k < 0) throw new BtfError(`unknown kind name ${JSON.stringify(kind)}`);
  return k;
}

/** Options of {@link Btf.parse}. */
export interface BtfParseOptions {
  /** the base BTF a split BTF (a kernel module's, say) extends */
  base?: Btf;
  /**
   * Index the types as far as they are read, not all at once: a process that reads a few types
   * of vmlinux does not walk its 125,000 records (~6 ms in a fresh process). A malformed type
   * section is then found when the walk reaches it, not by parse(): for BTF already checked, as
   * the kernel checks its own at boot (`vmlinuxBtf()` reads vmlinux so).
   */
  lazyIndex?: boolean;
}

/**
 * A parsed BTF blob (vmlinux, a module's split BTF on top of its base, a program's BTF).
 *
 * Parsing is lazy: {@link Btf.parse} checks the header and walks the type section once to record
 * where each type starts (a Uint32Array; with `lazyIndex`, only as far as types are read); nothing
 * else is allocated until asked. Types are materialised by {@link Btf.type}; names are indexed
 * the first time one is looked up.
 * Ids of a split BTF continue after its base's; the base answers for ids below {@link Btf.startId}.
 */
export class Btf implements StringSource {
  /** the blob as given (the type section may be a 4-byte aligned copy) */
  readonly bytes: Uint8Array;
  readonly header: BtfHeader;
  /** the base BTF of a split BTF */
  readonly base: Btf | undefined;
  /** first type id of this blob (1, or the base's {@link Btf.endId}) */
  readonly startId: number;
  /** first string offset of this blob's table (0, or the base's {@link Btf.stringsEnd}) */
  readonly stringsStart: number;
  /** one past the last string offset */
  readonly stringsEnd: number;

  private readonly tw: Uint32Array;
  /** where each indexed type starts (its first `count` entries; all of them once `complete`) */
  private offsets: Uint32Array;
  private count: number;
  /** the word where the next type to index starts (a lazy index: see {@link BtfParseOptions.lazyIndex}) */
  private walked = 0;
  private complete: boolean;
  private readonly str: Uint8Array;
  private strText: string | undefined;
  private strAscii = true;
  private decoded = 0;
  private nameTable: Int32Array | undefined;
  private stringMap: Map<string, number> | undefined;

  private constructor(bytes: Uint8Array, header: BtfHeader, base: Btf | undefined, lazy: boolean) {
    this.bytes = bytes;
    this.header = header;
    this.base = base;
    this.startId = base ? base.endId : 1;
    this.stringsStart = base ? base.stringsEnd : 0;
    this.stringsEnd = this.stringsStart + header.strLen;
    const tStart = header.hdrLen + header.typeOff;
    const abs = bytes.byteOffset + tStart;
    let tw: Uint32Array;
    if (abs % 4 === 0) {
      tw = new Uint32Array(bytes.buffer, abs, header.typeLen >>> 2);
    } else {
      tw = new Uint32Array(header.typeLen >>> 2);
      new Uint8Array(tw.buffer).set(bytes.subarray(tStart, tStart + (header.typeLen & ~3)));
    }
    this.tw = tw;
    const sStart = header.hdrLen + header.strOff;
    this.str = bytes.subarray(sStart, sStart + header.strLen);
    // every type takes at least 3 words: this bound is what the blob warrants
    this.offsets = new Uint32Array(Math.floor(tw.length / 3));
    this.count = 0;
    this.complete = false;
    // not lazy: the whole index now (and a damaged blob refused now)
    if (!lazy) this.indexTo(Number.MAX_SAFE_INTEGER);
  }

  /** one past the last type id */
  get endId(): number {
    if (!this.complete) this.indexTo(Number.MAX_SAFE_INTEGER);
    return this.startId + this.count;
  }

  /**
   * The index walked on until it holds type index `i` (id startId + i), or to the end, where a
   * walk that does not end exactly at the end of the type section is a damaged blob. Whether type
   * `i` exists.
   */
  private indexTo(i: number): boolean {
    if (this.complete || i < this.count) return i < this.count;
    const tw = this.tw;
    const end = tw.length;
    const offsets = this.offsets;
    let w = this.walked;
    let n = this.count;
    // one small loop, table-driven, so a cold process optimises it once and early
    while (n <= i && w + 3 <= end) {
      const info = tw[w + 1]!;
      const kind = (info >>> 24) & 0x1f;
      const fixed = EXTRA_FIXED[kind]!;
      if (fixed < 0) break;
      offsets[n++] = w;
      w += 3 + fixed + EXTRA_PER_VLEN[kind]! * (info & 0xffff);
    }
    this.walked = w;
    this.count = n;
    if (n <= i) {
      if (w !== end) Btf.badIndex(tw, w, n, offsets[n - 1] ?? 0, this.startId);
      // a compact copy: the walk's array was sized for the smallest types
      this.offsets = offsets.slice(0, n);
      this.complete = true;
    }
    return i < this.count;
  }

  /**
   * Parses a BTF blob. For split BTF (a kernel module's, say) pass the base it extends.
   * @throws BtfError when the blob is not well-formed BTF
   */
  static parse(bytes: Uint8Array, options: BtfParseOptions = {}): Btf {
    return new Btf(bytes, Btf.readHeader(bytes, options.base), options.base, options.lazyIndex === true);
  }

  /** Reads and checks the header. */
  static readHeader(bytes: Uint8Array, base?: Btf): BtfHeader {
    if (bytes.length < BTF_HEADER_SIZE) {
      throw new BtfError(`blob of ${bytes.length} bytes is shorter than the 24-byte BTF header`);
    }
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const magic = v.getUint16(0, true);
    if (magic !== BTF_MAGIC) {
      if (magic === 0x9feb) throw new BtfError("big-endian BTF is not supported on this little-endian host");
      throw new BtfError(`bad magic 0x${magic.toString(16)}, expected 0xeb9f: this is not BTF`, {
        offset: 0,
      });
    }
    const version = v.getUint8(2);
    if (version !== BTF_VERSION) throw new BtfError(`unsupported BTF version ${version} (only 1 exists)`);
    const h: BtfHeader = {
      magic,
      version,
      flags: v.getUint8(3),
      hdrLen: v.getUint32(4, true),
      typeOff: v.getUint32(8, true),
      typeLen: v.getUint32(12, true),
      strOff: v.getUint32(16, true),
      strLen: v.getUint32(20, true),
    };
    if (h.hdrLen < BTF_HEADER_SIZE || h.hdrLen > bytes.length) {
      throw new BtfError(`header length ${h.hdrLen} is not between 24 and the blob size ${bytes.length}`);
    }
    const body = bytes.length - h.hdrLen;
    if (h.typeOff > body || h.typeLen > body - h.typeOff) {
      throw new BtfError(`type section (offset ${h.typeOff}, ${h.typeLen} bytes) runs past the blob's end`);
    }
    if (h.strOff > body || h.strLen > body - h.strOff) {
      throw new BtfError(`string section (offset ${h.strOff}, ${h.strLen} bytes) runs past the blob's end`);
    }
    if (h.typeOff % 4 !== 0 || h.typeLen % 4 !== 0) {
      throw new BtfError(`type section offset ${h.typeOff} or length ${h.typeLen} is not a multiple of 4`);
    }
    if (h.typeOff < h.strOff ? h.typeOff + h.typeLen > h.strOff : h.strOff + h.strLen > h.typeOff) {
      throw new BtfError("type and string sections overlap");
    }
    if (h.strLen > 0) {
      const s = h.hdrLen + h.strOff;
      if (!base && bytes[s] !== 0) throw new BtfError("string section does not start with a NUL byte");
      if (bytes[s + h.strLen - 1] !== 0) throw new BtfError("string section does not end with a NUL byte");
    } else if (!base) {
      throw new BtfError("string section is empty (it needs at least the empty string)");
    }
    return h;
  }

  /**
   * @internal Throws the error of a walk of type section `tw` that stopped at word `w`, short of
   * its end or past it, after `n` types, the last of which starts at word `last`.
   */
  static badIndex(tw: Uint32Array, w: number, n: number, last: number, startId: number): never {
    if (w < tw.length) Btf.badRecord(tw, w, startId + n);
    throw new BtfError(
      `${KIND_NAMES[(tw[last + 1]! >>> 24) & 0x1f]} record runs past the end of the type section`,
      {
        typeId: startId + n - 1,
        offset: last * 4,
      },
    );
  }

  private static badRecord(tw: Uint32Array, w: number, typeId: number): never {
    if (w + 3 > tw.length) {
      throw new BtfError("type section ends in the middle of a type", { typeId, offset: w * 4 });
    }
    const kind = (tw[w + 1]! >>> 24) & 0x1f;
    throw new BtfError(`unknown kind ${kind} (this decoder knows 1..${KIND_MAX})`, { typeId, offset: w * 4 });
  }

  /** Number of types in this blob (not counting the base's, nor void). */
  get typeCount(): number {
    return this.endId - this.startId;
  }

  private word(id: number): number {
    const i = id - this.startId;
    if (i >>> 0 !== i || (i >= this.count && !this.indexTo(i))) {
      throw new BtfError(`type id ${id} out of range (ids go up to ${this.endId - 1})`);
    }
    return this.offsets[i]!;
  }

  /** Throws unless `id` is a valid type id (0..endId-1). */
  checkId(id: number, from?: number): number {
    if (!(id >= 0 && id < this.endId && Number.isInteger(id))) {
      throw new BtfError(
        `reference to type id ${id}, which does not exist (ids go up to ${this.endId - 1})`,
        from === undefined ? {} : { typeId: from },
      );
    }
    return id;
  }

  // ---- low-level accessors: no allocation ----

  /** Kind number of a type (0 for void). */
  kindOf(id: number): number {
    const i = id - this.startId;
    if (i >>> 0 === i && i < this.count) return (this.tw[this.offsets[i]! + 1]! >>> 24) & 0x1f;
    if (id === 0) return 0;
    return this.outside(id).kindOf(id);
  }

  /** The Btf that holds `id` when it is not one of ours (the base), or a BtfError. */
  private outside(id: number): Btf {
    if (id < this.startId && id > 0 && this.base) return this.base;
    const i = id - this.startId;
    if (i >>> 0 === i && this.indexTo(i)) return this;
    throw new BtfError(`type id ${id} out of range (ids go up to ${this.endId - 1})`);
  }

  /** Kind name of a type ("void" for id 0). */
  kindName(id: number): BtfType["kind"] {
    const k = this.kindOf(id);
    return k === 0 ? "void" : (KIND_NAMES[k] as BtfType["kind"]);
  }

  /** The name's string offset. */
  nameOffsetOf(id: number): number {
    const i = id - this.startId;
    if (i >>> 0 === i && i < this.count) return this.tw[this.offsets[i]!]!;
    if (id === 0) return 0;
    return this.outside(id).nameOffsetOf(id);
  }

  /** The type's name ("" when anonymous). */
  nameOf(id: number): string {
    return this.string(this.nameOffsetOf(id));
  }

  /** vlen (members, values, params, vars; linkage for func). */
  vlenOf(id: number): number {
    const i = id - this.startId;
    if (i >>> 0 === i && i < this.count) return this.tw[this.offsets[i]! + 1]! & 0xffff;
    if (id === 0) return 0;
    return this.outside(id).vlenOf(id);
  }

  /** The kind_flag bit. */
  kindFlagOf(id: number): boolean {
    const i = id - this.startId;
    if (i >>> 0 === i && i < this.count) return this.tw[this.offsets[i]! + 1]! >>> 31 === 1;
    if (id === 0) return false;
    return this.outside(id).kindFlagOf(id);
  }

  /** The third word of `btf_type`: size for sized kinds, the referenced type otherwise. */
  sizeOrTypeOf(id: number): number {
    const i = id - this.startId;
    if (i >>> 0 === i && i < this.count) return this.tw[this.offsets[i]! + 2]!;
    if (id === 0) return 0;
    return this.outside(id).sizeOrTypeOf(id);
  }

  /** Word `i` after the 12-byte `btf_type` (the kind-specific data), unchecked against vlen. */
  extraWord(id: number, i: number): number {
    const j = id - this.startId;
    if (j >>> 0 === j && j < this.count) return this.tw[this.offsets[j]! + 3 + i]!;
    return this.outside(id).extraWord(id, i);
  }

  /** A string by offset. */
  string(offset: number): string {
    if (offset < this.stringsStart) {
      if (this.base) return this.base.string(offset);
    }
    const local = offset - this.stringsStart;
    if (!(local >= 0 && local < this.str.length)) {
      throw new BtfError(`string offset ${offset} is past the string table (${this.stringsEnd} bytes)`);
    }
    if (local === 0 && this.str[0] === 0) return "";
    const text = this.strText;
    if (text === undefined && this.decoded < DECODE_ALONE) {
      // the first strings are decoded one by one: a process that reads a few names of vmlinux
      // (a CO-RE load) does not pay for the whole table as one string (2.3 MB)
      this.decoded++;
      let end = this.str.indexOf(0, local);
      if (end < 0) end = this.str.length;
      return utf8.decode(this.str.subarray(local, end));
    }
    const all = text ?? this.stringText();
    const end = all.indexOf("\0", local);
    if (this.strAscii) return all.slice(local, end);
    return utf8.decode(this.str.subarray(local, end));
  }

  /**
   * Whether the string at `offset` is `s`, compared as UTF-8 bytes in the table: no string is made
   * (a lookup of one member among a struct's hundreds does not decode all their names). A string
   * that is not valid UTF-8 is equal to no `s`.
   * @throws BtfError when the offset is past the string table (as {@link Btf.string})
   */
  stringIs(offset: number, s: string): boolean {
    if (offset < this.stringsStart && this.base) return this.base.stringIs(offset, s);
    const local = offset - this.stringsStart;
    const t = this.str;
    if (!(local >= 0 && local < t.length)) {
      this.string(offset); // throws the table's error
      return false;
    }
    const len = this.encodeQuery(s);
    const q = this.query;
    if (local + len > t.length || (local + len < t.length && t[local + len] !== 0)) return false;
    for (let i = 0; i < len; i++) if (t[local + i] !== q[i]) return false;
    return true;
  }

  /** The offset of a string in this table or its base (first occurrence), or undefined. */
  stringOffset(s: string): number | undefined {
    if (this.base) {
      const b = this.base.stringOffset(s);
      if (b !== undefined) return b;
    }
    let m = this.stringMap;
    if (!m) {
      m = new Map();
      const t = this.str;
      let at = 0;
      while (at < t.length) {
        let end = t.indexOf(0, at);
        if (end < 0) end = t.length;
        const str = utf8.decode(t.subarray(at, end));
        if (!m.has(str)) m.set(str, this.stringsStart + at);
        at = end + 1;
      }
      this.stringMap = m;
    }
    return m.get(s);
  }

  /** The bytes of this blob's own string section. */
  get stringBytes(): Uint8Array {
    return this.str;
  }

  /**
   * @internal The views the printers read directly (no copies): this blob's type section as
   * 32-bit words, and the word index where each of its own types starts (`id - startId`).
   */
  get typeWords(): { readonly words: Uint32Array; readonly starts: Uint32Array } {
    if (!this.complete) this.indexTo(Number.MAX_SAFE_INTEGER);
    return { words: this.tw, starts: this.offsets };
  }

  // ---- materialised types ----

  /** The type with this id, as plain data (id 0 is `{kind: "void"}`). */
  type(id: number): BtfType {
    if (id === 0) return VOID;
    if (id < this.startId && this.base) return this.base.type(id);
    const w = this.word(id);
    const tw = this.tw;
    const name = this.string(tw[w]!);
    const info = tw[w + 1]!;
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const flag = info >>> 31 === 1;
    const st = tw[w + 2]!;
    const x = w + 3;
    switch (kind) {
      case K_INT: {
        const e = tw[x]!;
        const enc = e >>> 24;
        return {
          kind: "int",
          name,
          size: st,
          bits: e & 0xff,
          bitOffset: (e >>> 16) & 0xff,
          signed: (enc & INT_SIGNED) !== 0,
          char: (enc & INT_CHAR) !== 0,
          bool: (enc & INT_BOOL) !== 0,
        };
      }
      case K_PTR:
        return { kind: "ptr", name, type: st };
      case K_TYPEDEF:
        return { kind: "typedef", name, type: st };
      case K_VOLATILE:
        return { kind: "volatile", name, type: st };
      case K_CONST:
        return { kind: "const", name, type: st };
      case K_RESTRICT:
        return { kind: "restrict", name, type: st };
      case K_TYPE_TAG:
        return { kind: "type_tag", name, type: st, attribute: flag };
      case K_ARRAY:
        return { kind: "array", name, type: tw[x]!, indexType: tw[x + 1]!, length: tw[x + 2]! };
      case K_STRUCT:
      case K_UNION: {
        const members: Member[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const o = tw[x + 3 * i + 2]!;
          members[i] = {
            name: this.string(tw[x + 3 * i]!),
            type: tw[x + 3 * i + 1]!,
            bitOffset: flag ? o & 0xffffff : o,
            bitfieldSize: flag ? o >>> 24 : 0,
          };
        }
        return { kind: kind === K_STRUCT ? "struct" : "union", name, size: st, bitfields: flag, members };
      }
      case K_ENUM: {
        const values = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const raw = tw[x + 2 * i + 1]!;
          values[i] = { name: this.string(tw[x + 2 * i]!), value: flag ? raw | 0 : raw };
        }
        return { kind: "enum", name, size: st, signed: flag, values };
      }
      case K_ENUM64: {
        const values = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const u = (BigInt(tw[x + 3 * i + 2]!) << 32n) | BigInt(tw[x + 3 * i + 1]!);
          values[i] = { name: this.string(tw[x + 3 * i]!), value: flag ? BigInt.asIntN(64, u) : u };
        }
        return { kind: "enum64", name, size: st, signed: flag, values };
      }
      case K_FWD:
        return { kind: "fwd", name, union: flag };
      case K_FUNC:
        return { kind: "func", name, type: st, linkage: this.linkage(vlen, id) };
      case K_FUNC_PROTO: {
        const params = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          params[i] = { name: this.string(tw[x + 2 * i]!), type: tw[x + 2 * i + 1]! };
        }
        return { kind: "func_proto", name, returnType: st, params };
      }
      case K_VAR:
        return { kind: "var", name, type: st, linkage: this.linkage(tw[x]!, id) };
      case K_DATASEC: {
        const vars = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          vars[i] = { type: tw[x + 3 * i]!, offset: tw[x + 3 * i + 1]!, size: tw[x + 3 * i + 2]! };
        }
        return { kind: "datasec", name, size: st, vars };
      }
      case K_FLOAT:
        return { kind: "float", name, size: st };
      case K_DECL_TAG:
        return { kind: "decl_tag", name, type: st, componentIndex: tw[x]! | 0, attribute: flag };
      default:
        throw new BtfError(`unknown kind ${kind}`, { typeId: id });
    }
  }

  private linkage(n: number, id: number): Linkage {
    const l = LINKAGES[n];
    if (l === undefined) throw new BtfError(`unknown linkage ${n}`, { typeId: id });
    return l;
  }

  /** Every type of this blob in id order (materialises them all). */
  *types(): IterableIterator<[number, BtfType]> {
    for (let id = this.startId; id < this.endId; id++) yield [id, this.type(id)];
  }

  /** Ids of the types this type refers to (members, params, element, target...). */
  references(id: number): number[] {
    const t = this.type(id);
    switch (t.kind) {
      case "void":
      case "int":
      case "fwd":
      case "float":
        return [];
      case "array":
        return [t.type, t.indexType];
      case "struct":
      case "union":
        return t.members.map((m) => m.type);
      case "enum":
      case "enum64":
        return [];
      case "func_proto":
        return [t.returnType, ...t.params.map((p) => p.type)];
      case "datasec":
        return t.vars.map((v) => v.type);
      default:
        return [t.type];
    }
  }

  /**
   * Checks every type of this blob: names readable, referenced ids in range, no unknown linkage.
   * @throws BtfError on the first problem
   */
  validate(): void {
    for (let id = this.startId; id < this.endId; id++) {
      for (const r of this.references(id)) this.checkId(r, id);
    }
  }

  // ---- names ----

  private static hashBytes(b: Uint8Array, start: number, end: number): number {
    let h = 0x811c9dc5;
    for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
    return h >>> 0;
  }

  private buildNameTable(): Int32Array {
    if (!this.complete) this.indexTo(Number.MAX_SAFE_INTEGER);
    const n = this.offsets.length;
    let size = 16;
    while (size < n * 2) size <<= 1;
    const table = new Int32Array(size);
    const mask = size - 1;
    const s = this.str;
    const tw = this.tw;
    const start = this.stringsStart;
    for (let i = 0; i < n; i++) {
      const off = tw[this.offsets[i]!]!;
      if (off === 0 || off < start) continue; // anonymous, or named from the base table
      const local = off - start;
      if (local >= s.length) {
        throw new BtfError(`name offset ${off} is past the string table`, { typeId: this.startId + i });
      }
      let end = s.indexOf(0, local);
      if (end < 0) end = s.length;
      let h = Btf.hashBytes(s, local, end) & mask;
      while (table[h] !== 0) h = (h + 1) & mask;
      table[h] = i + 1;
    }
    return table;
  }

  /** A name being looked up, as UTF-8 ({@link Btf.encodeQuery}); grown for a longer one. */
  private query = new Uint8Array(1024);

  /** Puts `name` into {@link Btf.query} as UTF-8 (no allocation unless it is longer than any before); its length in bytes. */
  private encodeQuery(name: string): number {
    const r = utf8Encoder.encodeInto(name, this.query);
    if (r.read === name.length) return r.written;
    this.query = new Uint8Array(Math.max(2 * this.query.length, 3 * name.length));
    return utf8Encoder.encodeInto(name, this.query).written;
  }
  private scans = 0;

  /**
   * Ids of the types named `name`, optionally of one kind, in id order (base first).
   * The first few lookups compare names in one pass over the type records (under a millisecond on
   * vmlinux), which is cheaper than indexing every name for a process that asks for one or two (a
   * CO-RE load, an attach by name); after SCAN_LOOKUPS (16) of them the name index is built.
   */
  findIds(name: string, kind?: BtfKindName | number): number[] {
    const k = kindNumber(kind);
    const out = this.base ? this.base.findIds(name, kind) : [];
    if (name === "") return out;
    let own: number[];
    let table = this.nameTable;
    if (!table && this.scans < SCAN_LOOKUPS) {
      this.scans++;
      own = this.scanIds(name, k);
    } else {
      if (!table) table = this.nameTable = this.buildNameTable();
      own = this.tableIds(table, name, k);
    }
    // names from the base's table used by split types are found by a scan (rare)
    if (this.base && this.startId < this.endId) {
      const tw = this.tw;
      if (!this.complete) this.indexTo(Number.MAX_SAFE_INTEGER);
      for (const inBase of this.base.stringOffsets(name)) {
        if (inBase === 0) continue;
        for (let i = 0; i < this.offsets.length; i++) {
          const w = this.offsets[i]!;
          if (tw[w] === inBase && (k < 0 || ((tw[w + 1]! >>> 24) & 0x1f) === k)) own.push(this.startId + i);
        }
      }
    }
    own.sort((a, b) => a - b);
    for (const id of own) out.push(id);
    return out;
  }

  /** This blob's own types named `name` (by the name index), unsorted. */
  private tableIds(table: Int32Array, name: string, k: number): number[] {
    const len = this.encodeQuery(name);
    const q = this.query;
    const mask = table.length - 1;
    let h = Btf.hashBytes(q, 0, len) & mask;
    const s = this.str;
    const tw = this.tw;
    const own: number[] = [];
    for (let e = table[h]!; e !== 0; h = (h + 1) & mask, e = table[h]!) {
      const w = this.offsets[e - 1]!;
      const local = tw[w]! - this.stringsStart;
      if (s[local + len] !== 0) continue;
      let same = true;
      for (let i = 0; i < len; i++) {
        if (s[local + i] !== q[i]) {
          same = false;
          break;
        }
      }
      if (!same) continue;
      if (k >= 0 && ((tw[w + 1]! >>> 24) & 0x1f) !== k) continue;
      own.push(this.startId + e - 1);
    }
    return own;
  }

  /** @internal This blob's string table as one latin1 string (a character a byte; made once, shared with {@link Btf.string}). */
  stringText(): string {
    let text = this.strText;
    if (text === undefined) {
      const s = this.str;
      text = Buffer.from(s.buffer, s.byteOffset, s.length).toString("latin1");
      this.strAscii = !/[^\x00-\x7f]/.test(text);
      this.strText = text;
    }
    return text;
  }

  /**
   * @internal Every offset (in this blob's own table, as type records hold them) of a string equal
   * to `s`, in table order: one pass of a string search, no index built.
   */
  stringOffsets(s: string): number[] {
    const out: number[] = [];
    if (s.includes("\0")) return out;
    // the table's bytes read as latin1: a name is found as its UTF-8 bytes read the same way
    const stored = /^[\x00-\x7f]*$/.test(s) ? s : Buffer.from(s, "utf8").toString("latin1");
    const text = this.stringText();
    if (stored === "") return out;
    if (text.startsWith(stored) && text.charCodeAt(stored.length) === 0) out.push(this.stringsStart);
    const needle = `\0${stored}\0`;
    for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + stored.length + 1))
      out.push(this.stringsStart + at + 1);
    return out;
  }

  /**
   * @internal This blob's own types whose name is `q` (UTF-8 bytes) — or, with `flavoured`, whose
   * name is `q` followed by `___` and a flavour whose essential name is `q` — and whose kind passes
   * `kindOk`, in id order. One pass over the type records comparing name bytes in place: no string
   * is made but for names that start with `q___` and names a split blob takes from its base's table.
   */
  scanNamed(q: Uint8Array, kindOk: (kind: number) => boolean, flavoured: boolean, name: string): number[] {
    const own: number[] = [];
    const len = q.length;
    if (len === 0) return own;
    if (!this.complete) this.indexTo(Number.MAX_SAFE_INTEGER);
    const tw = this.tw;
    const starts = this.offsets;
    const s = this.str;
    const slen = s.length;
    const start = this.stringsStart;
    const q0 = q[0]!;
    const n = starts.length;
    for (let i = 0; i < n; i++) {
      const w = starts[i]!;
      const nameOff = tw[w]!;
      const local = nameOff - start;
      if (local < 0 || local >= slen) {
        // a split blob's type named from the base's strings (or a bad offset): compared as text
        // when asked for flavours (findIds finds these through the base's strings instead)
        if (!flavoured || nameOff === 0 || !this.base || !kindOk((tw[w + 1]! >>> 24) & 0x1f)) continue;
        let t: string;
        try {
          t = this.base.string(nameOff);
        } catch {
          continue;
        }
        if (t === name || (flavoured && t.startsWith(`${name}___`) && flavourOf(t, name)))
          own.push(this.startId + i);
        continue;
      }
      if (s[local] !== q0) continue;
      let j = 1;
      while (j < len && s[local + j] === q[j]) j++;
      if (j < len) continue;
      const next = local + len < slen ? s[local + len]! : 0;
      if (next === 0) {
        if (kindOk((tw[w + 1]! >>> 24) & 0x1f)) own.push(this.startId + i);
      } else if (
        flavoured &&
        next === 95 &&
        s[local + len + 1] === 95 &&
        s[local + len + 2] === 95 &&
        kindOk((tw[w + 1]! >>> 24) & 0x1f) &&
        flavourOf(this.string(nameOff), name)
      ) {
        own.push(this.startId + i);
      }
    }
    return own;
  }

  /**
   * This blob's own types named `name` (of kind `k`, or any when k < 0), unsorted, without a loop
   * over the types in JavaScript: Buffer.indexOf (native code) finds the name in the string table
   * (`\0name\0`), then that string's offset as a record's first word in the type section, a hit
   * being kept when it is where a record starts. A short-lived process looks names up while its
   * loops still run in the interpreter, where a pass over vmlinux's 125,000 records costs ~3 ms.
   */
  private scanIds(name: string, k: number): number[] {
    const own: number[] = [];
    if (name === "" || name.includes("\0")) return own;
    const s = this.str;
    const strings = Buffer.from(s.buffer, s.byteOffset, s.length);
    const needle = Buffer.from(`\0${name}\0`, "utf8");
    const len = needle.length - 2;
    // a table that does not start with the empty string (allowed in a split blob) may start with the name
    if (s[0] !== 0 && s[len] === 0 && strings.compare(needle, 1, len + 1, 0, len) === 0) {
      this.recordsNamed(this.stringsStart, k, own);
    }
    for (let at = strings.indexOf(needle); at >= 0; at = strings.indexOf(needle, at + len + 1)) {
      this.recordsNamed(this.stringsStart + at + 1, k, own);
    }
    return own;
  }

  /** Pushes onto `own` the ids of this blob's records whose name is at string offset `off` (of kind `k`). */
  private recordsNamed(off: number, k: number, own: number[]): void {
    const tw = this.tw;
    const types = Buffer.from(tw.buffer, tw.byteOffset, tw.byteLength);
    // the word as bytes (little-endian), searched from its first non-zero byte: a search that
    // starts at a zero byte stops at nearly every word of the section
    const word = this.query;
    word[0] = off & 0xff;
    word[1] = (off >>> 8) & 0xff;
    word[2] = (off >>> 16) & 0xff;
    word[3] = off >>> 24;
    let skip = 0;
    while (skip < 3 && word[skip] === 0) skip++;
    const pattern = Buffer.from(word.buffer, word.byteOffset + skip, 4 - skip);
    for (let p = types.indexOf(pattern); p >= 0; p = types.indexOf(pattern, p + 1)) {
      const at = p - skip;
      if ((at & 3) !== 0 || at < 0 || tw[at >>> 2] !== off) continue;
      const w = at >>> 2;
      // a lazy index walked on past word w (one step at a time: 1,024 types)
      while (!this.complete && (this.count === 0 || this.offsets[this.count - 1]! < w))
        this.indexTo(this.count + 1023);
      // the record starting at word w, if one does (offsets ascend)
      const offsets = this.offsets;
      let lo = 0;
      let hi = this.count - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const m = offsets[mid]!;
        if (m < w) lo = mid + 1;
        else if (m > w) hi = mid - 1;
        else {
          if (k < 0 || ((tw[w + 1]! >>> 24) & 0x1f) === k) own.push(this.startId + mid);
          break;
        }
      }
    }
  }

  /** The first type named `name` (of `kind`, if given), or undefined. */
  findId(name: string, kind?: BtfKindName | number): number | undefined {
    return this.findIds(name, kind)[0];
  }

  // ---- sizes ----

  /** Skips typedefs, const, volatile, restrict and type tags. Detects loops. */
  resolve(id: number): number {
    let steps = 0;
    for (;;) {
      const k = this.kindOf(id);
      if (k !== K_TYPEDEF && k !== K_CONST && k !== K_VOLATILE && k !== K_RESTRICT && k !== K_TYPE_TAG) {
        return id;
      }
      if (++steps > this.endId) throw new BtfError("type chain loops back on itself", { typeId: id });
      id = this.checkId(this.sizeOrTypeOf(id), id);
    }
  }

  /**
   * Size in bytes of a type, through typedefs, modifiers and arrays.
   * @throws BtfError for types without a size (void, func, fwd), loops, or sizes past 32 bits
   */
  sizeOf(id: number): number {
    let factor = 1;
    let steps = 0;
    const start = id;
    for (;;) {
      if (++steps > this.endId) throw new BtfError("type chain loops back on itself", { typeId: start });
      const k = this.kindOf(id);
      switch (k) {
        case K_INT:
        case K_STRUCT:
        case K_UNION:
        case K_ENUM:
        case K_ENUM64:
        case K_DATASEC:
        case K_FLOAT: {
          const size = factor * this.sizeOrTypeOf(id);
          if (size > 0xffffffff) throw new BtfError(`size ${size} overflows 32 bits`, { typeId: start });
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
          id = this.checkId(this.sizeOrTypeOf(id), id);
          break;
        case K_ARRAY:
          factor *= this.extraWord(id, 2);
          if (factor > 0xffffffff) throw new BtfError("array size overflows 32 bits", { typeId: start });
          id = this.checkId(this.extraWord(id, 0), id);
          break;
        default:
          throw new BtfError(`a ${this.kindName(id)} has no size`, { typeId: id });
      }
    }
  }

  /**
   * Alignment in bytes, as C would align the type (1 for packed structs).
   * @throws BtfError for types without a size, and for loops
   */
  alignOf(id: number, depth = 0): number {
    if (depth > MAX_DEPTH) {
      throw new BtfError(`types nest deeper than ${MAX_DEPTH} levels: a loop?`, { typeId: id });
    }
    id = this.resolve(id);
    const k = this.kindOf(id);
    switch (k) {
      case K_INT:
      case K_ENUM:
      case K_ENUM64:
      case K_FLOAT:
        return Math.max(1, Math.min(this.sizeOrTypeOf(id), POINTER_SIZE));
      case K_PTR:
        return POINTER_SIZE;
      case K_ARRAY:
        return this.alignOf(this.checkId(this.extraWord(id, 0), id), depth + 1);
      case K_STRUCT:
      case K_UNION: {
        const n = this.vlenOf(id);
        const flag = this.kindFlagOf(id);
        let align = 1;
        for (let i = 0; i < n; i++) {
          const mt = this.checkId(this.extraWord(id, 3 * i + 1), id);
          const a = this.alignOf(mt, depth + 1);
          const o = this.extraWord(id, 3 * i + 2);
          const bitOffset = flag ? o & 0xffffff : o;
          const bitfield = flag ? o >>> 24 : 0;
          if (bitfield === 0 && bitOffset % (8 * a) !== 0) return 1; // packed
          if (a > align) align = a;
        }
        if (this.sizeOrTypeOf(id) % align !== 0) return 1;
        return align;
      }
      default:
        throw new BtfError(`a ${this.kindName(id)} has no alignment`, { typeId: id });
    }
  }
}
