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
