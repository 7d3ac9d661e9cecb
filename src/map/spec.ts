/** The plain-data description of a map, and its checks before the kernel is asked. */

import type { BytesCodec } from "../codec/bytes.js";
import type { AnyCodec } from "../codec/codec.js";
import type { MapFlags } from "./flags.js";
import type { MapRefCodec } from "./mapref.js";
import type { PerCpuCodec } from "./percpu.js";
import type { MapOfMapsTypeName, MapTypeName, PerCpuTypeName } from "./types.js";

/**
 * A map's shape as plain data: it can be built, printed and compared without a kernel.
 * `BpfMap.create(spec)` makes the live map.
 *
 * Sizes come from the codecs when given (`key: u32, value: u64`); otherwise `keySize` and
 * `valueSize` say them and keys and values are raw bytes. Map types whose kernel shape is fixed
 * need fewer fields: queue, stack and bloom_filter have no key; ringbuf, user_ringbuf and arena
 * have neither key nor value; array_of_maps / hash_of_maps values are inner maps (4 bytes); the
 * storage maps (sk/inode/task/cgrp_storage, cgroup_storage) default to 0 max entries.
 */
export interface MapSpec<
  T extends MapTypeName = MapTypeName,
  KC extends AnyCodec = BytesCodec,
  VC extends AnyCodec = BytesCodec,
> {
  /** the map type, as bpftool names it: "hash", "array", "percpu_hash", "ringbuf", ... */
  type: T;
  /** the key codec (its size is the key size) */
  key?: KC;
  /** the value codec (for per-CPU maps: the codec of one CPU's value) */
  value?: VC;
  /** key size in bytes, when no key codec is given */
  keySize?: number;
  /** value size in bytes (one CPU's value for per-CPU maps), when no value codec is given */
  valueSize?: number;
  /** the maximum number of elements (for ringbuf: the buffer size in bytes; for arena: pages) */
  maxEntries?: number;
  /** creation flags by name (`["BPF_F_NO_PREALLOC"]`) or as a bit mask */
  flags?: MapFlags;
  /** the kernel name: at most 15 characters of letters, digits, '_' and '.' */
  name?: string;
  /** for array_of_maps / hash_of_maps: the inner map's spec (a template is created and closed) or a live map */
  innerMap?: MapSpec<MapTypeName, AnyCodec, AnyCodec> | { readonly fd: number };
  /** NUMA node to allocate on (sets BPF_F_NUMA_NODE) */
  numaNode?: number;
  /** a BTF descriptor holding the key and value types */
  btfFd?: number;
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  /** struct_ops: the id of `struct bpf_struct_ops_<name>` in vmlinux BTF */
  btfVmlinuxValueTypeId?: number;
  /** bloom_filter: number of hash functions (low 4 bits); arena: the user address to map at */
  mapExtra?: bigint | number;
  /** network device to offload the map to */
  ifindex?: number;
  /**
   * where the map lives: `"kernel"` (the default, BPF_MAP_CREATE) or `"memory"`, an in-process
   * map with the kernel's semantics for programs loaded with `backend: "memory"` (no bpf() call)
   */
  backend?: "kernel" | "memory";
}

/** The value codec a map of type `T` ends up with. */
export type ValueCodecFor<T extends MapTypeName, VC extends AnyCodec> = T extends MapOfMapsTypeName
  ? MapRefCodec
  : T extends PerCpuTypeName
    ? PerCpuCodec<VC>
    : VC;

/** Map types without a key. */
export const KEYLESS_TYPES: readonly string[] = [
  "queue",
  "stack",
  "bloom_filter",
  "ringbuf",
  "user_ringbuf",
  "arena",
];
/** Map types without a value. */
export const VALUELESS_TYPES: readonly string[] = ["ringbuf", "user_ringbuf", "arena"];
/** Map types created with 0 max entries (their size follows the objects they hang off). */
export const ZERO_ENTRY_TYPES: readonly string[] = [
  "cgroup_storage",
  "percpu_cgroup_storage",
  "sk_storage",
  "inode_storage",
  "task_storage",
  "cgrp_storage",
];
/** Local storage maps: the kernel requires BTF for their key (int) and value. */
export const LOCAL_STORAGE_TYPES: readonly string[] = [
  "sk_storage",
  "inode_storage",
  "task_storage",
  "cgrp_storage",
];

