/**
 * Formats bytes as a JS value following a BTF type: structs become objects, ints numbers (or
 * bigints past 32 bits), `_Bool` booleans, enums their enumerator's name, char arrays holding
 * NUL-terminated text strings,
 * other arrays arrays, pointers bigint addresses. Used to show map keys and values.
 */
import type { Btf } from "./decode.js";
import { BtfError } from "./errors.js";
import { Kind } from "./kinds.js";

// module-local copies: plain constants, cheaper than property reads in hot loops
const K_ARRAY = Kind.ARRAY;
const K_DATASEC = Kind.DATASEC;
const K_ENUM = Kind.ENUM;
const K_ENUM64 = Kind.ENUM64;
const K_FLOAT = Kind.FLOAT;
const K_INT = Kind.INT;
const K_PTR = Kind.PTR;
const K_STRUCT = Kind.STRUCT;
const K_UNION = Kind.UNION;
const K_VAR = Kind.VAR;

const MAX_DEPTH = 64;
const CHAR_NAMES = new Set(["char", "signed char", "unsigned char"]);
const latin = new TextDecoder("utf-8", { fatal: false });

/** A formatted value. */
export type BtfValue = number | bigint | boolean | string | null | BtfValue[] | { [field: string]: BtfValue };

function readUnsigned(v: DataView, at: number, size: number): bigint {
  let x = 0n;
  for (let i = size - 1; i >= 0; i--) x = (x << 8n) | BigInt(v.getUint8(at + i));
  return x;
}

function intValue(v: DataView, at: number, size: number, signed: boolean): number | bigint {
  switch (size) {
    case 1:
      return signed ? v.getInt8(at) : v.getUint8(at);
    case 2:
      return signed ? v.getInt16(at, true) : v.getUint16(at, true);
    case 4:
      return signed ? v.getInt32(at, true) : v.getUint32(at, true);
    case 8:
      return signed ? v.getBigInt64(at, true) : v.getBigUint64(at, true);
    default: {
      const u = readUnsigned(v, at, size);
      return signed ? BigInt.asIntN(size * 8, u) : u;
    }
  }
}

function bitfield(
  v: DataView,
  at: number,
  bitOffset: number,
  bits: number,
  signed: boolean,
): number | bigint {
  const first = at + (bitOffset >> 3);
  const nbytes = ((bitOffset & 7) + bits + 7) >> 3;
  const raw = readUnsigned(v, first, nbytes) >> BigInt(bitOffset & 7);
  const u = BigInt.asUintN(bits, raw);
  const x = signed ? BigInt.asIntN(bits, u) : u;
  return bits <= 32 ? Number(x) : x;
}

/**
 * The value of type `id` stored at `bytes[offset..]`.
 * @throws BtfError when the bytes are too short for the type, or the type has no size
 */
export function formatValue(btf: Btf, id: number, bytes: Uint8Array, offset = 0): BtfValue {
  const size = btf.sizeOf(id);
  if (offset < 0 || offset + size > bytes.length) {
    throw new BtfError(`${size} bytes of ${btf.kindName(id)} do not fit in ${bytes.length - offset} bytes`, {
      typeId: id,
    });
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  return value(btf, id, v, offset, 0);
}

function value(btf: Btf, id: number, v: DataView, at: number, depth: number): BtfValue {
  if (depth > MAX_DEPTH) throw new BtfError("types nest too deeply: a loop?", { typeId: id });
  id = btf.resolve(id);
  const k = btf.kindOf(id);
  switch (k) {
    case K_INT: {
      const t = btf.type(id);
      if (t.kind !== "int") break;
      if (t.bool) return v.getUint8(at) !== 0;
      if (t.bitOffset !== 0 || t.bits !== t.size * 8) return bitfield(v, at, t.bitOffset, t.bits, t.signed);
      return intValue(v, at, t.size, t.signed);
    }
    case K_PTR:
      return v.getBigUint64(at, true);
    case K_FLOAT: {
      const s = btf.sizeOrTypeOf(id);
      if (s === 4) return v.getFloat32(at, true);
      if (s === 8) return v.getFloat64(at, true);
      return readUnsigned(v, at, s);
    }
    case K_ENUM:
    case K_ENUM64: {
      const t = btf.type(id);
      if (t.kind !== "enum" && t.kind !== "enum64") break;
      const raw = intValue(v, at, t.size, t.signed);
      for (const e of t.values) if (BigInt(e.value) === BigInt(raw)) return e.name;
      return typeof raw === "bigint" ? raw : raw;
    }
    case K_ARRAY: {
      const t = btf.type(id);
      if (t.kind !== "array") break;
      const elem = btf.resolve(t.type);
      const et = btf.type(elem);
      if (et.kind === "int" && et.size === 1 && !et.bool && (et.char || CHAR_NAMES.has(et.name))) {
        // a string when it is NUL-terminated printable text, as bpftool decides
        const raw = new Uint8Array(v.buffer, v.byteOffset + at, t.length);
        const end = raw.indexOf(0);
        if (end >= 0 && raw.subarray(0, end).every((c) => c >= 0x20 && c < 0x7f)) {
          return latin.decode(raw.subarray(0, end));
        }
      }
      const es = btf.sizeOf(elem);
      if (es === 0 && t.length > 0xffff) {
        throw new BtfError(`array of ${t.length} zero-sized elements: malformed BTF?`, { typeId: id });
      }
      const out: BtfValue[] = new Array(t.length);
      for (let i = 0; i < t.length; i++) out[i] = value(btf, elem, v, at + i * es, depth + 1);
      return out;
    }
    case K_STRUCT:
    case K_UNION: {
      const t = btf.type(id);
      if (t.kind !== "struct" && t.kind !== "union") break;
      const out: { [field: string]: BtfValue } = {};
      for (const m of t.members) {
        let x: BtfValue;
        if (m.bitfieldSize > 0) {
          const mt = btf.resolve(m.type);
          const ty = btf.type(mt);
          const signed = (ty.kind === "int" || ty.kind === "enum") && ty.signed;
          x = bitfield(v, at, m.bitOffset, m.bitfieldSize, signed);
        } else {
          x = value(btf, m.type, v, at + m.bitOffset / 8, depth + 1);
        }
        if (m.name === "" && x !== null && typeof x === "object" && !Array.isArray(x)) Object.assign(out, x);
        else out[m.name] = x;
      }
      return out;
    }
    case K_DATASEC: {
      const t = btf.type(id);
      if (t.kind !== "datasec") break;
      const out: { [field: string]: BtfValue } = {};
      for (const sv of t.vars) out[btf.nameOf(sv.type)] = value(btf, sv.type, v, at + sv.offset, depth + 1);
      return out;
    }
    case K_VAR:
      return value(btf, btf.sizeOrTypeOf(id), v, at, depth + 1);
  }
  throw new BtfError(`cannot show a value of a ${btf.kindName(id)}`, { typeId: id });
}
