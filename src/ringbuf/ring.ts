/** `RingBuffer`: the user-space consumer of a BPF_MAP_TYPE_RINGBUF map. */

import { endianness } from "node:os";
import { BpfError, ClosedError, InputError } from "../sys/error.js";
import { Fd } from "../sys/fd.js";
import {
  dupFd,
  mapRing,
  type ReadableWatch,
  type RingMapping,
  retireRing,
  watchReadable,
} from "../sys/ringbuf.js";
import { type RecordCallback, ReusedRecord } from "./record.js";
import { reportListenerError } from "./report.js";

// BPF_RINGBUF_BUSY_BIT (1 << 31: reserved, not yet submitted or discarded) is the sign bit of the
// header's len read as an int32.
/** BPF_RINGBUF_DISCARD_BIT: the program discarded the record. */
const DISCARD_BIT = 1 << 30;
/** The length bits of a record header's `len`. */
const LEN_MASK = DISCARD_BIT - 1;
/** BPF_RINGBUF_HDR_SZ: u32 len, u32 pg_off. */
const HDR_SIZE = 8;
/** Index of the low and high u32 halves of a u64 in a Uint32Array. */
const LO = endianness() === "LE" ? 0 : 1;
const HI = 1 - LO;
const TWO_32 = 2 ** 32;
/**
 * Whether a plain load is an acquire on this processor (x86 orders loads after loads: TSO). There
 * a record header is read with an ordinary load, which V8 keeps in program order with the other
 * memory accesses of the loop (the callback between them is a call it cannot see through); elsewhere
 * (arm64, riscv64...) it is read with Atomics.load, which is an acquire (ldar on arm64).
 */
const PLAIN_LOAD_ACQUIRES = process.arch === "x64" || process.arch === "ia32";

/** What a ring buffer is read from: a {@link BpfMap} of type "ringbuf" (or anything shaped like one). */
export interface RingBufferSource {
  /** the map type; must be "ringbuf" */
  readonly type: string;
  /** the ring's data size in bytes */
  readonly maxEntries: number;
  /** the map's descriptor (a closed BpfMap throws ClosedError here) */
  readonly fd: number;
  /** the map's name, for messages */
  readonly name?: string;
}

/** What a records() queue slot holds once read (so the copy can be collected). */
const EMPTY = new Uint8Array(0);

/** Options of {@link RingBuffer.start}. */
export interface StartOptions {
  /**
   * Called when a record callback throws or the event loop reports an error on the descriptor.
   * Listening stops first. Without it (or when it throws), the error is thrown from a task of its
   * own: an uncaught exception, like an EventEmitter's unhandled 'error'.
   */
  onError?: (error: unknown) => void;
  /** whether listening keeps the process alive, like a server does (default true) */
  keepAlive?: boolean;
}

/**
 * The consumer side of a BPF ring buffer map (BPF_MAP_TYPE_RINGBUF), read through shared memory
 * with no system call per record and no allocation per record.
 *
 * - {@link RingBuffer.consume} synchronously hands every committed record to a callback, in
 *   order, and frees their room in the ring.
 * - {@link RingBuffer.start} does the same whenever the kernel says there is data, driven by the
 *   Node event loop (the map's descriptor polled by libuv): no thread, no timer, no blocking call.
 *
 * Records are zero-copy windows valid only during the callback ({@link RingRecord}). Records the
 * program discarded (bpf_ringbuf_discard) are skipped and counted in {@link RingBuffer.discarded}.
 * A record reserved but not yet submitted (the BUSY bit) stops the drain there: the records after
 * it wait until it is submitted or discarded, because the ring is consumed strictly in order.
 *
 * Nothing is dropped silently on this side, but a full ring drops on the program's side: when
 * the program produces faster than the reader drains, `bpf_ringbuf_output` returns -EAGAIN and
 * `bpf_ringbuf_reserve` returns NULL, and the kernel keeps no count of those failures. A program
 * that must not lose events unnoticed counts its failures itself (an array map incremented
 * when the helper fails) and user space reads that count; {@link RingBuffer.pending} shows how
 * full the ring is.
 *
 * A ring has one consumer position, shared by every reader of the map: read each ring with one
 * RingBuffer at a time (a reader opened later starts where the last one stopped). The reader owns
 * a duplicate of the map's descriptor and the mappings, so it outlives the BpfMap it came from.
 *
 * @example
 * ```ts
 * using events = BpfMap.create({ type: "ringbuf", maxEntries: 65536 });
 * using ring = RingBuffer.open(events);
 * // ... load and run a program that calls bpf_ringbuf_output(&events, ...)
 * ring.consume((r) => console.log(r.view.getUint32(r.offset, true), r.length));
 * ```
 */
