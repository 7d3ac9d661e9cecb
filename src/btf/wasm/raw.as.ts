/**
 * The raw lister, in AssemblyScript (see btf.as.ts): one `[id] KIND 'name' ...` entry per type,
 * members, values and parameters on tab-indented lines after it, as `bpftool btf dump file X
 * format raw` prints them. src/btf/raw.ts is its glue.
 */
import {
  checkString,
  clearError,
  ERR_REFERENCE,
  fail,
  K_ARRAY,
  K_DATASEC,
  K_DECL_TAG,
  K_ENUM,
  K_ENUM64,
  K_FLOAT,
  K_FUNC,
  K_FUNC_PROTO,
  K_FWD,
  K_INT,
  K_STRUCT,
  K_UNION,
  K_VAR,
  N,
  o,
  SLEN,
  w,
} from "./memory.as";
import { endOutput, num, startOutput, text, word } from "./output.as";

/** A kind's name (`UNKNOWN` for 0, void), followed by a space. */
function kindName(k: u32): void {
  switch (k) {
    case 1:
      word("INT ");
      break;
    case 2:
      word("PTR ");
      break;
    case 3:
      word("ARRAY ");
      break;
    case 4:
      word("STRUCT ");
      break;
    case 5:
      word("UNION ");
      break;
    case 6:
      word("ENUM ");
      break;
    case 7:
      word("FWD ");
      break;
    case 8:
      word("TYPEDEF ");
      break;
    case 9:
      word("VOLATILE ");
      break;
    case 10:
      word("CONST ");
      break;
    case 11:
      word("RESTRICT ");
      break;
    case 12:
      word("FUNC ");
      break;
    case 13:
      word("FUNC_PROTO ");
      break;
    case 14:
      word("VAR ");
      break;
    case 15:
      word("DATASEC ");
      break;
    case 16:
      word("FLOAT ");
      break;
    case 17:
      word("DECL_TAG ");
      break;
    case 18:
      word("TYPE_TAG ");
      break;
    case 19:
      word("ENUM64 ");
      break;
    default:
      word("UNKNOWN ");
  }
}

/** A label (` size=`, say) and a number. */
function field(label: string, x: u64): void {
  word(label);
  num(x);
}

/** A name in quotes, or '(anon)' for offset 0. */
function quoted(off: u32): void {
  if (off === 0) {
    word("'(anon)'");
    return;
  }
  // checked first: nothing is written for a name past the strings
  if (off >= SLEN) checkString(off);
  word("'");
  text(off);
  word("'");
}

/** A 32-bit value read as signed. */
function signed(x: u32): void {
  if (x >= 0x80000000) {
    const magnitude: u32 = 0 - x;
    field("-", magnitude);
  } else {
    num(x);
  }
}

function linkage(l: u32): void {
  word(l === 0 ? "static" : l === 1 ? "global" : l === 2 ? "extern" : "UNKN");
}

/** Members, values and parameters: the tab-indented lines after a type's own. */
function items(p: u32, k: u32, vlen: u32, flag: bool): void {
  if (k === K_STRUCT || k === K_UNION) {
    for (let m = p + 3, end = m + 3 * vlen; m < end; m += 3) {
      const bits = w(m + 2);
      word("\n\t");
      quoted(w(m));
      field(" type_id=", w(m + 1));
      field(" bits_offset=", flag ? bits & 0xffffff : bits);
      if (flag && bits >>> 24 !== 0) {
        field(" bitfield_size=", bits >>> 24);
      }
    }
  } else if (k === K_FUNC_PROTO) {
    for (let m = p + 3, end = m + 2 * vlen; m < end; m += 2) {
      word("\n\t");
      quoted(w(m));
      field(" type_id=", w(m + 1));
    }
  } else if (k === K_ENUM) {
    for (let m = p + 3, end = m + 2 * vlen; m < end; m += 2) {
      word("\n\t");
      quoted(w(m));
      word(" val=");
      if (flag) signed(w(m + 1));
      else num(w(m + 1));
    }
  } else {
    for (let m = p + 3, end = m + 3 * vlen; m < end; m += 3) {
      word("\n\t");
      quoted(w(m));
      word(" val=");
      const v = ((<u64>w(m + 2)) << 32) | <u64>w(m + 1);
      if (flag && <i64>v < 0) {
        field("-", 0 - v);
      } else {
        num(v);
      }
      word(flag ? "LL" : "ULL");
    }
  }
}

