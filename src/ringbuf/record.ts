/** The record a {@link RingBuffer} hands to its callback: a zero-copy window on the ring's data area. */

/**
 * One record of a ring buffer, as a window on the ring's data area: its bytes are
 * `bytes[offset .. offset + length)` (or `view` at the same offsets). The ring maps its data area
 * twice in a row, so a record that wraps past the end of the ring is still one contiguous run.
 *
 * The reader reuses one record object and the views behind it: a record is valid only during the
 * callback it was given to. Keep `copy()` (or decoded values), never the record or its views.
 * Reading them later reads whatever the producer has written there since (and zeros after the
 * ring was closed).
 */
export interface RingRecord {
  /** the ring's whole data area, mapped twice (`2 * size` bytes); read only */
  readonly bytes: Uint8Array;
  /** a DataView over the same bytes as `bytes`, for multi-byte fields (`view.getUint32(offset, true)`) */
  readonly view: DataView;
  /** where this record's bytes start in `bytes` and `view` (always a multiple of 8) */
  readonly offset: number;
  /** the record's length in bytes, as the program gave it (not rounded) */
  readonly length: number;
  /** a zero-copy Uint8Array of exactly this record (allocates the small view object; same lifetime rules) */
  subarray(): Uint8Array;
  /** a copy of this record's bytes, which outlives the callback */
  copy(): Uint8Array;
}

/**
 * The readers' reusable record: fields rewritten for each record (and `bytes`/`view` switched by
 * the perf reader between a CPU's ring and its scratch buffer).
 */
export class ReusedRecord implements RingRecord {
  bytes: Uint8Array;
  view: DataView;
  offset = 0;
  length = 0;

  constructor(bytes: Uint8Array, view: DataView) {
    this.bytes = bytes;
    this.view = view;
  }

  subarray(): Uint8Array {
    return this.bytes.subarray(this.offset, this.offset + this.length);
  }

  copy(): Uint8Array {
    return this.bytes.slice(this.offset, this.offset + this.length);
  }
}

/** A callback that receives each committed record in order. */
export type RecordCallback = (record: RingRecord) => void;
