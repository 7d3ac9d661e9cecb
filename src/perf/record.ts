/** The sample a {@link PerfBuffer} hands to its callback: a zero-copy window on a CPU's ring. */
import { ReusedRecord } from "../ringbuf/record.js";

/**
 * One sample written by bpf_perf_event_output, as a window: its bytes are
 * `bytes[offset .. offset + length)` (or `view` at the same offsets). Most samples are read in
 * place in the CPU's ring; a sample that crosses the end of the ring (perf rings are mapped
 * once) is first copied into a scratch buffer the reader reuses, and `bytes` is that buffer.
 *
 * `length` is the kernel's raw size, which is the program's size rounded up so that the 4-byte
 * size field and the data end on an 8-byte boundary: `((size + 4 + 7) & ~7) - 4`. The bytes
 * after the program's data are padding the kernel skips without writing (whatever the ring held
 * there); the record format carries no other length, so a program whose sizes vary says the
 * size in its data.
 *
 * The reader reuses one record object and the views behind it: a record is valid only during the
 * callback it was given to. Keep `copy()` (or decoded values), never the record or its views.
 */
export interface PerfRecord {
  /** the CPU whose ring the sample came from (the CPU the program ran on, with BPF_F_CURRENT_CPU) */
  readonly cpu: number;
  /** the memory the sample is in (the CPU's data area, or the scratch buffer); read only */
  readonly bytes: Uint8Array;
  /** a DataView over the same bytes as `bytes`, for multi-byte fields */
  readonly view: DataView;
  /** where this sample's bytes start in `bytes` and `view` (4 more than a multiple of 8) */
  readonly offset: number;
  /** the sample's raw size in bytes (the program's size plus padding, see above) */
  readonly length: number;
  /** a zero-copy Uint8Array of exactly this sample (allocates the small view object; same lifetime rules) */
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
