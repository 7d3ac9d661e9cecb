/** Maps: the live `BpfMap`, its spec, type and flag names, and per-CPU helpers. */
export type {
  BatchOptions,
  DeleteBatchResult,
  EntriesBatchResult,
  Fallback,
  RawBatchResult,
  SetBatchResult,
} from "./batch.js";
export { type DumpedEntry, type DumpMapOptions, dumpMap } from "./dump.js";
export {
  MAP_FLAGS,
  type MapFlagName,
  type MapFlags,
  mapFlagNames,
  mapFlagsValue,
  UPDATE_FLAGS,
  type UpdateFlagName,
  type UpdateFlags,
  updateFlagsValue,
} from "./flags.js";
export type { MapInfo } from "./info.js";
export { BpfMap, type OpenOptions } from "./map.js";
export { type HasMapFd, type MapRefCodec, mapRef } from "./mapref.js";
export { type PerCpuCodec, perCpu, possibleCpus } from "./percpu.js";
export type { MapSpec, ValueCodecFor } from "./spec.js";
export { MAP_TYPE_NAMES, MAP_TYPES, type MapTypeName, mapTypeName, mapTypeNumber } from "./types.js";
