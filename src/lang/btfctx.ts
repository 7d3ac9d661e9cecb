/**
 * Contexts and kernel pointers typed from the kernel's BTF: the arguments of a raw tracepoint
 * (`btf_trace_NAME`: `ctx.p` is a `task_struct *`), and the members of the structs kernel
 * pointers point to (`task.comm`, `task.real_parent.tgid`), anonymous unions included.
 */
import type { Btf } from "../btf/decode.js";
import type { ContextField, ContextSpec } from "./kernel.js";
import { I64, INT_TYPES, type IntType, U32, U64 } from "./types.js";

/** Skips typedefs and qualifiers. */
export function resolveType(btf: Btf, id: number): number {
  let cur = id;
  for (let n = 0; n < 64; n++) {
    const t = btf.type(cur);
    if (
      t.kind === "typedef" ||
      t.kind === "const" ||
      t.kind === "volatile" ||
      t.kind === "restrict" ||
      t.kind === "type_tag"
    )
      cur = t.type;
    else return cur;
  }
  return cur;
}

/** An integer type of a BTF int or enum, when it is 1, 2, 4 or 8 bytes. */
export function btfInt(btf: Btf, id: number): IntType | undefined {
  const t = btf.type(resolveType(btf, id));
  if (t.kind === "int") return INT_TYPES.get(`${t.signed ? "i" : "u"}${t.size * 8}`);
  if (t.kind === "enum" || t.kind === "enum64") return t.size === 8 ? U64 : U32;
  return undefined;
}

/** The struct or union a pointer type points to (its id), if it does. */
export function pointee(btf: Btf, id: number): number | undefined {
  const t = btf.type(resolveType(btf, id));
  if (t.kind !== "ptr") return undefined;
  const to = resolveType(btf, t.type);
  const k = btf.type(to).kind;
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
  const t = btf.type(structId);
  if (t.kind !== "struct" && t.kind !== "union") return undefined;
  for (const m of t.members) {
    if (m.name === name) {
      let bitOffset = m.bitOffset;
      let bitSize = m.bitfieldSize;
      // a struct without kind_flag says a bitfield's width and place in its int type
      const it = btf.type(resolveType(btf, m.type));
      if (bitSize === 0 && it.kind === "int" && (it.bits !== it.size * 8 || it.bitOffset !== 0)) {
        bitOffset += it.bitOffset;
        bitSize = it.bits;
      }
      return {
        offset: bitOffset / 8,
        type: m.type,
        bitfield: bitSize !== 0 || bitOffset % 8 !== 0,
        bitOffset,
        bitSize,
      };
    }
    if (m.name === "") {
      const inner = findMember(btf, resolveType(btf, m.type), name);
      if (inner !== undefined)
        return { ...inner, offset: inner.offset + m.bitOffset / 8, bitOffset: inner.bitOffset + m.bitOffset };
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
  const t = btf.type(id);
  return `${t.kind} ${"name" in t && t.name ? t.name : "(anonymous)"}`;
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
