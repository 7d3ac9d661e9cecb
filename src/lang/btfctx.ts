/**
 * Contexts and kernel pointers typed from the kernel's BTF: the arguments of a raw tracepoint
 * (`btf_trace_NAME`: `ctx.p` is a `task_struct *`), and the members of the structs kernel
 * pointers point to (`task.comm`, `task.real_parent.tgid`), anonymous unions included.
 */
import type { Btf } from "../btf/decode.js";
import { INT_SIGNED } from "../btf/kinds.js";
import type { ContextField, ContextSpec } from "./kernel.js";
import { I64, INT_TYPES, type IntType, U32, U64 } from "./types.js";

// These read the kernel's types word by word (kindName, sizeOrTypeOf, extraWord) rather than
// through btf.type(), which decodes a whole type: task_struct's hundreds of member names each
// time a member of it is looked up.

/** Skips typedefs and qualifiers. */
export function resolveType(btf: Btf, id: number): number {
  let cur = id;
  for (let n = 0; n < 64; n++) {
    const k = btf.kindName(cur);
    if (k === "typedef" || k === "const" || k === "volatile" || k === "restrict" || k === "type_tag")
      cur = btf.sizeOrTypeOf(cur);
    else return cur;
  }
  return cur;
}

/** An integer type of a BTF int or enum, when it is 1, 2, 4 or 8 bytes. */
export function btfInt(btf: Btf, id: number): IntType | undefined {
  const r = resolveType(btf, id);
  const k = btf.kindName(r);
  const size = btf.sizeOrTypeOf(r);
  if (k === "int")
    return INT_TYPES.get(`${(btf.extraWord(r, 0) >>> 24) & INT_SIGNED ? "i" : "u"}${size * 8}`);
  if (k === "enum" || k === "enum64") return size === 8 ? U64 : U32;
  return undefined;
}

/** The struct or union a pointer type points to (its id), if it does. */
export function pointee(btf: Btf, id: number): number | undefined {
  const p = resolveType(btf, id);
  if (btf.kindName(p) !== "ptr") return undefined;
  const to = resolveType(btf, btf.sizeOrTypeOf(p));
  const k = btf.kindName(to);
  return k === "struct" || k === "union" ? to : undefined;
}

/** A member found by {@link findMember}. */
export interface FoundMember {
  /** byte offset from the struct's start (a bitfield's is not whole) */
  readonly offset: number;
  readonly type: number;
  /** it is a bitfield (its value is `bitSize` bits at `bitOffset`) */
  readonly bitfield: boolean;
  /** bit offset from the struct's start */
  readonly bitOffset: number;
  /** the bitfield's width in bits (0 for a plain member) */
  readonly bitSize: number;
}

/** A member of a struct or union by name, looking into anonymous members: its offset and type. */
export function findMember(btf: Btf, structId: number, name: string): FoundMember | undefined {
  const kind = btf.kindName(structId);
  if (kind !== "struct" && kind !== "union") return undefined;
  const flag = btf.kindFlagOf(structId);
  const vlen = btf.vlenOf(structId);
  for (let i = 0; i < vlen; i++) {
    const nameOff = btf.extraWord(structId, 3 * i);
    const type = btf.extraWord(structId, 3 * i + 1);
    const o = btf.extraWord(structId, 3 * i + 2);
    const memberBitOffset = flag ? o & 0xffffff : o;
    if (btf.stringIs(nameOff, name)) {
      let bitOffset = memberBitOffset;
      let bitSize = flag ? o >>> 24 : 0;
      // a struct without kind_flag says a bitfield's width and place in its int type
      const it = resolveType(btf, type);
      if (bitSize === 0 && btf.kindName(it) === "int") {
        const e = btf.extraWord(it, 0);
        const bits = e & 0xff;
        const at = (e >>> 16) & 0xff;
        if (bits !== btf.sizeOrTypeOf(it) * 8 || at !== 0) {
          bitOffset += at;
          bitSize = bits;
        }
      }
      return {
        offset: bitOffset / 8,
        type,
        bitfield: bitSize !== 0 || bitOffset % 8 !== 0,
        bitOffset,
        bitSize,
      };
    }
    if (btf.stringIs(nameOff, "")) {
      const inner = findMember(btf, resolveType(btf, type), name);
      if (inner !== undefined)
        return {
          ...inner,
          offset: inner.offset + memberBitOffset / 8,
          bitOffset: inner.bitOffset + memberBitOffset,
        };
    }
  }
  return undefined;
}

