/** `PerfBuffer`: the user-space reader of a BPF_MAP_TYPE_PERF_EVENT_ARRAY map. */

import { availableParallelism, endianness } from "node:os";
import { MEMORY_FD_BASE, MemoryMap, objectByFd, PerfRingState } from "../interp/maps.js";
import { readMapInfo } from "../map/info.js";
import { reportListenerError } from "../ringbuf/report.js";
import { BpfError, ClosedError, InputError, RawbpfError } from "../sys/error.js";
import { Fd, reclaimThrough } from "../sys/fd.js";
import { MapElemOps } from "../sys/map.js";
import {
  mapPerfRing,
  onlineCpus,
  openBpfOutputEvent,
  type PerfMapping,
  retirePerfRing,
} from "../sys/perf.js";
import { dupFd, type ReadableWatch, watchReadable } from "../sys/ringbuf.js";
import { type PerfLostCallback, type PerfRecordCallback, ReusedPerfRecord } from "./record.js";

/** PERF_RECORD_LOST: `u64 id, u64 lost` after the header */
const RECORD_LOST = 2;
/** PERF_RECORD_SAMPLE: with PERF_SAMPLE_RAW only, `u32 size` then the bytes after the header */
const RECORD_SAMPLE = 9;
/** sizeof(struct perf_event_header): u32 type, u16 misc, u16 size */
const HEADER_SIZE = 8;
/** Index of the low and high u32 halves of a u64 in a Uint32Array. */
const LO = endianness() === "LE" ? 0 : 1;
const HI = 1 - LO;
/** Where the header's u16 size is in its second u32 word (after misc) */
const SIZE_SHIFT = endianness() === "LE" ? 16 : 0;
const TWO_32 = 2 ** 32;
/** Samples up to this many bytes are copied word by word; longer ones with one TypedArray.set. */
const SMALL_COPY = 256;

/** What a perf buffer reads: a {@link BpfMap} of type "perf_event_array" (or anything shaped like one). */
export interface PerfBufferSource {
  /** the map type; must be "perf_event_array" */
  readonly type: string;
  /**
   * the map's number of slots, as its spec says (the reader checks the number the kernel reports
   * for the descriptor: more than the highest online CPU number)
   */
  readonly maxEntries?: number;
  /** the map's descriptor (a closed BpfMap throws ClosedError here) */
  readonly fd: number;
  /** the map's name, for messages */
  readonly name?: string;
}

/** Options of {@link PerfBuffer.open}. */
export interface PerfBufferOptions {
  /** data pages of each CPU's ring, a power of 2 (default 8); the ring also takes one control page */
  pageCount?: number;
  /**
   * Wake the event loop's reader after this many samples on a CPU (attr.wakeup_events, default 1).
   * More saves wake-ups; samples wait in the ring until the count is reached (consume() sees them anyway).
   */
  wakeupEvents?: number;
  /**
   * Wake after this many bytes are waiting instead (attr.wakeup_watermark); exclusive with
   * `wakeupEvents`. Must be less than the data size of a ring.
   */
  wakeupWatermark?: number;
  /** called (during a drain, in ring order) with each PERF_RECORD_LOST: how many samples a full ring dropped */
  onLost?: PerfLostCallback;
}

