/**
 * BTF kind numbers and record sizes, as in include/uapi/linux/btf.h (Linux 6.18).
 */

/** Kind numbers (bits 24..28 of `info`). */
export const Kind = {
  UNKN: 0,
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;

/** The largest kind number this decoder knows. */
export const KIND_MAX = 19;

/** Kind names in lower case, indexed by kind number ("unkn" for 0). */
export const KIND_NAMES = [
  "unkn",
  "int",
  "ptr",
  "array",
  "struct",
  "union",
  "enum",
  "fwd",
  "typedef",
  "volatile",
  "const",
  "restrict",
  "func",
  "func_proto",
  "var",
  "datasec",
  "float",
  "decl_tag",
  "type_tag",
  "enum64",
] as const;

/** The BTF magic number (little-endian on disk as 9f eb). */
export const BTF_MAGIC = 0xeb9f;
/** The only BTF version. */
export const BTF_VERSION = 1;
/** Size of `struct btf_header`. */
export const BTF_HEADER_SIZE = 24;
/** Size of `struct btf_type` (name_off, info, size/type). */
export const BTF_TYPE_SIZE = 12;
/** Largest vlen (16 bits). */
export const BTF_MAX_VLEN = 0xffff;
/** Largest type id the kernel accepts (BTF_MAX_TYPE). */
export const BTF_MAX_TYPE = 0x000fffff;
/** Largest string offset the kernel accepts (BTF_MAX_NAME_OFFSET). */
export const BTF_MAX_NAME_OFFSET = 0x00ffffff;

/** INT encoding bits. */
export const INT_SIGNED = 1;
export const INT_CHAR = 2;
export const INT_BOOL = 4;

/**
 * Bytes that follow the 12-byte `btf_type` for a given kind and vlen, or -1 for an unknown kind.
 * Kept branch-light: it runs once per type when a blob is indexed.
 */
export function extraSize(kind: number, vlen: number): number {
  switch (kind) {
    case Kind.INT:
      return 4;
    case Kind.PTR:
    case Kind.FWD:
    case Kind.TYPEDEF:
    case Kind.VOLATILE:
    case Kind.CONST:
    case Kind.RESTRICT:
    case Kind.FUNC:
    case Kind.FLOAT:
    case Kind.TYPE_TAG:
      return 0;
    case Kind.ARRAY:
      return 12;
    case Kind.STRUCT:
    case Kind.UNION:
    case Kind.DATASEC:
      return 12 * vlen;
    case Kind.ENUM:
    case Kind.FUNC_PROTO:
      return 8 * vlen;
    case Kind.VAR:
    case Kind.DECL_TAG:
      return 4;
    case Kind.ENUM64:
      return 12 * vlen;
    default:
      return -1;
  }
}
