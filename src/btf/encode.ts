import { BtfError } from "./errors.js";
import {
  BTF_HEADER_SIZE,
  BTF_MAGIC,
  BTF_MAX_VLEN,
  BTF_VERSION,
  INT_BOOL,
  INT_CHAR,
  INT_SIGNED,
  Kind,
} from "./kinds.js";
import type { StringTable } from "./strings.js";
import type { BtfType, Linkage } from "./types.js";

const LINKAGE: Record<Linkage, number> = { static: 0, global: 1, extern: 2 };

function recordSize(t: BtfType): number {
  switch (t.kind) {
    case "int":
    case "var":
    case "decl_tag":
      return 16;
    case "array":
      return 24;
    case "struct":
    case "union":
      return 12 + 12 * t.members.length;
    case "datasec":
      return 12 + 12 * t.vars.length;
    case "enum":
      return 12 + 8 * t.values.length;
    case "enum64":
      return 12 + 12 * t.values.length;
    case "func_proto":
      return 12 + 8 * t.params.length;
    case "void":
      throw new BtfError("void is type id 0 and cannot be encoded as a type");
    default:
      return 12;
  }
}

function u32(value: number, what: string, id: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new BtfError(`${what} ${value} does not fit in 32 unsigned bits`, { typeId: id });
  }
  return value;
}

function vlen(n: number, id: number): number {
  if (n > BTF_MAX_VLEN)
    throw new BtfError(`${n} members/values/params is more than BTF allows (65535)`, { typeId: id });
  return n;
}

/**
 * Encodes types (ids `firstId`, `firstId + 1`, ...) and a string table into a BTF blob: the 24-byte
 * header (magic 0xeb9f, version 1), the type section, then the string section.
 * Names are added to `strings` as they are met.
 */