/** A section's variables: `type_id=N offset=N size=N (KIND 'name')` each. */
function datasec(p: u32, id: u32, vlen: u32): void {
  for (let m = p + 3, end = m + 3 * vlen; m < end; m += 3) {
    const t = w(m);
    if (t >= N) fail(ERR_REFERENCE, <f64>t, <f64>(N - 1), <i32>id);
    field("\n\ttype_id=", t);
    field(" offset=", w(m + 1));
    field(" size=", w(m + 2));
    word(" (");
    // void (id 0) has no words: its kind is 0 and it has no name
    kindName(t === 0 ? 0 : (w(o(t) + 1) >>> 24) & 0x1f);
    quoted(t === 0 ? 0 : w(o(t)));
    word(")");
  }
}

/** One type's entry (without the final newline). */
function entry(id: u32): void {
  const p = o(id);
  const info = w(p + 1);
  const k = (info >>> 24) & 0x1f;
  const vlen = info & 0xffff;
  const flag = info >>> 31 === 1;
  const st = w(p + 2);
  field("[", id);
  word("] ");
  kindName(k);
  quoted(w(p));
  switch (k) {
    case K_INT: {
      const e = w(p + 3);
      field(" size=", st);
      field(" bits_offset=", (e >>> 16) & 0xff);
      field(" nr_bits=", e & 0xff);
      word(" encoding=");
      const enc = e >>> 24;
      word(enc === 0 ? "(none)" : enc === 1 ? "SIGNED" : enc === 2 ? "CHAR" : enc === 4 ? "BOOL" : "UNKN");
      break;
    }
    case K_ARRAY:
      field(" type_id=", w(p + 3));
      field(" index_type_id=", w(p + 4));
      field(" nr_elems=", w(p + 5));
      break;
    case K_STRUCT:
    case K_UNION:
      field(" size=", st);
      field(" vlen=", vlen);
      items(p, k, vlen, flag);
      break;
    case K_ENUM:
    case K_ENUM64:
      word(flag ? " encoding=SIGNED size=" : " encoding=UNSIGNED size=");
      num(st);
      field(" vlen=", vlen);
      items(p, k, vlen, flag);
      break;
    case K_FWD:
      word(flag ? " fwd_kind=union" : " fwd_kind=struct");
      break;
    case K_FUNC:
      field(" type_id=", st);
      word(" linkage=");
      linkage(vlen);
      break;
    case K_FUNC_PROTO:
      field(" ret_type_id=", st);
      field(" vlen=", vlen);
      items(p, k, vlen, flag);
      break;
    case K_VAR:
      field(" type_id=", st);
      word(", linkage=");
      linkage(w(p + 3));
      break;
    case K_DATASEC:
      field(" size=", st);
      field(" vlen=", vlen);
      datasec(p, id, vlen);
      break;
    case K_FLOAT:
      field(" size=", st);
      break;
    case K_DECL_TAG:
      field(" type_id=", st);
      word(" component_idx=");
      signed(w(p + 3));
      break;
    default: // ptr, typedef, modifiers, type tag
      field(" type_id=", st);
  }
}

/**
 * Lists types `from` to `to` (not included), each entry ending with a new line; `blob` is the
 * size of the blobs (see startOutput). Returns the listing's length (it starts at outputAt()).
 */
export function printRaw(from: u32, to: u32, blob: u32): u32 {
  // an instance may list again (rawType): from a clean state
  clearError();
  startOutput(0, 0, blob);
  for (let id = from; id < to; id++) {
    entry(id);
    word("\n");
  }
  return endOutput(0);
}
