/** The record a {@link RingBuffer} hands to its callback: the record's bytes, copied into a buffer the reader reuses. */

/**
 * One record of a ring buffer: its bytes are `bytes[offset .. offset + length)` (or `view` at the
 * same offsets). The reader copies each record out of the ring into a buffer of its own (plain
 * JavaScript memory, reused from record to record: no allocation per record), so the record is
 * safe to read and to write, and nothing handed to user code is a view of the kernel's memory.
 *
 * The reader reuses the record object and the buffer behind it: a record's bytes are this
 * record's only during the callback it was given to; the next record overwrites them. Keep
 * `copy()` (or decoded values), never the record or its views.
 */
export interface RingRecord {
  /** the reader's record buffer; this record is `bytes[offset .. offset + length)` (bytes past it are leftovers) */
  readonly bytes: Uint8Array;
  /** a DataView over the same bytes as `bytes`, for multi-byte fields (`view.getUint32(offset, true)`) */
  readonly view: DataView;
  /** where this record's bytes start in `bytes` and `view` (always 0: kept so code can say `bytes[offset + i]`) */
  readonly offset: number;
  /** the record's length in bytes, as the program gave it (not rounded) */
  readonly length: number;
  /** a Uint8Array of exactly this record, over the reader's buffer (allocates the small view object; same lifetime rules) */
  subarray(): Uint8Array;
  /** a copy of this record's bytes, which outlives the callback */
  copy(): Uint8Array;
}

/** The smallest record buffer (bytes): grown, by powers of 2, when a longer record comes. */
const INITIAL_CAPACITY = 4096;

/**
 * The readers' reusable record: its own buffer, which each record is copied into (the fields
 * rewritten for each record), grown when a record does not fit.
 */
export class ReusedRecord implements RingRecord {
  bytes: Uint8Array;
  view: DataView;
  /** the buffer as 32-bit words: records are copied word by word (they start 4-byte aligned in the rings) */
  words: Int32Array;
  offset = 0;
  length = 0;

  constructor(capacity = INITIAL_CAPACITY) {
    const memory = new ArrayBuffer(ReusedRecord.#round(capacity));
    this.bytes = new Uint8Array(memory);
    this.view = new DataView(memory);
    this.words = new Int32Array(memory);
  }

  /** A power of 2 of at least `n` and INITIAL_CAPACITY bytes. */
  static #round(n: number): number {
    let c = INITIAL_CAPACITY;
    while (c < n) c *= 2;
    return c;
  }

  /**
   * Makes the buffer hold at least `n` bytes rounded up to a word. Growing replaces `bytes`,
   * `view` and `words` (the old buffer stays valid for whoever kept it: it is only dropped).
   */
  reserve(n: number): void {
    if (n + 3 <= this.bytes.length) return;
    const memory = new ArrayBuffer(ReusedRecord.#round(n + 3));
    this.bytes = new Uint8Array(memory);
    this.view = new DataView(memory);
    this.words = new Int32Array(memory);
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
