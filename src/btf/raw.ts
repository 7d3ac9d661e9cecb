import type { Btf } from "./decode.js";
import { Kind } from "./kinds.js";

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

const KIND_UPPER = [
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
];

const LINKAGE = ["static", "global", "extern"];

function intEncoding(enc: number): string {
  switch (enc) {
    case 0:
      return "(none)";
    case 1:
      return "SIGNED";
    case 2:
      return "CHAR";
    case 4:
      return "BOOL";
    default:
      return "UNKN";
  }
}

function quoted(btf: Btf, off: number): string {
  return off === 0 ? "'(anon)'" : `'${btf.string(off)}'`;
}

/** One type as `bpftool btf dump ... format raw` prints it (members on following tab-indented lines). */
export function rawType(btf: Btf, id: number): string {
  const k = btf.kindOf(id);
  const flag = btf.kindFlagOf(id);
  const vlen = btf.vlenOf(id);
  const st = btf.sizeOrTypeOf(id);
  let s = `[${id}] ${KIND_UPPER[k]} ${quoted(btf, btf.nameOffsetOf(id))}`;
  const x = (i: number) => btf.extraWord(id, i);
  switch (k) {
    case K_INT: {
      const e = x(0);
      s += ` size=${st} bits_offset=${(e >>> 16) & 0xff} nr_bits=${e & 0xff} encoding=${intEncoding(e >>> 24)}`;
      break;
    }
    case K_PTR:
    case K_CONST:
    case K_VOLATILE:
    case K_RESTRICT:
    case K_TYPEDEF:
      s += ` type_id=${st}`;
      break;
    case K_TYPE_TAG:
      s += ` type_id=${st}`;
      break;
    case K_ARRAY:
      s += ` type_id=${x(0)} index_type_id=${x(1)} nr_elems=${x(2)}`;
      break;
    case K_STRUCT:
    case K_UNION:
      s += ` size=${st} vlen=${vlen}`;
      for (let i = 0; i < vlen; i++) {
        const o = x(3 * i + 2);
        s += `\n\t${quoted(btf, x(3 * i))} type_id=${x(3 * i + 1)} bits_offset=${flag ? o & 0xffffff : o}`;
        if (flag && o >>> 24 !== 0) s += ` bitfield_size=${o >>> 24}`;
      }
      break;
    case K_ENUM:
      s += ` encoding=${flag ? "SIGNED" : "UNSIGNED"} size=${st} vlen=${vlen}`;
      for (let i = 0; i < vlen; i++) {
        const v = x(2 * i + 1);
        s += `\n\t${quoted(btf, x(2 * i))} val=${flag ? v | 0 : v}`;
      }
      break;
    case K_ENUM64:
      s += ` encoding=${flag ? "SIGNED" : "UNSIGNED"} size=${st} vlen=${vlen}`;
      for (let i = 0; i < vlen; i++) {
        const u = (BigInt(x(3 * i + 2)) << 32n) | BigInt(x(3 * i + 1));
        s += `\n\t${quoted(btf, x(3 * i))} val=${flag ? `${BigInt.asIntN(64, u)}LL` : `${u}ULL`}`;
      }
      break;
    case K_FWD:
      s += ` fwd_kind=${flag ? "union" : "struct"}`;
      break;
    case K_FUNC:
      s += ` type_id=${st} linkage=${LINKAGE[vlen] ?? "UNKN"}`;
      break;
    case K_FUNC_PROTO:
      s += ` ret_type_id=${st} vlen=${vlen}`;
      for (let i = 0; i < vlen; i++) s += `\n\t${quoted(btf, x(2 * i))} type_id=${x(2 * i + 1)}`;
      break;
    case K_VAR:
      s += ` type_id=${st}, linkage=${LINKAGE[x(0)] ?? "UNKN"}`;
      break;
    case K_DATASEC:
      s += ` size=${st} vlen=${vlen}`;
      for (let i = 0; i < vlen; i++) {
        const t = x(3 * i);
        s += `\n\ttype_id=${t} offset=${x(3 * i + 1)} size=${x(3 * i + 2)}`;
        s += ` (${KIND_UPPER[btf.kindOf(btf.checkId(t, id))]} ${quoted(btf, btf.nameOffsetOf(t))})`;
      }
      break;
    case K_FLOAT:
      s += ` size=${st}`;
      break;
    case K_DECL_TAG:
      s += ` type_id=${st} component_idx=${x(0) | 0}`;
      break;
  }
  return s;
}

/**
 * The whole blob as `bpftool btf dump file X format raw` prints it: one `[id] KIND 'name' ...`
 * entry per type (this blob's own types, for split BTF), each ending with a newline.
 */
export function formatRaw(btf: Btf): string {
  const parts: string[] = [];
  let chunk = "";
  for (let id = btf.startId; id < btf.endId; id++) {
    chunk += `${rawType(btf, id)}\n`;
    if (chunk.length > 1 << 16) {
      parts.push(chunk);
      chunk = "";
    }
  }
  parts.push(chunk);
  return parts.join("");
}
