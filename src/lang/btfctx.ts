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

/** A member of a struct or union by name, looking into anonymous members: its byte offset and type. */
export function findMember(
  btf: Btf,
  structId: number,
  name: string,
): { offset: number; type: number; bitfield: boolean } | undefined {
  const t = btf.type(structId);
  if (t.kind !== "struct" && t.kind !== "union") return undefined;
  for (const m of t.members) {
    if (m.name === name)
      return {
        offset: m.bitOffset / 8,
        type: m.type,
        bitfield: m.bitfieldSize !== 0 || m.bitOffset % 8 !== 0,
      };
    if (m.name === "") {
      const inner = findMember(btf, resolveType(btf, m.type), name);
      if (inner !== undefined) return { ...inner, offset: inner.offset + m.bitOffset / 8 };
    }
  }
  return undefined;
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