export class RingBuffer implements Disposable {
  /** the ring's data size in bytes */
  readonly size: number;
  readonly #mask: number;
  readonly #what: string;
  readonly #fd: Fd;
  #mapping: RingMapping | undefined;
  /** consumer_pos as two u32 halves (only consumers write it: the kernel reads it) */
  readonly #cons32: Uint32Array;
  /** the same u64, for the rare 64-bit store when the high half changes */
  readonly #cons64: BigUint64Array;
  /** producer_pos as two u32 halves (the kernel writes it) */
  readonly #prod32: Uint32Array;
  /** the data area as int32 words: record headers are 8-byte aligned */
  readonly #words: Int32Array;
  readonly #record: ReusedRecord;
  #discarded = 0;
  #delivered = 0;
  #closed = false;
  #draining = false;
  /** set when the drain in progress must stop after the current record (close, or stop from a listener) */
  #halt = false;
  /** whether the drain in progress was started by the event loop for the listener */
  #fromEvent = false;
  #watch: ReadableWatch | undefined;
  #listener: RecordCallback | undefined;
  #onError: ((error: unknown) => void) | undefined;
  readonly #onReady: (status: number) => void;
  /** records() loops waiting for a record, woken by close() to end */
  readonly #closeWaiters = new Set<() => void>();

  /**
   * Maps the ring of `map` into this process. The map must be of type "ringbuf" ({@link InputError}
   * otherwise, before anything is mapped) and open ({@link ClosedError}); the kernel's refusal to
   * map it is a {@link BpfError} naming mmap.
   */
  constructor(map: RingBufferSource) {
    if (map === null || typeof map !== "object")
      throw new InputError("RingBuffer needs a BpfMap of type ringbuf");
    const name = map.name ? `ring buffer '${map.name}'` : "ring buffer";
    if (map.type !== "ringbuf") {
      const hint =
        map.type === "user_ringbuf"
          ? " (a user_ringbuf is written by user space and drained by the program: the other direction)"
          : "";
      throw new InputError(`a RingBuffer reads maps of type ringbuf, not ${String(map.type)}${hint}`);
    }
    const size = map.maxEntries;
    if (!Number.isInteger(size) || size < 8 || size > 2 ** 31 || (size & (size - 1)) !== 0) {
      throw new InputError(`a ringbuf's size must be a power of 2 up to 2 GiB, got ${String(size)}`);
    }
    const fd = new Fd(dupFd(map.fd, `of ${name}`), name);
    let mapping: RingMapping;
    try {
      mapping = mapRing(fd.value, size, `of ${name}`);
    } catch (e) {
      fd.close();
      throw e;
    }
    this.size = size;
    this.#mask = size - 1;
    this.#what = name;
    this.#fd = fd;
    this.#mapping = mapping;
    this.#cons32 = new Uint32Array(mapping.consumer, 0, 2);
    this.#cons64 = new BigUint64Array(mapping.consumer, 0, 1);
    this.#prod32 = new Uint32Array(mapping.producer, 0, 2);
    this.#words = new Int32Array(mapping.producer, mapping.pageSize, (2 * size) / 4);
    const bytes = new Uint8Array(mapping.producer, mapping.pageSize, 2 * size);
    const view = new DataView(mapping.producer, mapping.pageSize, 2 * size);
    this.#record = new ReusedRecord(bytes, view);
    this.#onReady = (status) => this.#ready(status);
  }

  /** Same as `new RingBuffer(map)`. */
  static open(map: RingBufferSource): RingBuffer {
    return new RingBuffer(map);
  }

  /** Whether close() has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Records skipped because the program discarded them (bpf_ringbuf_discard), since open. */
  get discarded(): number {
    return this.#discarded;
  }

  /** Records handed to callbacks since open. */
  get delivered(): number {
    return this.#delivered;
  }