/** Options of {@link PerfBuffer.start}. */
export interface PerfStartOptions {
  /**
   * Called when a record callback throws or the event loop reports an error on a descriptor.
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

/** One CPU's event descriptor and its poll handle: what the garbage collector closes for a dropped reader. */
interface CpuHandle {
  readonly cpu: number;
  readonly fd: Pick<Fd, "value" | "close">;
  /** the in-memory ring of a memory map's CPU (backend: "memory") */
  readonly memory?: PerfRingState;
  watch: ReadableWatch | undefined;
  /** whether the event was stored at the CPU's key of the map (and is to be deleted from it) */
  stored: boolean;
}

/** What a reader owns in the kernel and in libuv (never the reader itself, nor its mappings). */
interface Resources {
  /** the map's id (0 until known) */
  mapId: number;
  readonly mapFd: Pick<Fd, "value" | "close">;
  readonly ops: MapElemOps | undefined;
  readonly cpus: CpuHandle[];
  /** a memory map: the rings this reader put in it (taken out on release, if still there) */
  readonly memory?: MemoryMap;
}

/** The memory map behind a descriptor number (backend: "memory"), or undefined for a kernel descriptor. */
function memoryMap(fd: number): MemoryMap | undefined {
  if (!(fd > MEMORY_FD_BASE)) return undefined;
  const m = objectByFd(fd);
  return m instanceof MemoryMap ? m : undefined;
}

/**
 * Rings in memory for a memory perf_event_array, one per CPU the interpreter may run on (as many
 * as this machine has, up to the map's slots), stored in the map as a reader's events are.
 */
function memoryRings(map: MemoryMap, pages: number, res: Resources): CpuRing[] {
  const rings: CpuRing[] = [];
  const n = Math.min(availableParallelism(), map.maxEntries);
  for (let cpu = 0; cpu < n; cpu++) {
    const state = new PerfRingState(pages * PerfRingState.PAGE);
    map.perfRings[cpu] = state;
    const handle: CpuHandle = {
      cpu,
      fd: { value: -1, close() {} },
      memory: state,
      watch: undefined,
      stored: false,
    };
    res.cpus.push(handle);
    const mapping: PerfMapping = {
      memory: state.memory,
      dataOffset: PerfRingState.PAGE,
      dataSize: state.dataSize,
      headOffset: 1024,
      tailOffset: 1032,
      retired: false,
      regions: [],
    };
    rings.push(new CpuRing(handle, mapping));
  }
  return rings;
}

/**
 * Releases what a reader holds: the poll handles first (libuv must not poll a closed descriptor),
 * the map's entries, then the descriptors. The mappings go with the ArrayBuffers over them.
 */
function releaseResources(res: Resources): void {
  for (const h of res.cpus) {
    h.watch?.close();
    h.watch = undefined;
  }
  // a reader opened on the map since has replaced the entries: they are not ours to delete
  const latest = owners.get(res.mapId) === res;
  if (latest) owners.delete(res.mapId);
  for (const h of res.cpus) {
    if (h.memory !== undefined && res.memory?.perfRings[h.cpu] === h.memory)
      res.memory.perfRings[h.cpu] = undefined;
    if (h.stored && latest && res.ops) {
      h.stored = false;
      res.ops.key.writeUInt32LE(h.cpu, 0);
      try {
        res.ops.delete();
      } catch {
        // nothing more to do: the entry goes when the map does
      }
    }
    h.fd.close();
  }
  res.mapFd.close();
}

/** The resources of the reader that stored its events in each map last (by map id), in this process. */
const owners = new Map<number, Resources>();

/** Closes what a reader dropped without close() held. */
const collected = new FinalizationRegistry<Resources>(releaseResources);
// under descriptor pressure, a collection runs these callbacks at once (they close the Fds they hold)
reclaimThrough(collected);

/** Readers listening with keepAlive: libuv holds their callbacks, which hold them only weakly; this keeps them. */
const active = new Set<PerfBuffer>();

/** One CPU's ring (internal: never handed to user code). */
class CpuRing {
  readonly handle: CpuHandle;
  readonly cpu: number;
  readonly mapping: PerfMapping;
  readonly mask: number;
  /** data_head as two u32 halves (the kernel writes it) */
  readonly head32: Uint32Array;
  /** data_tail as two u32 halves (the reader writes it) */
  readonly tail32: Uint32Array;
  readonly tail64: BigUint64Array;
  /** the data area as u32 words (headers), as int32 words (copies) and as bytes (long copies) */
  readonly words: Uint32Array;
  readonly ints: Int32Array;
  readonly bytes: Uint8Array;
  lost = 0;

