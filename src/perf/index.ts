/** Perf event arrays (BPF_MAP_TYPE_PERF_EVENT_ARRAY): the user-space reader of bpf_perf_event_output samples. */
export {
  PerfBuffer,
  type PerfBufferOptions,
  type PerfBufferSource,
  type PerfStartOptions,
} from "./reader.js";
export type { PerfLostCallback, PerfRecord, PerfRecordCallback } from "./record.js";