  /**
   * Bytes the producer has reserved that this reader has not consumed yet (headers and padding
   * included): how full the ring is, from 0 to {@link RingBuffer.size}.
   */
  get pending(): number {
    this.#check();
    return (Atomics.load(this.#prod32, LO) - this.#cons32[LO]!) >>> 0;
  }

  /** Whether {@link RingBuffer.start} is delivering records. */
  get listening(): boolean {
    return this.#listener !== undefined;
  }

  /**
   * Hands every record committed so far to `onRecord`, in order, and returns how many it handed
   * over (discarded records are skipped and counted in {@link RingBuffer.discarded}). Never waits:
   * with nothing committed it returns 0. The record is valid only during its callback.
   *
   * If `onRecord` throws, the drain stops, the records handed over so far (that one included)
   * count as consumed, and the error propagates. Calling consume from inside a record callback
   * is an {@link InputError}.
   */
  consume(onRecord: RecordCallback): number {
    if (this.#closed) throw new ClosedError(this.#what);
    if (this.#draining)
      throw new InputError(`${this.#what}: consume() was called from inside a record callback`);
    // Ordering with the kernel's producer (kernel/bpf/ringbuf.c): the producer advances
    // producer_pos when it reserves a record and publishes the record by storing its header's len
    // with release semantics (BUSY cleared) once it is submitted or discarded. So the consumer
    // loads producer_pos and each header with acquire semantics, and reads a record's bytes only
    // after its header says it is committed. producer_pos is read with Atomics.load (an acquire on
    // every architecture, and a fence against the JIT reusing an earlier read); headers too,
    // except where a plain load already is an acquire (x86-64: PLAIN_LOAD_ACQUIRES), because
    // Atomics.load costs about 3 ns a record there.
    //
    // Positions are u64 and only ever grow. A ring is at most 2^31 bytes, so producer - consumer
    // and the offsets into the ring are exact in the low 32 bits: only the low half of
    // producer_pos is read (one 32-bit load, never torn).
    // consumer_pos is read from the page, not cached: a reader opened after another one (in this
    // process or another) starts where that one stopped
    const consLo = this.#cons32[LO]!;
    const avail = (Atomics.load(this.#prod32, LO) - consLo) >>> 0;
    if (avail === 0) return 0;
    const words = this.#words;
    const record = this.#record;
    const mask = this.#mask;
    let done = 0;
    let delivered = 0;
    let discarded = 0;
    this.#draining = true;
    this.#halt = false;
    try {
      while (done < avail) {
        const at = (consLo + done) & mask;
        const len = PLAIN_LOAD_ACQUIRES ? words[at >>> 2]! : Atomics.load(words, at >>> 2);
        // BUSY (the sign bit): reserved, not yet committed; everything after it waits
        if (len < 0) break;
        const length = len & LEN_MASK;
        done += (length + HDR_SIZE + 7) & ~7;
        if ((len & DISCARD_BIT) !== 0) {
          discarded++;
          continue;
        }
        record.offset = at + HDR_SIZE;
        record.length = length;
        delivered++;
        onRecord(record);
        if (this.#halt) break; // closed (the memory is gone) or stopped by the callback
      }
    } finally {
      this.#draining = false;
      this.#delivered += delivered;
      this.#discarded += discarded;
      if (!this.#closed && done > 0) this.#advance(consLo, done);
    }
    return delivered;
  }

  /**
   * Publishes the new consumer position, which gives the room back to the producer: the kernel
   * reads consumer_pos (with acquire semantics) when it reserves, to see how much of the ring is
   * free, and when it commits, to decide whether the reader is waiting for that very record and
   * must be woken. It must therefore only move forward, only past records already read (a
   * release store after the reads), and be seen whole as a u64. While its high half stays the
   * same, storing the low half is that; when the low half wraps (every 4 GiB consumed), the whole
   * u64 is stored at once.
   */
  #advance(consLo: number, done: number): void {
    const lo = consLo + done;
    if (lo < TWO_32) {
      Atomics.store(this.#cons32, LO, lo);
      return;
    }
    const hi = (this.#cons32[HI]! + 1) >>> 0;
    Atomics.store(this.#cons64, 0, (BigInt(hi) << 32n) | BigInt(lo - TWO_32));
  }

  /**
   * Delivers records as they come, on the Node event loop: whenever the map's descriptor is
   * readable (the kernel wakes it when a record is committed and the reader has caught up), the
   * ring is drained into `onRecord` as by {@link RingBuffer.consume}. Records already waiting are
   * delivered on the next turn of the loop. Nothing blocks and nothing polls on a timer.
   *
   * Listening keeps the process alive (like a server) until {@link RingBuffer.stop} or
   * {@link RingBuffer.close}, unless `keepAlive: false`. Calling start again replaces the callback.
   */
  start(onRecord: RecordCallback, options: StartOptions = {}): void {
    this.#check();
    if (typeof onRecord !== "function") throw new InputError("RingBuffer.start needs a record callback");
    this.#listener = onRecord;
    this.#onError = options.onError;
    if (this.#watch === undefined) this.#watch = watchReadable(this.#fd.value, this.#onReady);
    this.#watch.ref(options.keepAlive !== false);
    this.#watch.start();
  }

  /**
   * Stops delivering records (they wait in the ring for the next consume or start); idempotent.
   * Called from the listener, no record after the current one is delivered.
   */
  stop(): void {
    if (this.#fromEvent) this.#halt = true;
    this.#listener = undefined;
    this.#onError = undefined;
    // the poll handle goes too: while it exists, libuv holds our callback and so this reader,
    // which the garbage collector could then never free if it were dropped without close()
    this.#watch?.close();
    this.#watch = undefined;
  }

  /**
   * The records as they come, as an async iterable of copies (each a Uint8Array of its own, so
   * this path allocates per record; {@link RingBuffer.consume} and {@link RingBuffer.start} do not):
   *
   * ```ts
   * for await (const record of ring.records({ signal })) console.log(record.length);
   * ```
   *
   * It listens as {@link RingBuffer.start} does (so it cannot run beside a listener). When
   * `highWaterMark` copies (default 1024) wait unread, it stops draining: later records stay in the
   * ring, where the program sees it fill up, until the loop has read half of them. The iteration
   * ends when the ring is closed (after the copies already taken), throws the signal's reason when
   * `signal` aborts, and throws
   * what the event loop reported on the descriptor. Leaving the loop stops listening.
   */
  async *records(
    options: { signal?: AbortSignal; highWaterMark?: number } = {},
  ): AsyncGenerator<Uint8Array, void, undefined> {
    this.#check();
    if (this.#listener !== undefined)
      throw new InputError(`${this.#what}: records() cannot run while start() is delivering records`);
    const { signal } = options;
    const high = options.highWaterMark ?? 1024;
    if (!Number.isInteger(high) || high < 1)
      throw new InputError(`highWaterMark must be a positive integer, got ${String(high)}`);
    signal?.throwIfAborted();
    const queue: Uint8Array[] = [];
    let head = 0;
    let failure: { error: unknown } | undefined;
    let wake: (() => void) | undefined;
    const rouse = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const listen = () =>
      this.start(
        (record) => {
          queue.push(record.copy());
          if (queue.length - head >= high) this.stop();
          rouse();
        },
        {
          onError: (error) => {
            failure = { error };
            rouse();
          },
        },
      );
    this.#closeWaiters.add(rouse);
    signal?.addEventListener("abort", rouse);
    try {
      listen();
      for (;;) {
        while (head < queue.length) {
          const record = queue[head]!;
          queue[head++] = EMPTY;
          if (head === queue.length) {
            queue.length = 0;
            head = 0;
          }
          yield record;
          signal?.throwIfAborted();
          if (
            this.#listener === undefined &&
            !this.#closed &&
            failure === undefined &&
            queue.length - head <= high / 2
          )
            listen();
        }
        if (failure !== undefined) throw failure.error;
        signal?.throwIfAborted();
        if (this.#closed) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    } finally {
      signal?.removeEventListener("abort", rouse);
      this.#closeWaiters.delete(rouse);
      if (!this.#closed) this.stop();
    }
  }

  #ready(status: number): void {
    const listener = this.#listener;
    if (listener === undefined || this.#closed) return;
    const onError = this.#onError;
    try {
      if (status < 0) throw new BpfError("poll", -status, {}, `of ${this.#what}`);
      this.#fromEvent = true;
      this.consume(listener);
    } catch (e) {
      this.stop();
      reportListenerError(e, onError);
    } finally {
      this.#fromEvent = false;
    }
  }

  /**
   * Stops listening, unmaps the ring and closes the reader's descriptor; a second call does
   * nothing. Views handed out earlier read zeros from then on. Any later use is a {@link ClosedError}.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#halt = true;
    this.#listener = undefined;
    this.#onError = undefined;
    this.#watch?.close();
    this.#watch = undefined;
    if (this.#mapping !== undefined) retireRing(this.#mapping);
    this.#mapping = undefined;
    this.#fd.close();
    for (const wake of this.#closeWaiters) wake();
  }

  /** The same as `close()`, for `using`: released when the block that declared it ends. */
  [Symbol.dispose](): void {
    this.close();
  }

  #check(): void {
    if (this.#closed) throw new ClosedError(this.#what);
  }
}