  constructor(handle: CpuHandle, mapping: PerfMapping) {
    this.handle = handle;
    this.cpu = handle.cpu;
    this.mapping = mapping;
    const m = mapping;
    this.mask = m.dataSize - 1;
    this.head32 = new Uint32Array(m.memory, m.headOffset, 2);
    this.tail32 = new Uint32Array(m.memory, m.tailOffset, 2);
    this.tail64 = new BigUint64Array(m.memory, m.tailOffset, 1);
    this.words = new Uint32Array(m.memory, m.dataOffset, m.dataSize / 4);
    this.ints = new Int32Array(m.memory, m.dataOffset, m.dataSize / 4);
    this.bytes = new Uint8Array(m.memory, m.dataOffset, m.dataSize);
  }
}

/**
 * The reader of a BPF perf event array (BPF_MAP_TYPE_PERF_EVENT_ARRAY): the samples programs
 * write with `bpf_perf_event_output(ctx, &map, BPF_F_CURRENT_CPU, data, size)`.
 *
 * Opening it opens, on every online CPU, a PERF_COUNT_SW_BPF_OUTPUT event sampling raw data,
 * maps its ring (one control page and `pageCount` data pages) and stores the event's descriptor
 * at the CPU's key of the map, which is what the helper looks up. Samples are read through
 * shared memory, with no system call and no allocation per sample; each is copied out of the
 * ring into a buffer the reader reuses ({@link PerfRecord}), so user code never holds a view of
 * the kernel's memory:
 *
 * - {@link PerfBuffer.consume} synchronously hands every waiting sample of every CPU to a
 *   callback, in order per CPU (CPU by CPU), and frees their room;
 * - {@link PerfBuffer.start} does the same, CPU by CPU, whenever the kernel wakes that CPU's
 *   event, driven by the Node event loop (libuv polls the event descriptors): no thread, no timer.
 *
 * Nothing is dropped silently: when a CPU's ring is full the helper fails (-ENOSPC) and the
 * kernel counts the sample; the next sample that fits is preceded by a PERF_RECORD_LOST saying
 * how many were dropped, which the reader adds to {@link PerfBuffer.lost} (and to
 * {@link PerfBuffer.lostOn} that CPU) and passes to the `onLost` option. A count still inside
 * the kernel (nothing has fitted since) shows up with the next sample.
 *
 * One reader per map: opening a second one replaces the first one's events in the map (and
 * closing the first one then leaves the second one's in place).
 * The reader owns a duplicate of the map's descriptor, so it outlives the BpfMap it came from;
 * close() removes its entries from the map.
 *
 * @example
 * ```ts
 * using events = BpfMap.create({ type: "perf_event_array", keySize: 4, valueSize: 4, maxEntries: 64 });
 * using perf = PerfBuffer.open(events, { pageCount: 16 });
 * // ... load and run a program that calls bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, ...)
 * perf.consume((r) => console.log(r.cpu, r.view.getUint32(r.offset, true)));
 * ```
 */
export class PerfBuffer implements Disposable {
  /** the CPUs read, in order (the online CPUs when opened) */
  readonly cpus: readonly number[];
  /** data pages of each CPU's ring */
  readonly pageCount: number;
  /** data bytes of each CPU's ring */
  readonly size: number;
  readonly #what: string;
  readonly #res: Resources;
  readonly #rings: CpuRing[];
  readonly #record = new ReusedPerfRecord();
  readonly #onLost: PerfLostCallback | undefined;
  #lost = 0;
  #delivered = 0;
  #closed = false;
  #draining = false;
  #halt = false;
  #fromEvent = false;
  #listener: PerfRecordCallback | undefined;
  #onError: ((error: unknown) => void) | undefined;
  #kick: NodeJS.Immediate | undefined;

