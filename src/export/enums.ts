/**
 * Enum names for a label from the map's own BTF: the key type (through typedefs and modifiers),
 * and in a struct key the member at the label's bytes; an enum there gives its enumerators.
 * For maps made by clang objects (BTF-defined maps) and any other map created with BTF.
 */
import type { Btf } from "../btf/decode.js";
import { parseKernelBtf, readBtfById } from "../btf/kernel.js";
import type { BpfMap } from "../index.js";

/** What the key's BTF says about the bytes [offset, offset + size): enumerators, or why not. */
export type KeyEnum = { values: Record<string, string> } | { why: string };

/** The BTF of a map: the kernel's copy of what it was created with (needs CAP_SYS_ADMIN by id). */
function mapBtf(map: BpfMap): { btf: Btf; keyTypeId: number } | string {
  const info = map.info();
  if (info.btfId === 0 || info.btfKeyTypeId === 0) return "the map was created without BTF for its key";
  try {
    return { btf: parseKernelBtf(readBtfById(info.btfId)), keyTypeId: info.btfKeyTypeId };
  } catch (e) {
    return `its BTF (id ${info.btfId}) cannot be read: ${(e as Error).message}`;
  }
}

/** The enumerators of the key's bytes [offset, offset + size), by the map's BTF. */
export function keyEnum(map: BpfMap, offset: number, size: number): KeyEnum {
  const got = mapBtf(map);
  if (typeof got === "string") return { why: got };
  const { btf } = got;
  let id = btf.resolve(got.keyTypeId);
  let at = 0;
  for (let depth = 0; depth < 16; depth++) {
    const t = btf.type(id);
    if ((t.kind === "enum" || t.kind === "enum64") && at === offset && t.size === size) {
      const values: Record<string, string> = {};
      for (const v of t.values) values[String(v.value)] = v.name;
      return { values };
    }
    if (t.kind !== "struct" && t.kind !== "union") break;
    const m = t.members.find((x) => {
      if (x.bitfieldSize !== 0 || x.bitOffset % 8 !== 0) return false;
      const start = at + x.bitOffset / 8;
      return start <= offset && offset + size <= start + btf.sizeOf(x.type);
    });
    if (!m) break;
    at += m.bitOffset / 8;
    id = btf.resolve(m.type);
  }
  const t = btf.type(id);
  const what =
    t.kind === "struct" || t.kind === "union"
      ? `inside ${t.kind} '${t.name}' but not one member`
      : "name" in t && t.name !== ""
        ? `'${t.name}' (${t.kind})`
        : `a ${t.kind}`;
  return { why: `the key's bytes ${offset}..${offset + size - 1} are ${what} by the map's BTF, not an enum` };
}
