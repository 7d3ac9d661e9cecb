/** `RingBuffer`: the user-space consumer of a BPF_MAP_TYPE_RINGBUF map. */

import { endianness } from "node:os";
import { MEMORY_FD_BASE, MemoryMap, objectByFd, RingState } from "../interp/maps.js";
import { readMapInfo } from "../map/info.js";
import { BpfError, ClosedError, InputError } from "../sys/error.js";
import { Fd, reclaimThrough } from "../sys/fd.js";
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
/** Records up to this many bytes are copied word by word; longer ones with one TypedArray.set. */
const SMALL_COPY = 256;
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
  /**
   * the ring's data size in bytes, as the map's spec says; checked (a power of 2) when given,
   * but the reader maps the size the kernel reports for the descriptor
   */
  readonly maxEntries?: number;
  /** the map's descriptor (a closed BpfMap throws ClosedError here) */
  readonly fd: number;
  /** the map's name, for messages */
  readonly name?: string;
}

/** Options of {@link RingBuffer.start}. */
export interface StartOptions {
  /**
   * Called when a record callback throws or the event loop reports an error on the descriptor.
   * Listening stops first. Without it (or when it throws), the error is thrown from a task of its
   * own: an uncaught exception, like an EventEmitter's unhandled 'error'.
   */
  onError?: (error: unknown) => void;
  /**
   * Whether listening keeps the process alive, like a server does (default true). A listening
   * reader that keeps the process alive is also kept alive by it until stop() or close(); with
   * `keepAlive: false`, keep a reference to the reader: dropped, it is closed by the garbage
   * collector and delivers nothing more.
   */
  keepAlive?: boolean;
}

/** Options of {@link RingBuffer.records}. */
export interface RecordsOptions {
  /** ends the iteration: the loop throws the signal's reason */
  signal?: AbortSignal;
  /**
   * @deprecated Has no effect: the loop takes one record from the ring at a time, when it asks
   * for the next one, so records wait in the ring (and the program sees it fill up) until the
   * loop reads them. Still checked: a positive integer when given.
   */
  highWaterMark?: number;
}

/** What a reader owns in the kernel and in libuv, closed by the garbage collector if the reader is dropped unclosed. */
interface Resources {
  readonly fd: Pick<Fd, "value" | "close">;
  watch: ReadableWatch | undefined;
  /** the in-memory ring of a memory map (backend: "memory"), read through the same layout */
  readonly memory: RingState | undefined;
}

/** The in-memory ring behind a memory map's descriptor number, or undefined for a kernel descriptor. */
function memoryRing(fd: number): RingState | undefined {
  if (!(fd > MEMORY_FD_BASE)) return undefined;
  const m = objectByFd(fd);
  return m instanceof MemoryMap ? m.ring : undefined;
}

/** Closes what a reader dropped without close() held: the poll handle first, then the descriptor it polls. */
const collected = new FinalizationRegistry<Resources>((res) => {
  res.watch?.close();
  res.fd.close();
});
// under descriptor pressure, a collection runs these callbacks at once (they close the Fds they hold)
reclaimThrough(collected);

/**
 * Readers that the event loop keeps alive: listening with keepAlive, or in a records() loop
 * waiting for a record. libuv holds their poll handles, whose callbacks hold the readers only
 * weakly; this set is what keeps such a reader (and the code waiting on it) from being collected.
 */
const active = new Set<RingBuffer>();