  /**
   * Opens an event and maps a ring on every online CPU and stores the events in `map`. The map
   * must be of type "perf_event_array" and `pageCount` a power of 2 ({@link InputError} otherwise,
   * before anything is opened), the map open ({@link ClosedError}), with more slots than the
   * highest online CPU number (InputError). A refusal of the kernel is a {@link BpfError}; every
   * CPU opened so far is then closed again.
   */
  constructor(map: PerfBufferSource, options: PerfBufferOptions = {}) {
    if (map === null || typeof map !== "object")
      throw new InputError("PerfBuffer needs a BpfMap of type perf_event_array");
    if (map.type !== "perf_event_array") {
      const hint =
        map.type === "ringbuf" ? " (a ringbuf, written with bpf_ringbuf_output, is read by RingBuffer)" : "";
      throw new InputError(
        `a PerfBuffer reads maps of type perf_event_array, not ${String(map.type)}${hint}`,
      );
    }
    const name = map.name ? `perf buffer of map '${map.name}'` : "perf buffer";
    const pages = options.pageCount ?? 8;
    if (!Number.isInteger(pages) || pages < 1 || pages > 2 ** 20 || (pages & (pages - 1)) !== 0)
      throw new InputError(`pageCount must be a power of 2 (1, 2, 4 ... 2^20), got ${String(pages)}`);
    const { wakeupEvents, wakeupWatermark } = options;
    if (wakeupEvents !== undefined && wakeupWatermark !== undefined)
      throw new InputError("give wakeupEvents or wakeupWatermark, not both");
    const wakeup = wakeupWatermark ?? wakeupEvents ?? 1;
    if (!Number.isInteger(wakeup) || wakeup < 1 || wakeup >= TWO_32)
      throw new InputError(
        `wakeupEvents and wakeupWatermark must be positive integers, got ${String(wakeup)}`,
      );
    if (options.onLost !== undefined && typeof options.onLost !== "function")
      throw new InputError("onLost must be a function");
    const memory = memoryMap(map.fd);
    const cpus = memory ? [] : onlineCpus();
    const highest = cpus[cpus.length - 1] ?? 0;
    const tooFew = (slots: number, says: string) =>
      new InputError(
        `${name}: the map has ${String(slots)} slots${says} but CPU ${highest} is online; a perf_event_array needs a slot per CPU: create it with maxEntries of at least ${highest + 1}`,
      );
    if (map.maxEntries !== undefined && !(map.maxEntries > highest)) throw tooFew(map.maxEntries, "");
    const mapFd = memory ? { value: map.fd, close() {} } : new Fd(dupFd(map.fd, name), name);
    let rings: CpuRing[] = [];
    const res: Resources = {
      mapId: 0,
      mapFd,
      ops: memory ? undefined : new MapElemOps(mapFd.value, 4, 4, { what: `on the map of ${name}` }),
      cpus: [],
      ...(memory ? { memory } : {}),
    };
    try {
      if (memory) {
        rings = memoryRings(memory, pages, res);
        for (const r of rings) cpus.push(r.cpu);
      } else {
        // the kernel's word on the type and the slots: a spec can disagree with the map it names
        const ops = res.ops!;
        const info = readMapInfo(mapFd.value, { what: `of ${name}` });
        if (info.type !== "perf_event_array")
          throw new InputError(
            `a PerfBuffer reads maps of type perf_event_array, but descriptor ${map.fd} is a map of type ${info.type}`,
          );
        if (!(info.maxEntries > highest)) throw tooFew(info.maxEntries, " (as the kernel reports it)");
        res.mapId = info.id;
        for (const cpu of cpus) {
          const what = `of ${name} on CPU ${cpu}`;
          const fd = new Fd(
            openBpfOutputEvent(cpu, { wakeup, watermark: wakeupWatermark !== undefined }, what),
            `perf event ${what}`,
          );
          const handle: CpuHandle = { cpu, fd, watch: undefined, stored: false };
          res.cpus.push(handle);
          rings.push(new CpuRing(handle, mapPerfRing(fd.value, pages, what)));
        }
        for (const ring of rings) {
          ops.key.writeUInt32LE(ring.cpu, 0);
          ops.value.writeUInt32LE(ring.handle.fd.value, 0);
          ops.update(0);
          ring.handle.stored = true;
          owners.set(res.mapId, res);
        }
      }
    } catch (e) {
      for (const ring of rings) retirePerfRing(ring.mapping);
      releaseResources(res);
      throw e;
    }
    this.cpus = cpus;
    this.pageCount = pages;
    this.size = rings[0]?.mapping.dataSize ?? 0;
    this.#what = name;
    this.#res = res;
    this.#rings = rings;
    this.#onLost = options.onLost;
    collected.register(this, res, this);
  }

