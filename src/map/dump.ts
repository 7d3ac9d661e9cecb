/**
 * Dumping a map as structured values, the way `bpftool map dump` does when the map has BTF: the
 * map's BTF is fetched from the kernel by id and each key and value is formatted by its type
 * (structs become objects with field names).
 */
import type { Btf } from "../btf/decode.js";
import { parseKernelBtf, readBtfById } from "../btf/kernel.js";
import { type BtfValue, formatValue } from "../btf/value.js";
import { InputError } from "../sys/error.js";
import { Fd } from "../sys/fd.js";
import { mapGetNextKey, mapLookupElem } from "../sys/map.js";
import { readMapInfo } from "./info.js";

/** One entry of a dump: the key and the value, formatted by their BTF types. */
export interface DumpedEntry {
  key: BtfValue;
  value: BtfValue;
}

/** Options of {@link dumpMap}. */
export interface DumpMapOptions {
  /** the map's BTF, when already parsed (else read from the kernel by the map's btf_id) */
  btf?: Btf;
  /** lookup flags: `BPF_F_LOCK` (4) reads a value with a bpf_spin_lock under its lock */
  lookupFlags?: number;
}

/**
 * Every entry of a map with BTF, as structured values.
 * @throws InputError when the map was created without BTF for its key and value
 */
export function dumpMap(
  map: number | Fd | { readonly fd: number | Fd },
  options: DumpMapOptions = {},
): DumpedEntry[] {
  const fd = fdOfMap(map);
  const info = readMapInfo(fd, { what: "map" });
  if (info.btfId === 0 || info.btfValueTypeId === 0) {
    throw new InputError(
      `map${info.name ? ` '${info.name}'` : ""} (id ${info.id}) has no BTF for its values: ` +
        "create it with btfFd, btfKeyTypeId and btfValueTypeId to dump structured values",
    );
  }
  const btf = options.btf ?? parseKernelBtf(readBtfById(info.btfId));
  const key = Buffer.alloc(Math.max(info.keySize, 1));
  const next = Buffer.alloc(Math.max(info.keySize, 1));
  const value = Buffer.alloc(info.valueSize);
  const out: DumpedEntry[] = [];
  let first = true;
  while (mapGetNextKey(fd, first ? undefined : key, next)) {
    first = false;
    next.copy(key);
    if (!mapLookupElem(fd, key, value, options.lookupFlags ?? 0)) continue;
    out.push({
      key:
        info.btfKeyTypeId === 0
          ? Buffer.from(key.subarray(0, info.keySize)).toString("hex")
          : formatValue(btf, info.btfKeyTypeId, key),
      value: formatValue(btf, info.btfValueTypeId, value),
    });
  }
  return out;
}

function fdOfMap(map: number | Fd | { readonly fd: number | Fd }): number {
  const x = typeof map === "object" && map !== null && !(map instanceof Fd) ? map.fd : map;
  const fd = x instanceof Fd ? x.value : x;
  if (!Number.isInteger(fd) || fd < 0)
    throw new InputError("dumpMap needs a map (a BpfMap, an Fd or a descriptor)");
  return fd;
}
