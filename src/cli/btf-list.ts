/**
 * `rawbpf btf list | show ID [--json]` (the BTF objects in the kernel, as bpftool btf list shows
 * them) and `rawbpf btf dump ... --type NAME` (one type and what it depends on). Loaded by btf.ts
 * only for these verbs.
 */
import type { Btf } from "../btf/decode.js";
import { type BtfObjectInfo, btfObjectInfo, subsetBtf, typeClosure } from "../btf/list.js";
import { listMaps, NoSuchObjectError } from "../map/list.js";
import { listPrograms } from "../program/list.js";
import { InputError } from "../sys/error.js";
import { allIds } from "../sys/obj.js";
import { type CliIo, UsageError } from "./io.js";
import { json, takeId } from "./prog.js";

/** Program and map ids by the BTF id they use. */
function users(): { progs: Map<number, number[]>; maps: Map<number, number[]> } {
  const progs = new Map<number, number[]>();
  const maps = new Map<number, number[]>();
  for (const p of listPrograms())
    if (p.btfId) (progs.get(p.btfId) ?? progs.set(p.btfId, []).get(p.btfId)!).push(p.id);
  for (const m of listMaps())
    if (m.btfId) (maps.get(m.btfId) ?? maps.set(m.btfId, []).get(m.btfId)!).push(m.id);
  return { progs, maps };
}

/** A BTF object as `bpftool -j btf show` prints it, field for field. */
function btfJson(b: BtfObjectInfo, u: ReturnType<typeof users>): Record<string, unknown> {
  const o: Record<string, unknown> = {
    id: b.id,
    size: b.size,
    prog_ids: u.progs.get(b.id) ?? [],
    map_ids: u.maps.get(b.id) ?? [],
    kernel: b.kernel,
  };
  if (b.name) o.name = b.name;
  return o;
}

function btfText(b: BtfObjectInfo, u: ReturnType<typeof users>): string {
  const parts = [`${b.id}: name ${b.name ? `[${b.name}]` : "<anon>"}`, `size ${b.size}B`];
  const progs = u.progs.get(b.id);
  const maps = u.maps.get(b.id);
  if (progs) parts.push(`prog_ids ${progs.join(",")}`);
  if (maps) parts.push(`map_ids ${maps.join(",")}`);
  return `${parts.join("  ")}\n`;
}

/** Runs `rawbpf btf list` and `rawbpf btf show ID`. */
export function listBtf(verb: "list" | "show", rest: string[], asJson: boolean, io: CliIo): number {
  let infos: BtfObjectInfo[];
  if (verb === "list" || rest.length === 0) {
    if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
    infos = [];
    for (const id of allIds("btf")) {
      const b = btfObjectInfo(id);
      if (b) infos.push(b);
    }
  } else {
    const [id, more] = takeId(rest, "BTF");
    if (more.length > 0) throw new UsageError(`unexpected argument '${more[0]}'`);
    const b = btfObjectInfo(id);
    if (!b) throw new NoSuchObjectError("btf", id);
    infos = [b];
  }
  const u = users();
  if (asJson) {
    const out = infos.map((b) => btfJson(b, u));
    io.stdout(`${json(verb === "show" && rest.length > 0 ? out[0] : out)}\n`);
  } else io.stdout(infos.map((b) => btfText(b, u)).join(""));
  return 0;
}

/** Prints the types named `name` and what they depend on, in `format`. */
export async function dumpType(btf: Btf, name: string, format: string, io: CliIo): Promise<void> {
  const roots = btf
    .findIds(name)
    .filter((id) => btf.kindName(id) !== "fwd" || btf.findIds(name).length === 1);
  if (roots.length === 0)
    throw new InputError(
      `no type named '${name}' in this BTF (names are as in C, without 'struct': task_struct)`,
    );
  const { ids, declared } = typeClosure(btf, roots);
  if (format === "raw") {
    const { rawType } = await import("../btf/raw.js");
    io.stdout(`${ids.map((id) => rawType(btf, id)).join("\n")}\n`);
    return;
  }
  if (format === "json") {
    io.stdout(`${json(ids.map((id) => ({ id, ...btf.type(id) })))}\n`);
    return;
  }
  const { Btf: BtfClass } = await import("../btf/decode.js");
  const { formatCBytes } = await import("../btf/c.js");
  const { blob } = subsetBtf(btf, ids, declared);
  const guard = `__${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_H__`;
  io.stdoutBytes(formatCBytes(BtfClass.parse(blob), { guard, preserveAccessIndex: false }));
}