  /** Same as `new PerfBuffer(map, options)`. */
  static open(map: PerfBufferSource, options?: PerfBufferOptions): PerfBuffer {
    return new PerfBuffer(map, options);
  }

  /** Whether close() has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Samples handed to callbacks since open. */
  get delivered(): number {
    return this.#delivered;
  }

  /** Samples the kernel dropped because a ring was full, as PERF_RECORD_LOST records reported them, since open. */
  get lost(): number {
    return this.#lost;
  }

  /** Samples dropped on `cpu`'s ring, as {@link PerfBuffer.lost} (0 for a CPU not read). */
  lostOn(cpu: number): number {
    for (const r of this.#rings) if (r.cpu === cpu) return r.lost;
    return 0;
  }

  /** Bytes waiting in `cpu`'s ring (records with their headers), from 0 to {@link PerfBuffer.size}. */
  pending(cpu: number): number {
    this.#check();
    for (const r of this.#rings) if (r.cpu === cpu) return (Atomics.load(r.head32, LO) - r.tail32[LO]!) >>> 0;
    throw new InputError(`${this.#what} does not read CPU ${cpu} (it reads ${this.cpus.join(", ")})`);
  }

  /** Whether {@link PerfBuffer.start} is delivering samples. */
  get listening(): boolean {
    return this.#listener !== undefined;
  }

  /**
   * Hands every sample waiting in every CPU's ring to `onRecord`, CPU by CPU, in order within a
   * CPU, and returns how many it handed over; PERF_RECORD_LOST records on the way are counted
   * ({@link PerfBuffer.lost}, `onLost`). Never waits. A sample's bytes are the sample's only during
   * its callback.
   *
   * If `onRecord` throws, the drain stops, the samples handed over so far (that one included)
   * count as consumed, and the error propagates. Calling consume from inside a callback is an
   * {@link InputError}. Calling close() from inside one ends the drain after that sample, which
   * counts as consumed.
   */
  consume(onRecord: PerfRecordCallback): number {
    this.#check();
    if (this.#draining)
      throw new InputError(`${this.#what}: consume() was called from inside a record callback`);
    let delivered = 0;
    this.#halt = false;
    for (const ring of this.#rings) {
      delivered += this.#drain(ring, onRecord);
      if (this.#halt) break;
    }
    return delivered;
  }

  /**
   * Drains one CPU's ring. Ordering with the kernel (kernel/events/ring_buffer.c): it writes the
   * records, then stores data_head after a write barrier; the reader loads data_head (an acquire:
   * Atomics.load), reads the records up to it, then stores data_tail (Atomics.store: after every
   * read), which gives the room back. The kernel masks positions with the ring's size (at most
   * 2^31 bytes here), so the low 32 bits of each give exact offsets and distances.
   *
   * Each sample's bytes are copied into the reader's record buffer: word by word (a sample's data
   * starts 4 bytes past an 8-byte boundary and its raw size is 4 short of a multiple of 8), with
   * the word index masked when the sample crosses the end of the ring (mapped once).
   */
  #drain(ring: CpuRing, onRecord: PerfRecordCallback): number {
    const tailLo = ring.tail32[LO]!;
    const avail = (Atomics.load(ring.head32, LO) - tailLo) >>> 0;
    if (avail === 0) return 0;
    const words = ring.words;
    const ints = ring.ints;
    const mask = ring.mask;
    const wordMask = mask >>> 2;
    const size = mask + 1;
    const record = this.#record;
    record.cpu = ring.cpu;
    let done = 0;
    let delivered = 0;
    this.#draining = true;
    try {
      while (done < avail) {
        const at = (tailLo + done) & mask;
        // headers are 8-byte aligned and 8 bytes long: never split by the end of the ring
        const w = at >>> 2;
        const type = words[w]!;
        const length = (words[w + 1]! >>> SIZE_SHIFT) & 0xffff;
        if (length < HEADER_SIZE || length > avail - done) {
          done = avail;
          throw new RawbpfError(
            "EPERFRING",
            `${this.#what}: a record on CPU ${ring.cpu} has an impossible size (${length}); the ring was reset to its head`,
          );
        }
        done += length;
        if (type === RECORD_SAMPLE) {
          const rawSize = words[(w + 2) & wordMask]!;
          if (rawSize + 12 > length) this.#badSample(ring, rawSize, length);
          const n = (rawSize + 3) >>> 2;
          if (rawSize <= 32 && at + 44 <= size) {
            // short samples, the common case: always 8 words, straight-line (no loop whose exit
            // the processor mispredicts when sizes vary), when the 32 bytes after the size field
            // lie before the end of the ring; the words past the sample are leftovers of the ring
            const to = record.words;
            const from = w + 3;
            to[0] = ints[from]!;
            to[1] = ints[from + 1]!;
            to[2] = ints[from + 2]!;
            to[3] = ints[from + 3]!;
            to[4] = ints[from + 4]!;
            to[5] = ints[from + 5]!;
            to[6] = ints[from + 6]!;
            to[7] = ints[from + 7]!;
          } else if (at + length <= size && rawSize <= SMALL_COPY) {
            // a short sample in one piece
            const to = record.words;
            const from = w + 3;
            for (let i = 0; i < n; i++) to[i] = ints[from + i]!;
          } else if (at + length <= size) {
            record.reserve(rawSize);
            record.bytes.set(ring.bytes.subarray(at + 12, at + 12 + rawSize));
          } else {
            record.reserve(rawSize);
            const to = record.words;
            for (let i = 0; i < n; i++) to[i] = ints[(w + 3 + i) & wordMask]!;
          }
          record.length = rawSize;
          delivered++;
          onRecord(record);
        } else if (type === RECORD_LOST) {
          const count = words[(w + 4 + LO) & wordMask]! + words[(w + 4 + HI) & wordMask]! * TWO_32;
          ring.lost += count;
          this.#lost += count;
          this.#onLost?.(count, ring.cpu);
        }
        // other types are skipped: none come with this event's attributes
        if (this.#halt) break; // closed or stopped by the callback
      }
    } finally {
      this.#draining = false;
      this.#delivered += delivered;
      // published even when the callback closed the reader: close() waits for the drain to end
      if (done > 0) this.#advance(ring, tailLo, done);
      if (this.#closed) this.#release();
    }
    return delivered;
  }

  #badSample(ring: CpuRing, rawSize: number, length: number): never {
    throw new RawbpfError(
      "EPERFRING",
      `${this.#what}: a sample on CPU ${ring.cpu} says ${rawSize} bytes in a record of ${length}`,
    );
  }

  /** Stores data_tail = tail + done: the low half while the high half stays, else the whole u64 at once. */
  #advance(ring: CpuRing, tailLo: number, done: number): void {
    const lo = tailLo + done;
    if (lo < TWO_32) {
      Atomics.store(ring.tail32, LO, lo);
      return;
    }
    const hi = (ring.tail32[HI]! + 1) >>> 0;
    Atomics.store(ring.tail64, 0, (BigInt(hi) << 32n) | BigInt(lo - TWO_32));
  }

  /**
   * Delivers samples as they come, on the Node event loop: whenever a CPU's event is readable
   * (the kernel wakes it after `wakeupEvents` samples), that CPU's ring is drained into
   * `onRecord` as by {@link PerfBuffer.consume}. Samples already waiting are delivered on the next
   * turn of the loop. Nothing blocks and nothing polls on a timer.
   *
   * Listening keeps the process alive (like a server) until {@link PerfBuffer.stop} or
   * {@link PerfBuffer.close}, unless `keepAlive: false`. Calling start again replaces the callback.
   */
  start(onRecord: PerfRecordCallback, options: PerfStartOptions = {}): void {
    this.#check();
    if (typeof onRecord !== "function") throw new InputError("PerfBuffer.start needs a record callback");
    const keep = options.keepAlive !== false;
    this.#listener = onRecord;
    this.#onError = options.onError;
    // libuv holds the poll callbacks (and koffi holds them for libuv) for as long as the handles
    // live: they must not hold the reader, or one dropped without close() is never collected. The
    // WeakRef is made here, not in the constructor: a WeakRef keeps its target alive until the
    // current job ends, so readers opened and dropped in one synchronous loop could not be
    // collected under descriptor pressure.
    let weak: WeakRef<PerfBuffer> | undefined;
    this.#rings.forEach((ring, index) => {
      const h = ring.handle;
      if (h.watch === undefined) {
        weak ??= new WeakRef(this);
        const onReady = PerfBuffer.#readyCallback(weak, index);
        h.watch = h.memory ? h.memory.watch(onReady) : watchReadable(h.fd.value, onReady);
      }
      h.watch.ref(keep);
      h.watch.start();
    });
    if (keep) active.add(this);
    else active.delete(this);
    // The kernel's readiness of a perf event is a flag that each poll of it clears, so samples
    // written around the time the loop registers the descriptor may never make it readable. The
    // rings are therefore looked at once more after a whole turn of the loop (two check phases:
    // the poll phase between them has registered the descriptors); anything written later wakes
    // it. The immediates hold the reader weakly, like the poll callbacks.
    if (this.#kick === undefined) {
      const weak = new WeakRef(this);
      this.#kick = setImmediate(() => {
        const reader = weak.deref();
        if (reader !== undefined) reader.#kickAgain(weak);
      });
    }
  }