export function encodeBtf(types: readonly BtfType[], strings: StringTable, firstId = 1): Uint8Array {
  let typeLen = 0;
  for (const t of types) typeLen += recordSize(t);
  const typeBytes = new Uint8Array(typeLen);
  const v = new DataView(typeBytes.buffer);
  let at = 0;
  const put = (x: number) => {
    v.setUint32(at, x >>> 0, true);
    at += 4;
  };
  const head = (t: BtfType, kind: number, n: number, flag: boolean, sizeOrType: number, id: number) => {
    put(strings.add(t.name));
    put(((kind << 24) | (flag ? 0x80000000 : 0) | vlen(n, id)) >>> 0);
    put(u32(sizeOrType, "size or type", id));
  };
  for (let i = 0; i < types.length; i++) {
    const t = types[i]!;
    const id = firstId + i;
    switch (t.kind) {
      case "int": {
        head(t, Kind.INT, 0, false, t.size, id);
        if (t.bits > 128 || t.bitOffset > 255 || t.bits < 0 || t.bitOffset < 0) {
          throw new BtfError(`int bits ${t.bits} / offset ${t.bitOffset} out of range`, { typeId: id });
        }
        const enc = (t.signed ? INT_SIGNED : 0) | (t.char ? INT_CHAR : 0) | (t.bool ? INT_BOOL : 0);
        put((enc << 24) | (t.bitOffset << 16) | t.bits);
        break;
      }
      case "ptr":
        head(t, Kind.PTR, 0, false, t.type, id);
        break;
      case "typedef":
        head(t, Kind.TYPEDEF, 0, false, t.type, id);
        break;
      case "volatile":
        head(t, Kind.VOLATILE, 0, false, t.type, id);
        break;
      case "const":
        head(t, Kind.CONST, 0, false, t.type, id);
        break;
      case "restrict":
        head(t, Kind.RESTRICT, 0, false, t.type, id);
        break;
      case "type_tag":
        head(t, Kind.TYPE_TAG, 0, t.attribute, t.type, id);
        break;
      case "array":
        head(t, Kind.ARRAY, 0, false, 0, id);
        put(u32(t.type, "element type", id));
        put(u32(t.indexType, "index type", id));
        put(u32(t.length, "array length", id));
        break;
      case "struct":
      case "union":
        head(t, t.kind === "struct" ? Kind.STRUCT : Kind.UNION, t.members.length, t.bitfields, t.size, id);
        for (const m of t.members) {
          put(strings.add(m.name));
          put(u32(m.type, "member type", id));
          if (t.bitfields) {
            if (m.bitOffset > 0xffffff || m.bitfieldSize > 0xff || m.bitOffset < 0 || m.bitfieldSize < 0) {
              throw new BtfError(`member ${m.name}: bit offset or bitfield size out of range`, {
                typeId: id,
              });
            }
            put((m.bitfieldSize << 24) | m.bitOffset);
          } else {
            if (m.bitfieldSize !== 0) {
              throw new BtfError(`member ${m.name} is a bitfield but the struct's bitfields flag is off`, {
                typeId: id,
              });
            }
            put(u32(m.bitOffset, "member bit offset", id));
          }
        }
        break;
      case "enum":
        head(t, Kind.ENUM, t.values.length, t.signed, t.size, id);
        for (const e of t.values) {
          if (!Number.isInteger(e.value) || e.value < -0x80000000 || e.value > 0xffffffff) {
            throw new BtfError(`enumerator ${e.name} = ${e.value} does not fit in 32 bits`, { typeId: id });
          }
          put(strings.add(e.name));
          put(e.value);
        }
        break;
      case "enum64":
        head(t, Kind.ENUM64, t.values.length, t.signed, t.size, id);
        for (const e of t.values) {
          if (e.value < -(1n << 63n) || e.value >= 1n << 64n) {
            throw new BtfError(`enumerator ${e.name} = ${e.value} does not fit in 64 bits`, { typeId: id });
          }
          const u = BigInt.asUintN(64, e.value);
          put(strings.add(e.name));
          put(Number(u & 0xffffffffn));
          put(Number(u >> 32n));
        }
        break;
      case "fwd":
        head(t, Kind.FWD, 0, t.union, 0, id);
        break;
      case "func":
        head(t, Kind.FUNC, LINKAGE[t.linkage], false, t.type, id);
        break;
      case "func_proto":
        head(t, Kind.FUNC_PROTO, t.params.length, false, t.returnType, id);
        for (const p of t.params) {
          put(strings.add(p.name));
          put(u32(p.type, "parameter type", id));
        }
        break;
      case "var":
        head(t, Kind.VAR, 0, false, t.type, id);
        put(LINKAGE[t.linkage]);
        break;
      case "datasec":
        head(t, Kind.DATASEC, t.vars.length, false, t.size, id);
        for (const sv of t.vars) {
          put(u32(sv.type, "variable type", id));
          put(u32(sv.offset, "variable offset", id));
          put(u32(sv.size, "variable size", id));
        }
        break;
      case "float":
        head(t, Kind.FLOAT, 0, false, t.size, id);
        break;
      case "decl_tag":
        head(t, Kind.DECL_TAG, 0, t.attribute, t.type, id);
        if (!Number.isInteger(t.componentIndex) || t.componentIndex < -1 || t.componentIndex > 0x7fffffff) {
          throw new BtfError(`decl_tag component index ${t.componentIndex} out of range`, { typeId: id });
        }
        put(t.componentIndex);
        break;
      default:
        throw new BtfError(`cannot encode a type of kind ${(t as BtfType).kind}`, { typeId: id });
    }
  }
  const str = strings.bytes();
  const out = new Uint8Array(BTF_HEADER_SIZE + typeLen + str.length);
  const h = new DataView(out.buffer);
  h.setUint16(0, BTF_MAGIC, true);
  h.setUint8(2, BTF_VERSION);
  h.setUint8(3, 0);
  h.setUint32(4, BTF_HEADER_SIZE, true);
  h.setUint32(8, 0, true);
  h.setUint32(12, typeLen, true);
  h.setUint32(16, typeLen, true);
  h.setUint32(20, str.length, true);
  out.set(typeBytes, BTF_HEADER_SIZE);
  out.set(str, BTF_HEADER_SIZE + typeLen);
  return out;
}