/**
 * How a bitfield is read, as libbpf's BPF_CORE_READ_BITFIELD does it (little-endian): load
 * `loadSize` bytes at `byteOffset` (the smallest naturally aligned word of at least the field's
 * type that holds all its bits), shift left by `lshift` so that its top bit is bit 63, then right
 * by `rshift` (arithmetic for a signed field, which sign-extends it).
 */
export function bitfieldAccess(
  bitOffset: number,
  bitSize: number,
  typeSize: number,
): { byteOffset: number; loadSize: number; lshift: number; rshift: number } | undefined {
  let size = typeSize;
  let byteOffset = Math.floor(bitOffset / 8 / size) * size;
  while (bitOffset + bitSize - byteOffset * 8 > size * 8) {
    if (size >= 8) return undefined;
    size *= 2;
    byteOffset = Math.floor(bitOffset / 8 / size) * size;
  }
  return {
    byteOffset,
    loadSize: size,
    lshift: 64 - (bitOffset + bitSize - byteOffset * 8),
    rshift: 64 - bitSize,
  };
}

/** The name of a struct for messages: `task_struct`. */
export function structName(btf: Btf, id: number): string {
  const name = btf.nameOf(id);
  return `${btf.kindName(id)} ${name || "(anonymous)"}`;
}

/**
 * The context of a raw tracepoint program (raw_tp, tp_btf) on `name`: its arguments by the
 * names of `btf_trace_NAME`'s prototype, each a u64 slot; kernel pointers to structs carry their
 * BTF id. The BTF id of the typedef is what a tp_btf load attaches to.
 */
export function rawTracepointContext(
  btf: Btf,
  name: string,
  direct: boolean,
): { spec: ContextSpec; btfId: number } {
  const id = btf.findId(`btf_trace_${name}`, "typedef");
  if (id === undefined)
    throw new Error(`the kernel's BTF has no raw tracepoint '${name}' (no typedef btf_trace_${name})`);
  const ptr = btf.type(resolveType(btf, id));
  const proto = ptr.kind === "ptr" ? btf.type(resolveType(btf, ptr.type)) : undefined;
  if (proto?.kind !== "func_proto") throw new Error(`btf_trace_${name} is not a function pointer`);
  // the names: from the tracepoint's probe function (__bpf_trace_NAME), whose parameters BTF names
  const probe = btf.findId(`__bpf_trace_${name}`, "func");
  const probeProto = probe === undefined ? undefined : btf.type((btf.type(probe) as { type: number }).type);
  const names =
    probeProto?.kind === "func_proto" && probeProto.params.length === proto.params.length
      ? probeProto.params.map((p) => p.name)
      : [];
  const fields = new Map<string, ContextField>();
  proto.params.slice(1).forEach((p, i) => {
    const kernel = pointee(btf, p.type);
    const int = btfInt(btf, p.type);
    const field: ContextField =
      kernel !== undefined
        ? { offset: 8 * i, type: U64, kernel }
        : { offset: 8 * i, type: int ?? (p.type === 0 ? I64 : U64) };
    fields.set(names[i + 1] || p.name || `arg${i}`, field);
    // and by position, as bpftrace's args: arg0, arg1...
    if (!fields.has(`arg${i}`)) fields.set(`arg${i}`, field);
  });
  return {
    spec: {
      struct: `btf_trace_${name}`,
      typeName: "RawTracepointContext",
      fields,
      packet: { kind: "none" },
      direct,
    },
    btfId: id,
  };
}
