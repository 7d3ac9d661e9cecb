/**
 * BTF objects in the kernel without reading their types (as `bpftool btf list` lists them), and
 * one type with what it depends on, as a small BTF of its own (`rawbpf btf dump --type NAME`).
 */
import { BpfError, BTF_INFO, Fd, getFdById, objGetInfoByFd, putPtr, putU32 } from "../sys/index.js";
import type { Btf } from "./decode.js";
import { encodeBtf } from "./encode.js";
import { BtfError } from "./errors.js";
import { StringTable } from "./strings.js";
import type { BtfType } from "./types.js";

/** A BTF object as the kernel describes it (BPF_OBJ_GET_INFO_BY_FD), without its types. */
export interface BtfObjectInfo {
  id: number;
  /** size of the blob in bytes */
  size: number;
  /** "vmlinux", a module's name, or "" for a program's or map's BTF */
  name: string;
  /** whether it is the kernel's or a module's */
  kernel: boolean;
}

/** The info of BTF object `id`, or undefined when there is none (any more). */
export function btfObjectInfo(id: number): BtfObjectInfo | undefined {
  let raw: number;
  try {
    raw = getFdById("btf", id, 0, { what: `for BTF id ${id}` });
  } catch (e) {
    if (e instanceof BpfError && e.errnoName === "ENOENT") return undefined;
    throw e;
  }
  using fd = new Fd(raw, `BTF object ${id}`);
  const info = Buffer.alloc(BTF_INFO.size);
  const name = Buffer.alloc(64);
  putPtr(info, BTF_INFO.offset.name, name);
  putU32(info, BTF_INFO.offset.name_len, name.length, "name length");
  objGetInfoByFd(fd.value, info, { what: `of BTF id ${id}` });
  const end = name.indexOf(0);
  return {
    id: info.readUInt32LE(BTF_INFO.offset.id),
    size: info.readUInt32LE(BTF_INFO.offset.btf_size),
    name: name.toString("utf8", 0, end < 0 ? name.length : end),
    kernel: info.readUInt32LE(BTF_INFO.offset.kernel_btf) !== 0,
  };
}

/** Types that only qualify or rename another: followed to see what a pointer points at. */
const THROUGH = new Set(["typedef", "const", "volatile", "restrict", "type_tag"]);

/**
 * The ids of the types `roots` need, roots included, in id order: everything they hold by value,
 * transitively. A struct or union reached only through a pointer needs no more than its name, so
 * it is listed in `declared` and its members are not followed.
 */
export function typeClosure(btf: Btf, roots: readonly number[]): { ids: number[]; declared: Set<number> } {
  const full = new Set<number>();
  const declared = new Set<number>();
  const visit = (id: number, viaPointer: boolean, depth: number): void => {
    if (id === 0 || full.has(id) || depth > 4096) return;
    const t = btf.type(id);
    if (viaPointer && (t.kind === "struct" || t.kind === "union")) {
      declared.add(id);
      return;
    }
    full.add(id);
    declared.delete(id);
    const ptr = t.kind === "ptr" || (viaPointer && THROUGH.has(t.kind));
    for (const r of btf.references(id)) visit(r, ptr, depth + 1);
  };
  for (const r of roots) visit(r, false, 0);
  const ids = [...new Set([...full, ...declared])].sort((a, b) => a - b);
  return { ids, declared };
}

/** Rewrites the type ids a type refers to. */
function remap(t: BtfType, to: (id: number) => number): BtfType {
  const x = { ...t } as Record<string, unknown>;
  for (const f of ["type", "indexType", "returnType"])
    if (typeof x[f] === "number") x[f] = to(x[f] as number);
  for (const f of ["members", "params", "vars"])
    if (Array.isArray(x[f])) x[f] = (x[f] as { type: number }[]).map((m) => ({ ...m, type: to(m.type) }));
  return x as unknown as BtfType;
}

/**
 * A BTF blob of the types `ids` only (from {@link typeClosure}), renumbered from 1 in the same
 * order; the `declared` structs and unions become forward declarations. Returns the blob and the
 * new id of each old one.
 * @throws BtfError when a type refers to one outside `ids`
 */
export function subsetBtf(
  btf: Btf,
  ids: readonly number[],
  declared: ReadonlySet<number>,
): { blob: Uint8Array; newIds: Map<number, number> } {
  const newIds = new Map<number, number>();
  for (let i = 0; i < ids.length; i++) newIds.set(ids[i]!, i + 1);
  const to = (id: number): number => {
    if (id === 0) return 0;
    const n = newIds.get(id);
    if (n === undefined) throw new BtfError(`type ${id} is needed but was not collected`, { typeId: id });
    return n;
  };
  const types = ids.map((id): BtfType => {
    const t = btf.type(id);
    if (declared.has(id) && (t.kind === "struct" || t.kind === "union"))
      return { kind: "fwd", name: t.name, union: t.kind === "union" };
    return remap(t, to);
  });
  return { blob: encodeBtf(types, new StringTable()), newIds };
}