  /**
   * A poll callback that reaches the reader through `weak` only (made in a static method, so that
   * its closure holds no context of an instance method, whose `this` would hold the reader).
   */
  static #readyCallback(weak: WeakRef<PerfBuffer>, index: number): (status: number) => void {
    return (status) => {
      const reader = weak.deref();
      if (reader !== undefined) reader.#readyAt(index, status);
    };
  }

  #kickAgain(weak: WeakRef<PerfBuffer>): void {
    this.#kick = setImmediate(() => {
      const reader = weak.deref();
      if (reader === undefined) return;
      reader.#kick = undefined;
      for (let index = 0; index < reader.#rings.length; index++) {
        if (reader.#listener === undefined || reader.#closed) break;
        reader.#readyAt(index, 0);
      }
    });
  }

  /**
   * Stops delivering samples (they wait in the rings for the next consume or start); idempotent.
   * Called from the listener, no sample after the current one is delivered.
   */
  stop(): void {
    if (this.#fromEvent) this.#halt = true;
    this.#listener = undefined;
    this.#onError = undefined;
    active.delete(this);
    if (this.#kick !== undefined) clearImmediate(this.#kick);
    this.#kick = undefined;
    // the poll handles go too: a stopped reader dropped without close() must be collectable
    for (const h of this.#res.cpus) {
      h.watch?.close();
      h.watch = undefined;
    }
  }

  #readyAt(index: number, status: number): void {
    const listener = this.#listener;
    if (listener === undefined || this.#closed) return;
    const ring = this.#rings[index]!;
    const onError = this.#onError;
    try {
      if (status < 0) throw new BpfError("poll", -status, {}, `of ${this.#what} on CPU ${ring.cpu}`);
      this.#fromEvent = true;
      this.#halt = false;
      this.#drain(ring, listener);
    } catch (e) {
      this.stop();
      reportListenerError(e, onError);
    } finally {
      this.#fromEvent = false;
    }
  }

  /**
   * Stops listening, removes the reader's events from the map, unmaps the rings and closes the
   * descriptors; a second call does nothing. Called from a record callback, it takes effect when
   * the callback returns (that sample counts as consumed, the ones after it stay in the ring). Any
   * later use is a {@link ClosedError}.
   */
  close(): void {
    if (this.#closed) return;
    this.stop();
    this.#closed = true;
    this.#halt = true;
    if (!this.#draining) this.#release();
  }

  /** Gives back everything the reader holds (after the drain in progress, if any). */
  #release(): void {
    collected.unregister(this);
    releaseResources(this.#res);
    for (const ring of this.#rings) retirePerfRing(ring.mapping);
  }

  /** The same as `close()`, for `using`: released when the block that declared it ends. */
  [Symbol.dispose](): void {
    this.close();
  }

  #check(): void {
    if (this.#closed) throw new ClosedError(this.#what);
  }
}
