/** Map types by their bpftool names (enum bpf_map_type, lower case without BPF_MAP_TYPE_). */
import { InputError } from "../sys/error.js";

/** Kernel numbers of map types (enum bpf_map_type, Linux 6.18). */
export const MAP_TYPES = Object.freeze({
  hash: 1,
  array: 2,
  prog_array: 3,
  perf_event_array: 4,
  percpu_hash: 5,
  percpu_array: 6,
  stack_trace: 7,
  cgroup_array: 8,
  lru_hash: 9,
  lru_percpu_hash: 10,
  lpm_trie: 11,
  array_of_maps: 12,
  hash_of_maps: 13,
  devmap: 14,
  sockmap: 15,
  cpumap: 16,
  xskmap: 17,
  sockhash: 18,
  cgroup_storage: 19,
  reuseport_sockarray: 20,
  percpu_cgroup_storage: 21,
  queue: 22,
  stack: 23,
  sk_storage: 24,
  devmap_hash: 25,
  struct_ops: 26,
  ringbuf: 27,
  inode_storage: 28,
  task_storage: 29,
  bloom_filter: 30,
  user_ringbuf: 31,
  cgrp_storage: 32,
  arena: 33,
} as const);

/** A map type name as bpftool spells it: `"hash"`, `"percpu_array"`, `"ringbuf"`, ... */
export type MapTypeName = keyof typeof MAP_TYPES;

/** Every map type name, in kernel order. */
export const MAP_TYPE_NAMES: readonly MapTypeName[] = Object.freeze(Object.keys(MAP_TYPES) as MapTypeName[]);

const BY_NUMBER: string[] = [];
for (const name of MAP_TYPE_NAMES) BY_NUMBER[MAP_TYPES[name]] = name;

/** The kernel number of a map type name; InputError for an unknown name. */
export function mapTypeNumber(name: string): number {
  const n = (MAP_TYPES as Record<string, number>)[name];
  if (n === undefined || !Object.hasOwn(MAP_TYPES, name)) {
    throw new InputError(
      `unknown map type ${JSON.stringify(name)}: expected one of ${MAP_TYPE_NAMES.join(", ")} (bpftool's names)`,
    );
  }
  return n;
}

/** The name of a kernel map type number, or `undefined` for a number this table does not know. */
export function mapTypeName(type: number): MapTypeName | undefined {
  return BY_NUMBER[type] as MapTypeName | undefined;
}

/** Map types whose values are one per possible CPU. */
export const PERCPU_TYPES = Object.freeze([
  "percpu_hash",
  "percpu_array",
  "lru_percpu_hash",
  "percpu_cgroup_storage",
] as const);
/** Per-CPU map type names. */
export type PerCpuTypeName = (typeof PERCPU_TYPES)[number];

/** Map types whose values are other maps. */
export const MAP_OF_MAPS_TYPES = Object.freeze(["array_of_maps", "hash_of_maps"] as const);
/** Map-in-map type names. */
export type MapOfMapsTypeName = (typeof MAP_OF_MAPS_TYPES)[number];

/** Whether a map type keeps one value per possible CPU. */
export function isPerCpu(type: string): type is PerCpuTypeName {
  return (PERCPU_TYPES as readonly string[]).includes(type);
}

/** Whether a map type holds other maps. */
export function isMapOfMaps(type: string): type is MapOfMapsTypeName {
  return (MAP_OF_MAPS_TYPES as readonly string[]).includes(type);
}
