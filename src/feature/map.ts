/** `probeMapType`: whether the running kernel knows a map type, found by creating one. */
import { type MapTypeName, mapTypeNumber } from "../map/types.js";
import { BpfError } from "../sys/error.js";
import { closeRaw } from "../sys/fd.js";
import { pageSize } from "../sys/libc.js";
import { type MapCreateAttr, mapCreate } from "../sys/map.js";
import { cached } from "./cache.js";
import { epermNote, InconclusiveProbeError } from "./errors.js";
import { loadStorageBtf, STORAGE_KEY_TYPE_ID, STORAGE_VALUE_TYPE_ID } from "./storage-btf.js";
import { meansUnknownType } from "./unknown-type.js";

const BPF_F_NO_PREALLOC = 1 << 0;
const BPF_F_MMAPABLE = 1 << 10;

/** What a map type's probe creates beyond its type: sizes, flags, and whether it needs BTF or an inner map. */
interface MapSetup {
  readonly attr: Omit<MapCreateAttr, "mapType">;
  readonly storageBtf?: boolean;
  readonly innerMap?: boolean;
  /** the errno that proves the type known (struct_ops without a real value type: ENOTSUPP) */
  readonly expect?: string;
}

/** The smallest map of each type the kernel accepts, as libbpf's `probe_map_create` makes it. */
function mapSetup(type: MapTypeName): MapSetup {
  const plain = { keySize: 4, valueSize: 4, maxEntries: 1 };
  switch (type) {
    case "stack_trace":
      return { attr: { ...plain, valueSize: 8 } };
    case "lpm_trie":
      return { attr: { keySize: 8, valueSize: 8, maxEntries: 1, mapFlags: BPF_F_NO_PREALLOC } };
    case "cgroup_storage":
    case "percpu_cgroup_storage":
      // the key is struct bpf_cgroup_storage_key (u64 inode id, u32 attach type: 16 bytes)
      return { attr: { keySize: 16, valueSize: 8, maxEntries: 0 } };
    case "queue":
    case "stack":
      return { attr: { ...plain, keySize: 0 } };
    case "sk_storage":
    case "inode_storage":
    case "task_storage":
    case "cgrp_storage":
      return {
        attr: {
          keySize: 4,
          valueSize: 8,
          maxEntries: 0,
          mapFlags: BPF_F_NO_PREALLOC,
          btfKeyTypeId: STORAGE_KEY_TYPE_ID,
          btfValueTypeId: STORAGE_VALUE_TYPE_ID,
        },
        storageBtf: true,
      };
    case "ringbuf":
    case "user_ringbuf":
      return { attr: { keySize: 0, valueSize: 0, maxEntries: pageSize() } };
    case "struct_ops":
      // a value type id that names no struct_ops type: a kernel that knows the map type says ENOTSUPP
      return { attr: { ...plain, btfVmlinuxValueTypeId: 1 }, expect: "ENOTSUPP" };
    case "bloom_filter":
      return { attr: { ...plain, keySize: 0 } };
    case "arena":
      return { attr: { keySize: 0, valueSize: 0, maxEntries: 1, mapFlags: BPF_F_MMAPABLE, mapExtra: 0 } };
    case "array_of_maps":
    case "hash_of_maps":
      return { attr: plain, innerMap: true };
    default:
      return { attr: plain };
  }
}

/** Creates the map (and what it needs), closes everything, and judges the kernel's answer. */
function probe(type: MapTypeName): boolean {
  const setup = mapSetup(type);
  let btfFd = -1;
  let innerFd = -1;
  let fd = -1;
  let creating = false;
  try {
    if (setup.storageBtf) btfFd = loadStorageBtf();
    if (setup.innerMap) innerFd = mapCreate({ mapType: mapTypeNumber("hash"), ...mapSetup("hash").attr });
    creating = true;
    fd = mapCreate({
      mapType: mapTypeNumber(type),
      ...setup.attr,
      ...(btfFd >= 0 ? { btfFd } : {}),
      ...(innerFd >= 0 ? { innerMapFd: innerFd } : {}),
    });
    return true;
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    if (creating) {
      if (setup.expect && e.errnoName === setup.expect) return true;
      if (meansUnknownType(e.errnoName)) return false;
    }
    throw new InconclusiveProbeError(
      `map type ${type}`,
      `${e.command} was refused with ${e.errnoName}, which does not say whether the type is known ` +
        `(an unknown type is refused with EINVAL)${epermNote(e)}`,
      { cause: e },
    );
  } finally {
    closeRaw(fd);
    closeRaw(innerFd);
    closeRaw(btfFd);
  }
}

/**
 * Whether the running kernel supports maps of `type` (bpftool's name: `"hash"`, `"ringbuf"`),
 * found by creating the smallest map of that type and closing it: the key and value sizes and
 * flags each type needs (a ring buffer of one page, a bloom filter without a key, local storage
 * with its BTF, a map-in-map with an inner map), as libbpf probes them. `struct_ops` is known
 * when the kernel answers ENOTSUPP to a value type that names no struct_ops. The answer is cached
 * for the process ({@link clearProbeCache}).
 *
 * @returns true when the kernel creates the map, false when it says it does not know the type
 * @throws InputError for a name rawbpf does not know, before the kernel is asked
 * @throws InconclusiveProbeError when the kernel's refusal does not tell (EPERM, say)
 */
export function probeMapType(type: MapTypeName | (string & {})): boolean {
  mapTypeNumber(type);
  return cached(`map ${type}`, () => probe(type as MapTypeName));
}
