import type { Btf } from "./decode.js";
import { POINTER_SIZE } from "./decode.js";
import { encodeBtf } from "./encode.js";
import { BtfError } from "./errors.js";
import { StringTable } from "./strings.js";
import type { BtfType, Enum64Value, EnumValue, Linkage, Member, Param, SectionVar } from "./types.js";

/** A member as given to {@link BtfBuilder.struct}: offsets are computed unless given. */
export interface MemberSpec {
  readonly name: string;
  readonly type: number;
  /** bit offset; computed with C layout rules when omitted */
  readonly bitOffset?: number;
  /** bitfield width in bits */
  readonly bitfieldSize?: number;
}

/**
 * Builds BTF by hand. Each method adds one type and returns its id; {@link BtfBuilder.build}
 * encodes the blob. Names share one deduplicated string table.
 *
 * ```ts
 * const b = new BtfBuilder();
 * const u32 = b.int("unsigned int", 4);
 * const pair = b.struct("pair", [{ name: "a", type: u32 }, { name: "b", type: u32 }]);
 * const blob = b.build();
 * ```
 */
export class BtfBuilder {
  /** types added so far; the first has id {@link BtfBuilder.startId} */
  readonly types: BtfType[] = [];
  readonly strings: StringTable;
  readonly base: Btf | undefined;
  /** id of the first type added (1, or the base's endId for split BTF) */
  readonly startId: number;
  private arrayIndex = 0;

  constructor(options: { base?: Btf; strings?: StringTable } = {}) {
    this.base = options.base;
    this.startId = options.base ? options.base.endId : 1;
    this.strings = options.strings ?? new StringTable(options.base ? { base: options.base } : {});
  }

  /**
   * A builder holding every type of a parsed blob, with its string table as it was, so that
   * `BtfBuilder.from(btf).build()` gives the same bytes as the blob (for a blob with a 24-byte
   * header and sections in the usual order).
   */
  static from(btf: Btf): BtfBuilder {
    const strings = new StringTable(
      btf.base ? { seed: btf.stringBytes, base: btf.base } : { seed: btf.stringBytes },
    );
    const b = new BtfBuilder(btf.base ? { base: btf.base, strings } : { strings });
    for (const [, t] of btf.types()) b.add(t);
    return b;
  }

  /** One past the last id added. */
  get endId(): number {
    return this.startId + this.types.length;
  }

  /** Adds any type; returns its id. */
  add(type: BtfType): number {
    if (type.kind === "void") throw new BtfError("void is type id 0; refer to it as 0 instead of adding it");
    this.types.push(type);
    return this.startId + this.types.length - 1;
  }

  /** The type with this id (from this builder or its base). */
  get(id: number): BtfType {
    if (id === 0) return { kind: "void", name: "" };
    if (id < this.startId) {
      if (this.base) return this.base.type(id);
    }
    const t = this.types[id - this.startId];
    if (!t) throw new BtfError(`type id ${id} has not been added`);
    return t;
  }

  /** An integer type. Unsigned unless `signed`; `bits` defaults to size * 8. */
  int(
    name: string,
    size: number,
    options: { signed?: boolean; char?: boolean; bool?: boolean; bits?: number; bitOffset?: number } = {},
  ): number {
    return this.add({
      kind: "int",
      name,
      size,
      bits: options.bits ?? size * 8,
      bitOffset: options.bitOffset ?? 0,
      signed: options.signed ?? false,
      char: options.char ?? false,
      bool: options.bool ?? false,
    });
  }

  /** A floating point type. */
  float(name: string, size: number): number {
    return this.add({ kind: "float", name, size });
  }

  /** `type *` */
  ptr(type: number): number {
    return this.add({ kind: "ptr", name: "", type });
  }

  /** `typedef type name` */
  typedef(name: string, type: number): number {
    return this.add({ kind: "typedef", name, type });
  }

  /** `const type` */
  const(type: number): number {
    return this.add({ kind: "const", name: "", type });
  }

  /** `volatile type` */
  volatile(type: number): number {
    return this.add({ kind: "volatile", name: "", type });
  }

  /** `restrict type` */
  restrict(type: number): number {
    return this.add({ kind: "restrict", name: "", type });
  }

  /** `type __attribute__((btf_type_tag(name)))` */
  typeTag(name: string, type: number, attribute = false): number {
    return this.add({ kind: "type_tag", name, type, attribute });
  }

  /** `__attribute__((btf_decl_tag(name)))` on a type (componentIndex -1), member or parameter. */
  declTag(name: string, type: number, componentIndex = -1, attribute = false): number {
    return this.add({ kind: "decl_tag", name, type, componentIndex, attribute });
  }

  /** `type [length]`; the index type is a 4-byte int added once unless given. */
  array(type: number, length: number, indexType?: number): number {
    if (indexType === undefined) {
      if (this.arrayIndex === 0) this.arrayIndex = this.int("__ARRAY_SIZE_TYPE__", 4);
      indexType = this.arrayIndex;
    }
    return this.add({ kind: "array", name: "", type, indexType, length });
  }

  /** `struct name { ... }` with members laid out by C rules unless their offsets are given. */
  struct(name: string, members: readonly MemberSpec[], options: { size?: number } = {}): number {
    return this.composite("struct", name, members, options.size);
  }

  /** `union name { ... }` */
  union(name: string, members: readonly MemberSpec[], options: { size?: number } = {}): number {
    return this.composite("union", name, members, options.size);
  }

