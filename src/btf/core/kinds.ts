/** CO-RE relocation kinds: `enum bpf_core_relo_kind` in include/uapi/linux/bpf.h. */

/** Kind numbers as clang writes them in .BTF.ext and the kernel reads them in `core_relos`. */
export const CoreKind = {
  FIELD_BYTE_OFFSET: 0,
  FIELD_BYTE_SIZE: 1,
  FIELD_EXISTS: 2,
  FIELD_SIGNED: 3,
  FIELD_LSHIFT_U64: 4,
  FIELD_RSHIFT_U64: 5,
  TYPE_ID_LOCAL: 6,
  TYPE_ID_TARGET: 7,
  TYPE_EXISTS: 8,
  TYPE_SIZE: 9,
  ENUMVAL_EXISTS: 10,
  ENUMVAL_VALUE: 11,
  TYPE_MATCHES: 12,
} as const;

/** The largest kind number. */
export const CORE_KIND_MAX = 12;

/** Short names by kind number, as libbpf prints them. */
export const CORE_KIND_NAMES: readonly string[] = [
  "byte_off",
  "byte_sz",
  "field_exists",
  "signed",
  "lshift_u64",
  "rshift_u64",
  "local_type_id",
  "target_type_id",
  "type_exists",
  "type_size",
  "enumval_exists",
  "enumval_value",
  "type_matches",
];

/** Field-based kinds (0..5): the access string walks members and array elements. */
export function isFieldKind(kind: number): boolean {
  return kind <= 5;
}

/** Type-based kinds: the access string is "0". */
export function isTypeKind(kind: number): boolean {
  return kind === 6 || kind === 7 || kind === 8 || kind === 9 || kind === 12;
}

/** Enumerator-based kinds: the access string is the enumerator's index. */
export function isEnumvalKind(kind: number): boolean {
  return kind === 10 || kind === 11;
}

/** The kind's name ("byte_off"), or `kind N`. */
export function coreKindName(kind: number): string {
  return CORE_KIND_NAMES[kind] ?? `kind ${kind}`;
}
