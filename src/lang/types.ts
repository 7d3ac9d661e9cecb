/**
 * The compiler's types: integers of BPF widths, memory layouts (map keys and values, records),
 * pointers into them, and the rules that combine integer types.
 */

/** An integer type. Values live in 64-bit registers, kept normalized: zero- or sign-extended. */
export interface IntType {
  readonly kind: "int";
  readonly bits: 8 | 16 | 32 | 64;
  readonly signed: boolean;
  readonly name: string;
}

function int(name: string, bits: 8 | 16 | 32 | 64, signed: boolean): IntType {
  return Object.freeze({ kind: "int", bits, signed, name });
}

export const U8 = int("u8", 8, false);
export const U16 = int("u16", 16, false);
export const U32 = int("u32", 32, false);
export const U64 = int("u64", 64, false);
export const I8 = int("i8", 8, true);
export const I16 = int("i16", 16, true);
export const I32 = int("i32", 32, true);
export const I64 = int("i64", 64, true);
/** `boolean`: 0 or 1 in a register */
export const BOOL = int("boolean", 8, false);

/** Integer types by the names a program writes (`number` is i64). */
export const INT_TYPES: ReadonlyMap<string, IntType> = new Map([
  ["u8", U8],
  ["u16", U16],
  ["u32", U32],
  ["u64", U64],
  ["i8", I8],
  ["i16", I16],
  ["i32", I32],
  ["i64", I64],
  ["number", I64],
  ["boolean", BOOL],
  ["bool", BOOL],
]);

/** A field or element layout in memory. */
export type Layout = IntLayout | StructLayout | ArrayLayout;

export interface IntLayout {
  readonly kind: "int";
  readonly type: IntType;
  readonly size: number;
  readonly align: number;
}

export interface StructLayout {
  readonly kind: "struct";
  readonly size: number;
  readonly align: number;
  readonly fields: ReadonlyMap<string, { readonly offset: number; readonly layout: Layout }>;
}

export interface ArrayLayout {
  readonly kind: "array";
  readonly size: number;
  readonly align: number;
  readonly element: Layout;
  readonly length: number;
}

export function intLayout(type: IntType): IntLayout {
  return { kind: "int", type, size: type.bits / 8, align: type.bits / 8 };
}

/** A struct laid out as C lays it out (each field at its alignment, size rounded to the largest). */
export function structLayout(fields: readonly (readonly [string, Layout])[]): StructLayout {
  const map = new Map<string, { offset: number; layout: Layout }>();
  let at = 0;
  let align = 1;
  for (const [name, layout] of fields) {
    at = Math.ceil(at / layout.align) * layout.align;
    map.set(name, { offset: at, layout });
    at += layout.size;
    align = Math.max(align, layout.align);
  }
  return { kind: "struct", size: Math.ceil(at / align) * align, align, fields: map };
}

/** A short C-like name of a layout, for messages (`u8[16]`, `struct { pid, comm }`). */
export function layoutName(l: Layout): string {
  if (l.kind === "int") return l.type.name;
  if (l.kind === "array") return `${layoutName(l.element)}[${l.length}]`;
  return `struct { ${[...l.fields.keys()].join(", ")} }`;
}

export function arrayLayout(element: Layout, length: number): ArrayLayout {
  return { kind: "array", size: element.size * length, align: element.align, element, length };
}

/** Pointer to memory of a layout: a map value (maybe null), or a stack object. */
export interface PointerType {
  readonly kind: "ptr";
  readonly to: Layout;
  readonly nullable: boolean;
  /** programs may not write it (a read-only map) */
  readonly readonly?: boolean;
  /** what the memory is, for messages */
  readonly what: string;
  /** the reference it is (a ring buffer record reserve() gave), followed to check its release */
  readonly ref?: number;
  /** it is that acquired reference itself */
  readonly acquired?: boolean;
}

/** A packet read: an unsigned value, or null (held as all ones) when the packet is too short. */
export interface MaybeIntType {
  readonly kind: "maybe";
  readonly type: IntType;
}

/** The context argument of a program. */
export interface ContextType {
  readonly kind: "ctx";
  readonly name: string;
}

/**
 * A struct or fixed array living in the function's stack frame (`new Uint8Array(16)`,
 * `zero(Event)`, an object literal): its bytes start at `off` from r10.
 */
export interface StackType {
  readonly kind: "stack";
  readonly to: Layout;
  /** frame offset of the first byte (negative) */
  readonly off: number;
  /** what the memory is, for messages */
  readonly what: string;
}

/**
 * A pointer into the kernel, typed by BTF (a `task_struct *`): fields are read directly
 * (tp_btf, `direct`) or through bpf_probe_read_kernel (raw_tp).
 */
export interface KernelPointerType {
  readonly kind: "kptr";
  /** BTF id of the struct or union it points to */
  readonly id: number;
  readonly direct: boolean;
  readonly what: string;
  /** a helper's result that may be null until checked (`bpf_skc_to_tcp_sock`, `bpf_sk_lookup_tcp`) */
  readonly nullable?: boolean;
  /**
   * the reference this pointer holds or comes from (a socket `bpf_sk_lookup_tcp` acquired), which
   * the compiler follows to check that every path releases it and that nothing uses it after
   */
  readonly ref?: number;
  /** it is the acquired reference itself, which `bpf_sk_release` releases (not a pointer derived from it) */
  readonly acquired?: boolean;
}

export type Type = IntType | PointerType | MaybeIntType | ContextType | StackType | KernelPointerType;

/** A short name for messages. */
export function typeName(t: Type): string {
  switch (t.kind) {
    case "int":
      return t.name;
    case "ptr":
      return t.nullable ? `${t.what} | null` : t.what;
    case "maybe":
      return `${t.type.name} | null`;
    case "ctx":
      return t.name;
    case "stack":
      return t.what;
    case "kptr":
      return t.nullable ? `${t.what} | null` : t.what;
  }
}

/**
 * The type two integer operands are brought to: the wider one's; at equal width unsigned wins
 * (C's rule, without C's promotion to int: u8 + u8 is a u8 and wraps at 256).
 */
export function commonType(a: IntType, b: IntType): IntType {
  if (a === BOOL && b === BOOL) return U8;
  if (a.bits !== b.bits) return a.bits > b.bits ? (a === BOOL ? b : a) : b === BOOL ? a : b;
  if (a.signed === b.signed) return a === BOOL ? b : a;
  return a.signed ? b : a;
}

/** `value` wrapped to `type`, as the register holds it (sign- or zero-extended to 64 bits). */
export function wrapTo(value: bigint, type: IntType): bigint {
  return type.signed ? BigInt.asIntN(type.bits, value) : BigInt.asUintN(type.bits, value);
}

/** Whether a value normalized for `from` is already normalized for `to`. */
export function conversionIsFree(from: IntType, to: IntType): boolean {
  if (to.bits === 64) return true;
  if (to.bits > from.bits && !from.signed) return true;
  return to.bits >= from.bits && to.signed === from.signed;
}