  private composite(
    kind: "struct" | "union",
    name: string,
    specs: readonly MemberSpec[],
    size: number | undefined,
  ): number {
    const members: Member[] = [];
    let bit = 0;
    let end = 0;
    let align = 1;
    let bitfields = false;
    for (const m of specs) {
      const msize = this.sizeOf(m.type);
      const malign = this.alignOf(m.type);
      align = Math.max(align, malign);
      const bf = m.bitfieldSize ?? 0;
      if (bf > 0) bitfields = true;
      let at: number;
      if (m.bitOffset !== undefined) at = m.bitOffset;
      else if (kind === "union") at = 0;
      else if (bf > 0) {
        // a bitfield goes at the next bit unless it would straddle its storage unit
        const unit = msize * 8;
        at =
          Math.floor(bit / unit) === Math.floor((bit + bf - 1) / unit) ? bit : Math.ceil(bit / unit) * unit;
      } else {
        const a = malign * 8;
        at = Math.ceil(bit / a) * a;
      }
      members.push({ name: m.name, type: m.type, bitOffset: at, bitfieldSize: bf });
      const stop = at + (bf > 0 ? bf : msize * 8);
      if (kind === "struct") bit = stop;
      end = Math.max(end, stop);
    }
    const bytes = Math.ceil(end / 8);
    const computed = Math.ceil(bytes / align) * align;
    return this.add({ kind, name, size: size ?? computed, bitfields, members });
  }

  /**
   * An enum. Values as `[name, value]` pairs or an object. A 64-bit enum is made when `size` is 8
   * or a value needs more than 32 bits; `signed` defaults to "some value is negative".
   */
  enum(
    name: string,
    values: Readonly<Record<string, number | bigint>> | readonly (readonly [string, number | bigint])[],
    options: { size?: number; signed?: boolean } = {},
  ): number {
    const pairs = Array.isArray(values)
      ? (values as readonly (readonly [string, number | bigint])[])
      : Object.entries(values as Record<string, number | bigint>);
    const big = pairs.some(([, v]) => BigInt(v) < -0x80000000n || BigInt(v) > 0xffffffffn);
    const signed = options.signed ?? pairs.some(([, v]) => BigInt(v) < 0n);
    const size = options.size ?? (big ? 8 : 4);
    if (size === 8 || big) {
      const vals: Enum64Value[] = pairs.map(([n, v]) => ({ name: n, value: BigInt(v) }));
      return this.add({ kind: "enum64", name, size, signed, values: vals });
    }
    const vals: EnumValue[] = pairs.map(([n, v]) => ({ name: n, value: Number(v) }));
    return this.add({ kind: "enum", name, size, signed, values: vals });
  }

  /** `struct name;` (or `union name;`) */
  fwd(name: string, union = false): number {
    return this.add({ kind: "fwd", name, union });
  }

  /** A function prototype; `variadic` appends `...`. */
  funcProto(returnType: number, params: readonly Param[], options: { variadic?: boolean } = {}): number {
    const all = options.variadic ? [...params, { name: "", type: 0 }] : [...params];
    return this.add({ kind: "func_proto", name: "", returnType, params: all });
  }

  /** A function with a prototype (a func_proto id). */
  func(name: string, proto: number, linkage: Linkage = "static"): number {
    return this.add({ kind: "func", name, type: proto, linkage });
  }

  /** A variable. */
  var(name: string, type: number, linkage: Linkage = "global"): number {
    return this.add({ kind: "var", name, type, linkage });
  }

  /** A data section holding variables; `size` defaults to the end of the last variable. */
  datasec(name: string, vars: readonly SectionVar[], size?: number): number {
    const end = vars.reduce((e, v) => Math.max(e, v.offset + v.size), 0);
    return this.add({ kind: "datasec", name, size: size ?? end, vars: [...vars] });
  }

  /** Size in bytes of a type added here or in the base. */
  sizeOf(id: number, depth = 0): number {
    if (depth > 64) throw new BtfError("types nest deeper than 64 levels: a loop?", { typeId: id });
    if (id < this.startId && id !== 0 && this.base) return this.base.sizeOf(id);
    const t = this.get(id);
    switch (t.kind) {
      case "int":
      case "float":
      case "struct":
      case "union":
      case "enum":
      case "enum64":
      case "datasec":
        return t.size;
      case "ptr":
        return POINTER_SIZE;
      case "array":
        return t.length * this.sizeOf(t.type, depth + 1);
      case "typedef":
      case "const":
      case "volatile":
      case "restrict":
      case "type_tag":
      case "var":
        return this.sizeOf(t.type, depth + 1);
      default:
        throw new BtfError(`a ${t.kind} has no size`, { typeId: id });
    }
  }

  /** Alignment in bytes of a type added here or in the base. */
  alignOf(id: number, depth = 0): number {
    if (depth > 64) throw new BtfError("types nest deeper than 64 levels: a loop?", { typeId: id });
    if (id < this.startId && id !== 0 && this.base) return this.base.alignOf(id);
    const t = this.get(id);
    switch (t.kind) {
      case "int":
      case "float":
      case "enum":
      case "enum64":
        return Math.max(1, Math.min(t.size, POINTER_SIZE));
      case "ptr":
        return POINTER_SIZE;
      case "struct":
      case "union":
        return t.members.reduce((a, m) => Math.max(a, this.alignOf(m.type, depth + 1)), 1);
      case "array":
      case "typedef":
      case "const":
      case "volatile":
      case "restrict":
      case "type_tag":
        return this.alignOf(t.type, depth + 1);
      default:
        throw new BtfError(`a ${t.kind} has no alignment`, { typeId: id });
    }
  }

  /** Encodes the blob: header, types, strings. */
  build(): Uint8Array {
    return encodeBtf(this.types, this.strings, this.startId);
  }
}
