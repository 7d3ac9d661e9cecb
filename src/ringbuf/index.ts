/** Ring buffers (BPF_MAP_TYPE_RINGBUF): the user-space reader. */
export type { RecordCallback, RingRecord } from "./record.js";
export { type RecordsOptions, RingBuffer, type RingBufferSource, type StartOptions } from "./ring.js";