/**
 * The consumer side of a BPF ring buffer map (BPF_MAP_TYPE_RINGBUF), read through shared memory
 * with no system call per record and no allocation per record.
 *
 * - {@link RingBuffer.consume} synchronously hands every committed record to a callback, in
 *   order, and frees their room in the ring.
 * - {@link RingBuffer.start} does the same whenever the kernel says there is data, driven by the
 *   Node event loop (the map's descriptor polled by libuv): no thread, no timer, no blocking call.
 * - {@link RingBuffer.records} gives them to a `for await` loop, one copy at a time.
 *
 * Each record is copied out of the ring into a buffer the reader reuses ({@link RingRecord}), so
 * user code never holds a view of the kernel's memory: records are safe to write, and a record
 * kept past its callback or past close() is ordinary memory. Records the program discarded
 * (bpf_ringbuf_discard) are skipped and counted in {@link RingBuffer.discarded}. A record reserved
 * but not yet submitted (the BUSY bit) stops the drain there: the records after it wait until it
 * is submitted or discarded, because the ring is consumed strictly in order.
 *
 * Every record the program committed is either delivered (once: {@link RingBuffer.delivered}),
 * still in the ring ({@link RingBuffer.pending}), or discarded by the program. A full ring drops
 * on the program's side: when the program produces faster than the reader drains,
 * `bpf_ringbuf_output` returns -EAGAIN and `bpf_ringbuf_reserve` returns NULL, and the kernel keeps
 * no count of those failures. A program that must not lose events unnoticed counts its failures
 * itself (an array map incremented when the helper fails) and user space reads that count.
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
  /** the ring's data size in bytes (the map's max_entries, as the kernel reports it) */
  readonly size: number;
  readonly #mask: number;
  readonly #what: string;
  readonly #res: Resources;
  #mapping: RingMapping | undefined;
  /** consumer_pos as two u32 halves (only consumers write it: the kernel reads it) */
  readonly #cons32: Uint32Array;
  /** the same u64, for the rare 64-bit store when the high half changes */
  readonly #cons64: BigUint64Array;
  /** producer_pos as two u32 halves (the kernel writes it) */
  readonly #prod32: Uint32Array;
  /** the data area as int32 words: record headers are 8-byte aligned (never handed out) */
  readonly #words: Int32Array;
  /** the data area as bytes (never handed out) */
  readonly #data: Uint8Array;
  readonly #record = new ReusedRecord();
  #discarded = 0;
  #delivered = 0;
  #closed = false;
  #draining = false;
  /** set when the drain in progress must stop after the current record (close, or stop from a listener) */
  #halt = false;
  /** whether the drain in progress was started by the event loop for the listener */
  #fromEvent = false;
  #listener: RecordCallback | undefined;
  #onError: ((error: unknown) => void) | undefined;
  /** whether a records() loop is running */
  #iterating = false;
  /** the records() loop waiting for the descriptor to be readable (or for close or abort) */
  #waiter: ((status: number) => void) | undefined;

  /**
   * Maps the ring of `map` into this process. The map must be of type "ringbuf" ({@link InputError}
   * otherwise, before anything is mapped) and open ({@link ClosedError}); the size mapped is the
   * one the kernel reports for the descriptor, whatever the spec says. The kernel's refusal to map
   * it is a {@link BpfError} naming mmap.
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
    if (map.maxEntries !== undefined) checkSize(map.maxEntries, "");
    const memory = memoryRing(map.fd);
    const fd = memory ? { value: map.fd, close() {} } : new Fd(dupFd(map.fd, name), name);
    let mapping: RingMapping;
    let size: number;
    if (memory) {
      size = memory.size;
      const gone = { address: 0, length: 0, gone: true };
      mapping = {
        size,
        pageSize: RingState.PAGE,
        consumer: memory.consumerPage,
        producer: memory.producerPage,
        retired: false,
        regions: [gone, gone],
      };
    } else {
      try {
        // the kernel's word on the type and size: a spec can disagree with the map it names
        const info = readMapInfo(fd.value, { what: `of ${name}` });
        if (info.type !== "ringbuf")
          throw new InputError(
            `a RingBuffer reads maps of type ringbuf, but descriptor ${map.fd} is a map of type ${info.type}`,
          );
        size = info.maxEntries;
        checkSize(size, " (as the kernel reports it)");
        mapping = mapRing(fd.value, size, `of ${name}`);
      } catch (e) {
        fd.close();
        throw e;
      }
    }
    this.size = size;
    this.#mask = size - 1;
    this.#what = name;
    this.#res = { fd, watch: undefined, memory };
    this.#mapping = mapping;
    this.#cons32 = new Uint32Array(mapping.consumer, 0, 2);
    this.#cons64 = new BigUint64Array(mapping.consumer, 0, 1);
    this.#prod32 = new Uint32Array(mapping.producer, 0, 2);
    this.#words = new Int32Array(mapping.producer, mapping.pageSize, (2 * size) / 4);
    this.#data = new Uint8Array(mapping.producer, mapping.pageSize, 2 * size);
    collected.register(this, this.#res, this);
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

  /** Records handed over (to callbacks, or yielded by records()) since open; each is handed over once. */
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
   * with nothing committed it returns 0. The record's bytes are the record's only during its
   * callback.
   *
   * If `onRecord` throws, the drain stops, the records handed over so far (that one included)
   * count as consumed, and the error propagates. Calling consume from inside a record callback
   * is an {@link InputError}. Calling close() from inside one ends the drain after that record,
   * which counts as consumed (the next reader of the map starts after it).
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
    let to = record.words;
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
        // the record is copied out of the ring (the data area is mapped twice: one contiguous
        // run even across the end) into the reader's own buffer, the only memory user code sees
        const body = at + HDR_SIZE;
        if (length <= 32) {
          // short records, the common case: always 8 words, straight-line (no loop whose exit
          // the processor mispredicts when sizes vary); the words past the record are leftovers
          // of the ring's own data (the data area is mapped twice, so they are always there)
          const from = body >>> 2;
          to[0] = words[from]!;
          to[1] = words[from + 1]!;
          to[2] = words[from + 2]!;
          to[3] = words[from + 3]!;
          to[4] = words[from + 4]!;
          to[5] = words[from + 5]!;
          to[6] = words[from + 6]!;
          to[7] = words[from + 7]!;
        } else if (length <= SMALL_COPY) {
          const from = body >>> 2;
          const end = from + ((length + 3) >>> 2);
          for (let i = from, j = 0; i < end; i++, j++) to[j] = words[i]!;
        } else {
          record.reserve(length);
          record.bytes.set(this.#data.subarray(body, body + length));
          to = record.words;
        }
        record.length = length;
        delivered++;
        onRecord(record);
        if (this.#halt) break; // closed or stopped by the callback
      }
    } finally {
      this.#draining = false;
      this.#delivered += delivered;
      this.#discarded += discarded;
      // published even when the callback closed the reader: close() waits for the drain to end
      if (done > 0) this.#advance(consLo, done);
      if (this.#closed) this.#release();
    }
    return delivered;
  }

  /**
   * Takes the next committed record out of the ring, as a copy of its own, and publishes the
   * consumer position past it (and past the discarded records before it); undefined when no
   * committed record waits. The records() loop's one step: it never takes more than it hands over.
   */
  #takeOne(): Uint8Array | undefined {
    const consLo = this.#cons32[LO]!;
    const avail = (Atomics.load(this.#prod32, LO) - consLo) >>> 0;
    const words = this.#words;
    let done = 0;
    let taken: Uint8Array | undefined;
    while (done < avail) {
      const at = (consLo + done) & this.#mask;
      const len = Atomics.load(words, at >>> 2);
      if (len < 0) break;
      const length = len & LEN_MASK;
      done += (length + HDR_SIZE + 7) & ~7;
      if ((len & DISCARD_BIT) !== 0) {
        this.#discarded++;
        continue;
      }
      taken = this.#data.slice(at + HDR_SIZE, at + HDR_SIZE + length);
      this.#delivered++;
      break;
    }
    if (done > 0) this.#advance(consLo, done);
    return taken;
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
   * A poll callback that reaches the reader through `weak` only (made in a static method, so that
   * its closure holds no context of an instance method, whose `this` would hold the reader).
   */
  static #readyCallback(weak: WeakRef<RingBuffer>): (status: number) => void {
    return (status) => {
      const reader = weak.deref();
      if (reader !== undefined) reader.#ready(status);
    };
  }

  /** The poll handle on the reader's descriptor (created on first use, stopped). */
  #watch(): ReadableWatch {
    let watch = this.#res.watch;
    if (watch === undefined) {
      // libuv holds the poll callback (and koffi holds it for libuv) for as long as the handle
      // lives: it must not hold the reader, or a reader dropped without close() is never
      // collected. The WeakRef is made here, not in the constructor: a WeakRef keeps its target
      // alive until the current job ends, so readers opened and dropped in one synchronous loop
      // could not be collected under descriptor pressure.
      const onReady = RingBuffer.#readyCallback(new WeakRef(this));
      const memory = this.#res.memory;
      watch = memory ? memory.watch(onReady) : watchReadable(this.#res.fd.value, onReady);
      this.#res.watch = watch;
    }
    return watch;
  }

  /** Frees the poll handle: while it exists, libuv holds its callback. */
  #unwatch(): void {
    this.#res.watch?.close();
    this.#res.watch = undefined;
  }

  /**
   * Delivers records as they come, on the Node event loop: whenever the map's descriptor is
   * readable (the kernel wakes it when a record is committed and the reader has caught up), the
   * ring is drained into `onRecord` as by {@link RingBuffer.consume}. Records already waiting are
   * delivered on the next turn of the loop. Nothing blocks and nothing polls on a timer.
   *
   * Listening keeps the process alive (like a server) until {@link RingBuffer.stop} or
   * {@link RingBuffer.close}, unless `keepAlive: false`. Calling start again replaces the callback.
   * While a {@link RingBuffer.records} loop runs, start is an {@link InputError}.
   */
  start(onRecord: RecordCallback, options: StartOptions = {}): void {
    this.#check();
    if (typeof onRecord !== "function") throw new InputError("RingBuffer.start needs a record callback");
    if (this.#iterating)
      throw new InputError(
        `${this.#what}: start() cannot deliver records while a records() loop reads them (leave the loop first)`,
      );
    const keep = options.keepAlive !== false;
    const watch = this.#watch();
    this.#listener = onRecord;
    this.#onError = options.onError;
    watch.ref(keep);
    watch.start();
    if (keep) active.add(this);
    else active.delete(this);
  }

  /**
   * Stops delivering records (they wait in the ring for the next consume or start); idempotent.
   * Called from the listener, no record after the current one is delivered. A records() loop is
   * not affected: leave it (break, or its signal) to end it.
   */
  stop(): void {
    if (this.#listener === undefined) return;
    if (this.#fromEvent) this.#halt = true;
    this.#listener = undefined;
    this.#onError = undefined;
    active.delete(this);
    // the poll handle goes too: a stopped reader dropped without close() must be collectable
    this.#unwatch();
  }

  /**
   * The records as they come, as an async iterable of copies (each a Uint8Array of its own, so
   * this path allocates per record; {@link RingBuffer.consume} and {@link RingBuffer.start} do not):
   *
   * ```ts
   * for await (const record of ring.records({ signal })) console.log(record.length);
   * ```
   *
   * Each step takes one record out of the ring, when the loop asks for it: records the loop has
   * not asked for stay in the ring (where the program sees it fill up), so leaving the loop (break,
   * return, a throw, the signal) loses nothing and counts nothing that was not yielded. With no
   * record waiting, the loop waits for the descriptor on the event loop (keeping the process
   * alive, like {@link RingBuffer.start}). The iteration ends when the ring is closed, throws the
   * signal's reason when `signal` aborts, and throws what the event loop reported on the
   * descriptor. It cannot run beside {@link RingBuffer.start} or another records() loop
   * ({@link InputError}), and a bad option is an InputError naming it.
   */
  async *records(options: RecordsOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
    if (options === null || typeof options !== "object")
      throw new InputError(`records() takes an options object, got ${describe(options)}`);
    const { signal, highWaterMark } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal))
      throw new InputError(
        `records(): the signal option must be an AbortSignal (from an AbortController, or AbortSignal.timeout()), got ${describe(signal)}`,
      );
    if (highWaterMark !== undefined && (!Number.isInteger(highWaterMark) || highWaterMark < 1))
      throw new InputError(
        `records(): the highWaterMark option must be a positive integer, got ${describe(highWaterMark)}`,
      );
    this.#check();
    if (this.#listener !== undefined)
      throw new InputError(`${this.#what}: records() cannot run while start() is delivering records`);
    if (this.#iterating)
      throw new InputError(
        `${this.#what}: records() cannot run beside another records() loop on the same reader`,
      );
    signal?.throwIfAborted();
    this.#iterating = true;
    const rouse = () => this.#wake(0);
    signal?.addEventListener("abort", rouse);
    try {
      for (;;) {
        signal?.throwIfAborted();
        if (this.#closed) return;
        const record = this.#takeOne();
        if (record !== undefined) {
          yield record;
          continue;
        }
        const status = await new Promise<number>((resolve) => {
          this.#waiter = resolve;
          const watch = this.#watch();
          watch.ref(true);
          watch.start();
          active.add(this);
        });
        if (status < 0) throw new BpfError("poll", -status, {}, `of ${this.#what}`);
      }
    } finally {
      signal?.removeEventListener("abort", rouse);
      this.#iterating = false;
      this.#waiter = undefined;
      active.delete(this);
      if (!this.#closed) this.#unwatch();
    }
  }

  /** Ends the records() loop's wait with `status` (0: look again; -errno: the event loop's error). */
  #wake(status: number): void {
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    this.#waiter = undefined;
    // stopped until the loop waits again: level-triggered, a ready descriptor would otherwise
    // call back on every turn while the loop body runs
    this.#res.watch?.stop();
    active.delete(this);
    waiter(status);
  }

  #ready(status: number): void {
    if (this.#waiter !== undefined) {
      this.#wake(status);
      return;
    }
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
   * Stops listening, ends a records() loop, unmaps the ring and closes the reader's descriptor; a
   * second call does nothing. Called from a record callback, it takes effect when the callback
   * returns (that record counts as consumed, the ones after it stay in the ring). Any later use
   * is a {@link ClosedError}.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#halt = true;
    this.#listener = undefined;
    this.#onError = undefined;
    active.delete(this);
    this.#wake(0);
    if (!this.#draining) this.#release();
  }

  /** Gives back the poll handle, the mappings and the descriptor (after the drain in progress, if any). */
  #release(): void {
    collected.unregister(this);
    this.#unwatch();
    // a memory ring's pages are ordinary ArrayBuffers: nothing to unmap
    if (this.#mapping !== undefined && this.#res.memory === undefined) retireRing(this.#mapping);
    this.#mapping = undefined;
    this.#res.fd.close();
  }

  /** The same as `close()`, for `using`: released when the block that declared it ends. */
  [Symbol.dispose](): void {
    this.close();
  }

  #check(): void {
    if (this.#closed) throw new ClosedError(this.#what);
  }
}

/** Checks a ring's size: a power of 2 from 8 bytes to 2 GiB. */
function checkSize(size: number, says: string): void {
  if (!Number.isInteger(size) || size < 8 || size > 2 ** 31 || (size & (size - 1)) !== 0)
    throw new InputError(`a ringbuf's size must be a power of 2 up to 2 GiB, got ${String(size)}${says}`);
}

/** A value named for a message: its type, and the value itself when it is short. */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return `${value.constructor?.name ?? "an object"} ${safeJson(value)}`;
  return `${typeof value} ${String(value)}`;
}

function safeJson(value: object): string {
  try {
    const text = JSON.stringify(value);
    return text !== undefined && text.length <= 40 ? text : "";
  } catch {
    return "";
  }
}
