/**
 * The BTF type model: plain data, one interface per kind. Names are strings ("" when anonymous);
 * references to other types are type ids (0 is `void`). The encoder and the decoder speak this
 * model, so a hand-built graph and one read from the kernel look the same.
 */

/** Linkage of a function (`BTF_FUNC_STATIC`, `_GLOBAL`, `_EXTERN`) or a variable. */
export type Linkage = "static" | "global" | "extern";

/** Type id 0: `void`. Only the decoder produces it, for id 0. */
export interface VoidType {
  readonly kind: "void";
  readonly name: "";
}

/** An integer type (`int`, `unsigned char`, `_Bool`, ...). */
export interface IntType {
  readonly kind: "int";
  readonly name: string;
  /** size in bytes */
  readonly size: number;
  /** number of value bits (usually size * 8) */
  readonly bits: number;
  /** bit offset of the value inside its storage (usually 0) */
  readonly bitOffset: number;
  readonly signed: boolean;
  readonly char: boolean;
  readonly bool: boolean;
}

/** `T *`, `volatile T`, `const T`, `restrict T`, `typedef T name`. */
export interface RefType {
  readonly kind: "ptr" | "typedef" | "volatile" | "const" | "restrict";
  readonly name: string;
  readonly type: number;
}

/** `btf_type_tag("...")` on the referenced type; `attribute` is the kind_flag (an `__attribute__`). */
export interface TypeTagType {
  readonly kind: "type_tag";
  readonly name: string;
  readonly type: number;
  readonly attribute: boolean;
}

/** `T name[length]`. */
export interface ArrayType {
  readonly kind: "array";
  readonly name: string;
  /** element type */
  readonly type: number;
  /** index type (an int) */
  readonly indexType: number;
  readonly length: number;
}

/** A struct or union member. */
export interface Member {
  readonly name: string;
  readonly type: number;
  /** offset of the member in bits from the start of the struct */
  readonly bitOffset: number;
  /** bitfield width in bits, 0 when the member is not a bitfield */
  readonly bitfieldSize: number;
}

/** A struct or a union. `bitfields` is the kind_flag: member offsets carry bitfield sizes. */
export interface CompositeType {
  readonly kind: "struct" | "union";
  readonly name: string;
  readonly size: number;
  readonly bitfields: boolean;
  readonly members: readonly Member[];
}

/** One enumerator of a 32-bit enum. */
export interface EnumValue {
  readonly name: string;
  readonly value: number;
}

/** A 32-bit (or smaller) enum; `signed` is the kind_flag. */
export interface EnumType {
  readonly kind: "enum";
  readonly name: string;
  readonly size: number;
  readonly signed: boolean;
  readonly values: readonly EnumValue[];
}

/** One enumerator of a 64-bit enum. */
export interface Enum64Value {
  readonly name: string;
  readonly value: bigint;
}

/** A 64-bit enum; `signed` is the kind_flag. */
export interface Enum64Type {
  readonly kind: "enum64";
  readonly name: string;
  readonly size: number;
  readonly signed: boolean;
  readonly values: readonly Enum64Value[];
}

/** `struct name;` or `union name;` declared but not defined. */
export interface FwdType {
  readonly kind: "fwd";
  readonly name: string;
  readonly union: boolean;
}

/** A function: its name, prototype (a func_proto id) and linkage. */
export interface FuncType {
  readonly kind: "func";
  readonly name: string;
  readonly type: number;
  readonly linkage: Linkage;
}

/** A parameter of a function prototype; a last `{name: "", type: 0}` means `...`. */
export interface Param {
  readonly name: string;
  readonly type: number;
}

/** A function prototype: return type and parameters. */
export interface FuncProtoType {
  readonly kind: "func_proto";
  readonly name: string;
  readonly returnType: number;
  readonly params: readonly Param[];
}

/** A global or static variable. */
export interface VarType {
  readonly kind: "var";
  readonly name: string;
  readonly type: number;
  readonly linkage: Linkage;
}

/** A variable placed in a data section. */
export interface SectionVar {
  readonly type: number;
  readonly offset: number;
  readonly size: number;
}

/** A data section (`.data`, `.bss`, `.rodata`, `.maps`, ...). */
export interface DatasecType {
  readonly kind: "datasec";
  readonly name: string;
  readonly size: number;
  readonly vars: readonly SectionVar[];
}

/** A floating point type. */
export interface FloatType {
  readonly kind: "float";
  readonly name: string;
  readonly size: number;
}

/**
 * `btf_decl_tag("name")` on a type (componentIndex -1) or on one of its members or parameters.
 * `attribute` is the kind_flag (an `__attribute__`).
 */
export interface DeclTagType {
  readonly kind: "decl_tag";
  readonly name: string;
  readonly type: number;
  readonly componentIndex: number;
  readonly attribute: boolean;
}

/** Any BTF type. */
export type BtfType =
  | VoidType
  | IntType
  | RefType
  | TypeTagType
  | ArrayType
  | CompositeType
  | EnumType
  | Enum64Type
  | FwdType
  | FuncType
  | FuncProtoType
  | VarType
  | DatasecType
  | FloatType
  | DeclTagType;

/** The kind names of {@link BtfType}, without `void`. */
export type BtfKindName = Exclude<BtfType["kind"], "void">;

/** Linkage names by number. */
export const LINKAGES: readonly Linkage[] = ["static", "global", "extern"];
