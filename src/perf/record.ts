/** The sample a {@link PerfBuffer} hands to its callback: the sample's bytes, copied into a buffer the reader reuses. */
import { ReusedRecord } from "../ringbuf/record.js";

/**
 * One sample written by bpf_perf_event_output: its bytes are `bytes[offset .. offset + length)`
 * (or `view` at the same offsets). The reader copies each sample out of the CPU's ring into a
 * buffer of its own (plain JavaScript memory, reused from sample to sample: no allocation per
 * sample), so the sample is safe to read and to write, and nothing handed to user code is a view
 * of the kernel's memory. A sample that crosses the end of the ring comes out in one piece too.
 *
 * `length` is the kernel's raw size, which is the program's size rounded up so that the 4-byte
 * size field and the data end on an 8-byte boundary: `((size + 4 + 7) & ~7) - 4`. The bytes
 * after the program's data are padding the kernel skips without writing (whatever the ring held
 * there); the record format carries no other length, so a program whose sizes vary says the
 * size in its data.
 *
 * The reader reuses the record object and the buffer behind it: a sample's bytes are this
 * sample's only during the callback it was given to; the next sample overwrites them. Keep
 * `copy()` (or decoded values), never the record or its views.
 */
export interface PerfRecord {
  /** the CPU whose ring the sample came from (the CPU the program ran on, with BPF_F_CURRENT_CPU) */
  readonly cpu: number;
  /** the reader's record buffer; this sample is `bytes[offset .. offset + length)` (bytes past it are leftovers) */
  readonly bytes: Uint8Array;
  /** a DataView over the same bytes as `bytes`, for multi-byte fields */
  readonly view: DataView;
  /** where this sample's bytes start in `bytes` and `view` (always 0: kept so code can say `bytes[offset + i]`) */
  readonly offset: number;
  /** the sample's raw size in bytes (the program's size plus padding, see above) */
  readonly length: number;
  /** a Uint8Array of exactly this sample, over the reader's buffer (allocates the small view object; same lifetime rules) */
  subarray(): Uint8Array;
  /** a copy of this sample's bytes, which outlives the callback */
  copy(): Uint8Array;
}

/** The reader's reusable record: the ring buffer reader's, plus the CPU. */
export class ReusedPerfRecord extends ReusedRecord implements PerfRecord {
  cpu = 0;
}

/** A callback that receives each sample, in order per CPU. */
export type PerfRecordCallback = (record: PerfRecord) => void;

/** A callback told of samples the kernel dropped because a CPU's ring was full. */
export type PerfLostCallback = (count: number, cpu: number) => void;