/** Shape rules of one map type, as its kernel `map_alloc_check` enforces them (EINVAL or E2BIG otherwise). */
interface ShapeRule {
  /** the only key size the kernel takes */
  key?: number;
  /** key sizes from..to */
  keyRange?: readonly [number, number];
  /** value sizes the kernel takes (any positive size when absent and `valueRange` is absent) */
  value?: readonly number[];
  valueRange?: readonly [number, number];
  /** value size must be a multiple of this */
  valueMultiple?: number;
  /** why, in the kernel's terms */
  why: string;
}

const ARRAY: ShapeRule = { key: 4, why: "array keys are a u32 index" };
const FD_ARRAY: ShapeRule = {
  key: 4,
  value: [4],
  why: "its keys are a u32 index and its values descriptors (u32)",
};
const FD_OR_FD_AND_ID: ShapeRule = {
  key: 4,
  value: [4, 8],
  why: "its keys are a u32 index and its values a u32 (descriptor or id), optionally with a u32 more",
};

/** The per-type shape rules (kernel/bpf/arraymap.c, hashtab.c, lpm_trie.c, devmap.c, cpumap.c, ...). */
const SHAPE_RULES: Readonly<Record<string, ShapeRule>> = {
  array: ARRAY,
  percpu_array: ARRAY,
  prog_array: FD_ARRAY,
  perf_event_array: FD_ARRAY,
  cgroup_array: FD_ARRAY,
  array_of_maps: FD_ARRAY,
  lpm_trie: {
    keyRange: [5, 260],
    why: "an lpm_trie key is a u32 prefix length and 1 to 256 bytes of data",
  },
  stack_trace: { key: 4, valueMultiple: 8, why: "its keys are a u32 stack id and its values u64 addresses" },
  devmap: FD_OR_FD_AND_ID,
  devmap_hash: FD_OR_FD_AND_ID,
  cpumap: FD_OR_FD_AND_ID,
  sockmap: FD_OR_FD_AND_ID,
  reuseport_sockarray: FD_OR_FD_AND_ID,
  xskmap: { key: 4, value: [4], why: "its keys are a u32 index and its values socket descriptors (u32)" },
  sockhash: { value: [4, 8], why: "its values are a socket descriptor (u32), optionally with a u32 more" },
};

/**
 * The sizes and counts a map type refuses, found before the kernel is asked (it would answer a
 * bare EINVAL or E2BIG): no entries, a key or value size its kernel code does not take.
 * Returns the problem in words, or undefined when the kernel's own checks are all that is left.
 */
export function shapeProblem(
  type: string,
  keySize: number,
  valueSize: number,
  maxEntries: number,
): string | undefined {
  if (ZERO_ENTRY_TYPES.includes(type)) {
    if (maxEntries !== 0)
      return `a ${type} map takes maxEntries 0 (its size follows the objects it hangs off), got ${maxEntries}`;
  } else if (maxEntries === 0) {
    return `a ${type} map needs maxEntries of at least 1 (the kernel refuses 0 entries with EINVAL)`;
  }
  const keyed = !KEYLESS_TYPES.includes(type);
  const valued = !VALUELESS_TYPES.includes(type);
  if (keyed && keySize === 0 && type !== "struct_ops" && type !== "arena")
    return `a ${type} map needs a key: keySize 0 is refused`;
  if (valued && valueSize === 0) return `a ${type} map needs a value: valueSize 0 is refused`;
  const rule = SHAPE_RULES[type];
  if (rule === undefined) return undefined;
  if (rule.key !== undefined && keySize !== rule.key)
    return `a ${type} map's keySize must be ${rule.key} (${rule.why}), got ${keySize}`;
  if (rule.keyRange && (keySize < rule.keyRange[0] || keySize > rule.keyRange[1]))
    return `a ${type} map's keySize must be ${rule.keyRange[0]} to ${rule.keyRange[1]} (${rule.why}), got ${keySize}`;
  if (rule.value && !rule.value.includes(valueSize))
    return `a ${type} map's valueSize must be ${rule.value.join(" or ")} (${rule.why}), got ${valueSize}`;
  if (rule.valueMultiple && valueSize % rule.valueMultiple !== 0)
    return `a ${type} map's valueSize must be a multiple of ${rule.valueMultiple} (${rule.why}), got ${valueSize}`;
  return undefined;
}
