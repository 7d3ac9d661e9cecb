import type { Btf } from "./decode.js";
import { Kind } from "./kinds.js";
import { Output } from "./output.js";

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

function quoted(o: Output, btf: Btf, off: number): void {
  if (off === 0) o.put("'(anon)'");
  else {
    o.put("'");
    o.put(btf.string(off));
    o.put("'");
  }
}

/** One type as `bpftool btf dump ... format raw` prints it (members on following tab-indented lines). */
function rawTypeInto(o: Output, btf: Btf, id: number): void {
  const k = btf.kindOf(id);
  const flag = btf.kindFlagOf(id);
  const vlen = btf.vlenOf(id);
  const st = btf.sizeOrTypeOf(id);
  o.put("[");
  o.put(String(id));
  o.put("] ");
  o.put(KIND_UPPER[k]!);
  o.put(" ");
  quoted(o, btf, btf.nameOffsetOf(id));
  const x = (i: number) => btf.extraWord(id, i);
  const put = (t: string) => o.put(t);
  switch (k) {
    case K_INT: {
      const e = x(0);
      put(
        ` size=${st} bits_offset=${(e >>> 16) & 0xff} nr_bits=${e & 0xff} encoding=${intEncoding(e >>> 24)}`,
      );
      break;
    }
    case K_PTR:
    case K_CONST:
    case K_VOLATILE:
    case K_RESTRICT:
    case K_TYPEDEF:
      put(` type_id=${st}`);
      break;
    case K_TYPE_TAG:
      put(` type_id=${st}`);
      break;
    case K_ARRAY:
      put(` type_id=${x(0)} index_type_id=${x(1)} nr_elems=${x(2)}`);
      break;
    case K_STRUCT:
    case K_UNION:
      put(` size=${st} vlen=${vlen}`);
      for (let i = 0; i < vlen; i++) {
        const w = x(3 * i + 2);
        put("\n\t");
        quoted(o, btf, x(3 * i));
        put(` type_id=${x(3 * i + 1)} bits_offset=${flag ? w & 0xffffff : w}`);
        if (flag && w >>> 24 !== 0) put(` bitfield_size=${w >>> 24}`);
      }
      break;
    case K_ENUM:
      put(` encoding=${flag ? "SIGNED" : "UNSIGNED"} size=${st} vlen=${vlen}`);
      for (let i = 0; i < vlen; i++) {
        const v = x(2 * i + 1);
        put("\n\t");
        quoted(o, btf, x(2 * i));
        put(` val=${flag ? v | 0 : v}`);
      }
      break;
    case K_ENUM64:
      put(` encoding=${flag ? "SIGNED" : "UNSIGNED"} size=${st} vlen=${vlen}`);
      for (let i = 0; i < vlen; i++) {
        const u = (BigInt(x(3 * i + 2)) << 32n) | BigInt(x(3 * i + 1));
        put("\n\t");
        quoted(o, btf, x(3 * i));
        put(` val=${flag ? `${BigInt.asIntN(64, u)}LL` : `${u}ULL`}`);
      }
      break;
    case K_FWD:
      put(` fwd_kind=${flag ? "union" : "struct"}`);
      break;
    case K_FUNC:
      put(` type_id=${st} linkage=${LINKAGE[vlen] ?? "UNKN"}`);
      break;
    case K_FUNC_PROTO:
      put(` ret_type_id=${st} vlen=${vlen}`);
      for (let i = 0; i < vlen; i++) {
        put("\n\t");
        quoted(o, btf, x(2 * i));
        put(` type_id=${x(2 * i + 1)}`);
      }
      break;
    case K_VAR:
      put(` type_id=${st}, linkage=${LINKAGE[x(0)] ?? "UNKN"}`);
      break;
    case K_DATASEC:
      put(` size=${st} vlen=${vlen}`);
      for (let i = 0; i < vlen; i++) {
        const t = x(3 * i);
        put(`\n\ttype_id=${t} offset=${x(3 * i + 1)} size=${x(3 * i + 2)}`);
        put(` (${KIND_UPPER[btf.kindOf(btf.checkId(t, id))]} `);
        quoted(o, btf, btf.nameOffsetOf(t));
        put(")");
      }
      break;
    case K_FLOAT:
      put(` size=${st}`);
      break;
    case K_DECL_TAG:
      put(` type_id=${st} component_idx=${x(0) | 0}`);
      break;
  }
}

/** One type as `bpftool btf dump ... format raw` prints it (members on following tab-indented lines). */
export function rawType(btf: Btf, id: number): string {
  const o = new Output(256);
  rawTypeInto(o, btf, id);
  return o.text();
}

/**
 * The whole blob as `bpftool btf dump file X format raw` prints it: one `[id] KIND 'name' ...`
 * entry per type (this blob's own types, for split BTF), each ending with a newline.
 */
export function formatRaw(btf: Btf): string {
  const o = new Output(Math.max(1 << 16, btf.bytes.length));
  for (let id = btf.startId; id < btf.endId; id++) {
    rawTypeInto(o, btf, id);
    o.put("\n");
  }
  return o.text();
}
