/**
 * Maps in memory: the kernel's map types with the kernel's flags and errnos, for programs run by
 * the interpreter and for `BpfMap`'s memory back end. Operations return 0 or a negative errno,
 * as the kernel's map operations do; the syscall-side wrapper turns those into `BpfError`s.
 *
 * Differences from the kernel, on purpose: hash iteration follows insertion order (the kernel's
 * follows buckets), the LRU evicts exactly the least recently used element (the kernel's lists
 * are approximate and per CPU), and a value pointer kept after its element is deleted still
 * reads the old bytes (as RCU lets the kernel's do, until the grace period).
 */

export const ENOENT = 2;
export const E2BIG = 7;
export const ENOMEM = 12;
export const EBUSY = 16;
export const EEXIST = 17;
export const EINVAL = 22;
export const ENOSPC = 28;
export const EOPNOTSUPP = 95;

export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;
export const BPF_F_LOCK = 4;
const BPF_F_RDONLY_PROG = 128;
const BPF_F_WRONLY_PROG = 256;

/** Descriptor numbers of memory objects start here (never a real descriptor of this process). */
export const MEMORY_FD_BASE = 0x40000000;
let nextFd = MEMORY_FD_BASE;
/** memory objects (maps, programs) by their descriptor number; weakly held */
const objects = new Map<number, WeakRef<object>>();

/** A descriptor number for a memory object. */
export function registerObject(o: object): number {
  const fd = ++nextFd;
  objects.set(fd, new WeakRef(o));
  return fd;
}
/** Forgets a memory object's descriptor (its close()). */
export function unregisterObject(fd: number): void {
  objects.delete(fd);
  if (fd === lastFd) {
    lastFd = 0;
    lastObject = undefined;
  }
}
// the last object found: programs look the same map up again and again (a WeakRef's deref and
// a Map lookup each time cost a map helper ~10%)
let lastFd = 0;
let lastObject: object | undefined;
/** The memory object a descriptor number names, or undefined. */
export function objectByFd(fd: number): object | undefined {
  if (fd === lastFd) return lastObject;
  const o = objects.get(fd)?.deref();
  if (o !== undefined) {
    lastFd = fd;
    lastObject = o;
  }
  return o;
}

/** The shape of an in-memory map. */
export interface MemoryMapSpec {
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
  name?: string;
  /** number of simulated CPUs for per-CPU maps (default 2) */
  cpus?: number;
  /** inner map template for array_of_maps / hash_of_maps */
  inner?: MemoryMap;
}

function hexKey(key: Uint8Array): string {
  let s = "";
  for (let i = 0; i < key.length; i++) s += String.fromCharCode(key[i]!);
  return s;
}

/** One in-memory map. */
export class MemoryMap {
  readonly fd: number;
  readonly type: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly name: string;
  readonly cpus: number;
  readonly perCpu: boolean;
  /** bytes of one CPU's value in the syscall buffer (round_up(value_size, 8)) */
  readonly cpuStride: number;
  readonly inner: MemoryMap | undefined;
  /** the program may write values (not BPF_F_RDONLY_PROG) */
  readonly progWritable: boolean;
  readonly progReadable: boolean;
  frozen = false;
  /** array or per-CPU array (fields, not getters: the helpers test them on every call) */
  readonly isArray: boolean;
  /** a hash of any kind (hash, per-CPU, LRU) or an LPM trie */
  readonly isHash: boolean;
  /** holds descriptors: a prog array or a map of maps */
  readonly holdsFds: boolean;
  /** a queue or a stack */
  readonly isQueue: boolean;

  // array-like storage: per CPU, one view per element
  #slots: Uint8Array[][] = [];
  // hash-like storage: key string → [key bytes, per-CPU values]
  #hash = new Map<string, { key: Uint8Array; values: Uint8Array[] }>();
  // queue / stack
  #items: Uint8Array[] = [];
  // fd-holding arrays (prog array, array of maps) and hash of maps: key → object fd
  #fds = new Map<string, number>();
  // ring buffer
  ring: RingState | undefined;
  /** a perf event array's rings by CPU index, stored by a PerfBuffer (bpf_perf_event_output: -ENOENT where none) */
  perfRings: (PerfRingState | undefined)[] = [];

  constructor(spec: MemoryMapSpec) {
    this.type = spec.type;
    this.keySize = spec.keySize;
    this.valueSize = spec.valueSize;
    this.maxEntries = spec.maxEntries;
    this.flags = spec.flags ?? 0;
    this.name = spec.name ?? "";
    this.cpus = spec.cpus ?? 2;
    this.perCpu = spec.type.startsWith("percpu_") || spec.type === "lru_percpu_hash";
    this.cpuStride = (this.valueSize + 7) & ~7;
    this.inner = spec.inner;
    this.progWritable = (this.flags & BPF_F_RDONLY_PROG) === 0;
    this.progReadable = (this.flags & BPF_F_WRONLY_PROG) === 0;
    const t = this.type;
    this.isArray = t === "array" || t === "percpu_array";
    this.isHash =
      t === "hash" || t === "percpu_hash" || t === "lru_hash" || t === "lru_percpu_hash" || t === "lpm_trie";
    this.holdsFds = t === "prog_array" || t === "array_of_maps" || t === "hash_of_maps";
    this.isQueue = t === "queue" || t === "stack";
    if (this.type === "array" || this.type === "percpu_array") {
      const n = this.perCpu ? this.cpus : 1;
      for (let c = 0; c < n; c++) {
        const buf = new Uint8Array(this.valueSize * this.maxEntries);
        const row: Uint8Array[] = [];
        for (let i = 0; i < this.maxEntries; i++)
          row.push(buf.subarray(i * this.valueSize, (i + 1) * this.valueSize));
        this.#slots.push(row);
      }
    }
    if (this.type === "ringbuf") this.ring = new RingState(this.maxEntries);
    this.fd = registerObject(this);
  }

  /** a name for messages */
  get label(): string {
    return this.name ? `map '${this.name}'` : `${this.type} map`;
  }

  #index(key: Uint8Array): number {
    return (key[0]! | (key[1]! << 8) | (key[2]! << 16) | (key[3]! << 24)) >>> 0;
  }

  /** An array map's value at index `i` as a program sees it (the CPU's slot for per-CPU arrays), or undefined. */
  lookupIndex(i: number, cpu: number): Uint8Array | undefined {
    return i < this.maxEntries ? this.#slots[this.perCpu ? cpu : 0]![i] : undefined;
  }

  /** LPM: the key with the bits past its prefix cleared, as a string; undefined when invalid */
  #lpmKey(key: Uint8Array, prefix: number): string {
    const out = key.slice();
    new DataView(out.buffer).setUint32(0, prefix, true);
    for (let b = 0; b < (this.keySize - 4) * 8; b++)
      if (b >= prefix) out[4 + (b >> 3)]! &= ~(0x80 >> (b & 7));
    return hexKey(out);
  }

  /**
   * The value for `key` as a program sees it (the CPU's slot for per-CPU maps), or undefined.
   * LPM tries match the longest prefix; LRU lookups make the element the most recently used.
   */
  lookup(key: Uint8Array, cpu: number): Uint8Array | undefined {
    if (this.isArray) {
      const i = this.#index(key);
      if (i >= this.maxEntries) return undefined;
      return this.#slots[this.perCpu ? cpu : 0]![i];
    }
    if (this.type === "lpm_trie") {
      const max = Math.min(
        new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true),
        (this.keySize - 4) * 8,
      );
      for (let p = max; p >= 0; p--) {
        const e = this.#hash.get(this.#lpmKey(key, p));
        if (e !== undefined) return e.values[0];
      }
      return undefined;
    }
    if (this.isHash) {
      const k = hexKey(key);
      const e = this.#hash.get(k);
      if (e === undefined) return undefined;
      if (this.type.startsWith("lru")) {
        this.#hash.delete(k);
        this.#hash.set(k, e);
      }
      return e.values[this.perCpu ? cpu : 0];
    }
    return undefined;
  }

  /** The descriptor stored at `key` in a prog array or map-of-maps, or undefined. */
  lookupFd(key: Uint8Array): number | undefined {
    return this.#fds.get(hexKey(key));
  }

  /**
   * The value of `key` as the syscall side reads it: every CPU's slot (each round_up(size, 8))
   * for per-CPU maps; the inner map's or program's descriptor for fd maps.
   */
  read(key: Uint8Array, out: Uint8Array): number {
    if (this.holdsFds) {
      const fd = this.lookupFd(key);
      if (fd === undefined) return -ENOENT;
      new DataView(out.buffer, out.byteOffset, 4).setUint32(0, fd, true);
      return 0;
    }
    if (this.isQueue) return this.peek(out);
    if (this.type === "lpm_trie") {
      const e = this.#hash.get(hexKey(key));
      if (e === undefined) return -ENOENT;
      out.set(e.values[0]!);
      return 0;
    }
    if (this.isArray && this.#index(key) >= this.maxEntries) return -ENOENT;
    if (!this.isArray && !this.isHash) return -EOPNOTSUPP;
    if (this.isHash && !this.#hash.has(hexKey(key))) return -ENOENT;
    for (let c = 0; c < (this.perCpu ? this.cpus : 1); c++) {
      const v = this.isArray ? this.#slots[c]![this.#index(key)]! : this.#hash.get(hexKey(key))!.values[c]!;
      out.set(v, c * this.cpuStride);
    }
    return 0;
  }

  /**
   * Stores a value. `value` holds one value, or (per-CPU maps from the syscall side, `allCpus`)
   * every CPU's slot; from a program, `cpu` >= 0 sets that CPU's slot and zeroes the others on
   * insertion, as the kernel does.
   */
  update(key: Uint8Array, value: Uint8Array, flags: number, allCpus = false): number {
    const f = flags & ~BPF_F_LOCK;
    if (f > BPF_EXIST) return -EINVAL;
    if (this.holdsFds) return -EINVAL; // descriptors go through updateFd
    if (this.isQueue) return this.push(value, flags);
    if (this.isArray) {
      const i = this.#index(key);
      if (i >= this.maxEntries) return -E2BIG;
      if (f === BPF_NOEXIST) return -EEXIST;
      this.#write(this.isArray ? (c) => this.#slots[c]![i]! : () => value, value, allCpus);
      return 0;
    }
    if (!this.isHash) return -EOPNOTSUPP;
    let k: string;
    if (this.type === "lpm_trie") {
      const prefix = new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true);
      if (prefix > (this.keySize - 4) * 8) return -EINVAL;
      k = this.#lpmKey(key, prefix);
    } else k = hexKey(key);
    const old = this.#hash.get(k);
    if (old !== undefined) {
      if (f === BPF_NOEXIST) return -EEXIST;
      // the kernel replaces a hash element (a new one, the old value stays readable through RCU)
      const values = old.values.map(() => new Uint8Array(this.valueSize));
      const e = { key: old.key, values };
      this.#fill(e.values, value, allCpus, old.values);
      if (this.type.startsWith("lru")) this.#hash.delete(k);
      this.#hash.set(k, e);
      return 0;
    }
    if (f === BPF_EXIST) return -ENOENT;
    if (this.#hash.size >= this.maxEntries) {
      if (!this.type.startsWith("lru")) return -E2BIG;
      const oldest = this.#hash.keys().next().value as string;
      this.#hash.delete(oldest);
    }
    const values: Uint8Array[] = [];
    for (let c = 0; c < (this.perCpu ? this.cpus : 1); c++) values.push(new Uint8Array(this.valueSize));
    this.#fill(values, value, allCpus, undefined);
    this.#hash.set(k, { key: key.slice(), values });
    return 0;
  }

  #fill(values: Uint8Array[], value: Uint8Array, allCpus: boolean, _old: Uint8Array[] | undefined): void {
    for (let c = 0; c < values.length; c++) {
      if (allCpus) values[c]!.set(value.subarray(c * this.cpuStride, c * this.cpuStride + this.valueSize));
      else values[c]!.set(value.subarray(0, this.valueSize));
    }
  }

  #write(slot: (cpu: number) => Uint8Array, value: Uint8Array, allCpus: boolean): void {
    for (let c = 0; c < (this.perCpu ? this.cpus : 1); c++) {
      if (allCpus) slot(c).set(value.subarray(c * this.cpuStride, c * this.cpuStride + this.valueSize));
      else slot(c).set(value.subarray(0, this.valueSize));
    }
  }

  /** A program's update of a per-CPU map touches one CPU's slot (others zeroed when new). */
  updateFromProgram(key: Uint8Array, value: Uint8Array, flags: number, cpu: number): number {
    if (!this.perCpu) return this.update(key, value, flags);
    if (this.holdsFds) return -EINVAL;
    const existing = this.lookup(key, cpu);
    if (existing !== undefined && this.isArray) {
      if ((flags & 3) === BPF_NOEXIST) return -EEXIST;
      existing.set(value.subarray(0, this.valueSize));
      return 0;
    }
    const all = new Uint8Array(this.cpuStride * this.cpus);
    if (existing !== undefined) {
      this.read(key, all);
    }
    all.set(value.subarray(0, this.valueSize), cpu * this.cpuStride);
    return this.update(key, all, flags, true);
  }

  /** Stores a descriptor (program or inner map) at `key` of a prog array or map-of-maps. */
  updateFd(key: Uint8Array, fd: number, flags: number): number {
    if (!this.holdsFds) return -EINVAL;
    const f = flags & ~BPF_F_LOCK;
    if (f > BPF_EXIST) return -EINVAL;
    const target = objectByFd(fd);
    if (target === undefined) return -9; // EBADF
    const k = hexKey(key);
    if (this.type !== "hash_of_maps") {
      if (this.#index(key) >= this.maxEntries) return -E2BIG;
      if (f === BPF_NOEXIST) return -EEXIST;
    } else {
      const has = this.#fds.has(k);
      if (has && f === BPF_NOEXIST) return -EEXIST;
      if (!has && f === BPF_EXIST) return -ENOENT;
      if (!has && this.#fds.size >= this.maxEntries) return -E2BIG;
    }
    if (this.type === "prog_array" ? target instanceof MemoryMap : !(target instanceof MemoryMap))
      return -EINVAL;
    if (target instanceof MemoryMap && this.inner !== undefined && !innerMatches(this.inner, target))
      return -EINVAL;
    this.#fds.set(k, fd);
    return 0;
  }

  delete(key: Uint8Array): number {
    if (this.isArray) return -EINVAL;
    if (this.holdsFds) {
      if (this.type !== "hash_of_maps" && this.#index(key) >= this.maxEntries) return -E2BIG;
      return this.#fds.delete(hexKey(key)) ? 0 : -ENOENT;
    }
    if (!this.isHash) return -EINVAL;
    if (this.type === "lpm_trie") {
      const prefix = new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true);
      if (prefix > (this.keySize - 4) * 8) return -EINVAL;
      return this.#hash.delete(this.#lpmKey(key, prefix)) ? 0 : -ENOENT;
    }
    return this.#hash.delete(hexKey(key)) ? 0 : -ENOENT;
  }

  /** The key after `key` (the first when `key` is undefined or absent), written into `out`. */
  nextKey(key: Uint8Array | undefined, out: Uint8Array): number {
    if (this.isArray || (this.holdsFds && this.type !== "hash_of_maps")) {
      const i = key === undefined ? -1 : this.#index(key);
      const next = i >= this.maxEntries ? 0 : i + 1;
      if (next >= this.maxEntries) return -ENOENT;
      new DataView(out.buffer, out.byteOffset, 4).setUint32(0, next, true);
      return 0;
    }
    const keys =
      this.type === "hash_of_maps"
        ? [...this.#fds.keys()]
        : [...this.#hash.values()].map((e) => hexKey(e.key));
    let idx = 0;
    if (key !== undefined) {
      const at = keys.indexOf(this.type === "lpm_trie" ? this.#lpmNorm(key) : hexKey(key));
      idx = at < 0 ? 0 : at + 1;
    }
    if (idx >= keys.length) return -ENOENT;
    const k = keys[idx]!;
    for (let i = 0; i < k.length; i++) out[i] = k.charCodeAt(i);
    return 0;
  }

  #lpmNorm(key: Uint8Array): string {
    return this.#lpmKey(key, new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true));
  }

  /** Number of elements present (hash-like and fd maps; max entries for arrays). */
  get size(): number {
    if (this.isArray) return this.maxEntries;
    if (this.isQueue) return this.#items.length;
    if (this.holdsFds) return this.#fds.size;
    return this.#hash.size;
  }

  push(value: Uint8Array, flags: number): number {
    if (!this.isQueue) return -EINVAL;
    if ((flags & ~BPF_EXIST) !== 0) return -EINVAL;
    if (this.#items.length >= this.maxEntries) {
      if (!(flags & BPF_EXIST)) return -E2BIG;
      if (this.type === "queue") this.#items.shift();
      else this.#items.shift();
    }
    this.#items.push(value.slice(0, this.valueSize));
    return 0;
  }

  peek(out: Uint8Array): number {
    if (!this.isQueue) return -EINVAL;
    if (this.#items.length === 0) return -ENOENT;
    out.set(this.type === "queue" ? this.#items[0]! : this.#items[this.#items.length - 1]!);
    return 0;
  }

  pop(out: Uint8Array): number {
    const r = this.peek(out);
    if (r === 0) {
      if (this.type === "queue") this.#items.shift();
      else this.#items.pop();
    }
    return r;
  }
}

/** BPF_F_INNER_MAP: inner arrays of any max_entries. */
const BPF_F_INNER_MAP = 0x1000;

/**
 * Whether `map` may be stored in a map-of-maps whose template is `meta`, as the kernel's
 * bpf_map_meta_equal (kernel/bpf/map_in_map.c) answers: same type, key and value sizes and flags;
 * arrays also the same max_entries unless the template has BPF_F_INNER_MAP.
 */
function innerMatches(meta: MemoryMap, map: MemoryMap): boolean {
  if (meta.type !== map.type || meta.keySize !== map.keySize || meta.valueSize !== map.valueSize)
    return false;
  if (meta.flags !== map.flags) return false;
  if ((meta.type === "array" || meta.type === "percpu_array") && !(meta.flags & BPF_F_INNER_MAP))
    return meta.maxEntries === map.maxEntries;
  return true;
}

/** BPF_RINGBUF_BUSY_BIT and BPF_RINGBUF_DISCARD_BIT of a record header's len. */
const BUSY_BIT = 0x80000000;
const DISCARD_BIT = 0x40000000;

/** A record reserved in a {@link RingState}: setting `state` commits (1) or discards (2) it. */
export class RingSlot {
  readonly data: Uint8Array;
  readonly #ring: RingState;
  readonly #at: number;
  #state = 0;
  constructor(ring: RingState, at: number, data: Uint8Array) {
    this.#ring = ring;
    this.#at = at;
    this.data = data;
  }
  /** 0 busy, 1 committed, 2 discarded */
  get state(): number {
    return this.#state;
  }
  set state(v: number) {
    this.#state = v;
    this.#ring.publish(this.#at, this.data.byteLength | (v === 2 ? DISCARD_BIT : 0));
  }
}

/** A readiness watch on a memory ring, shaped like the kernel back end's poll handle. */
export interface RingWatch {
  start(): void;
  stop(): void;
  close(): void;
  ref(keep: boolean): void;
}

/**
 * A ring buffer in memory, laid out as the kernel lays out the pages a reader maps
 * (kernel/bpf/ringbuf.c): a consumer page whose first u64 is consumer_pos, written by the reader;
 * a producer page whose first u64 is producer_pos, followed by the data area, where each record
 * has an 8-byte header (u32 len with the BUSY and DISCARD bits, u32 pg_off) and is 8-byte
 * aligned. The kernel maps the data area twice in a row so that a record crossing the end reads
 * as one run; here the area is twice the ring's size and a record is written (and read) as one
 * run from its start, which gives the same bytes. So `RingBuffer` reads it with the same code as
 * a kernel ring.
 */
export class RingState {
  /** the offset of the data area in the producer page, as the kernel's page size is */
  static readonly PAGE = 4096;
  readonly size: number;
  readonly consumerPage = new ArrayBuffer(RingState.PAGE);
  readonly producerPage: ArrayBuffer;
  readonly #cons: Uint32Array;
  readonly #prod: Uint32Array;
  readonly #words: Int32Array;
  readonly #data: Uint8Array;
  readonly #watches = new Set<MemoryRingWatch>();
  constructor(size: number) {
    this.size = size;
    this.producerPage = new ArrayBuffer(RingState.PAGE + 2 * size);
    this.#cons = new Uint32Array(this.consumerPage, 0, 2);
    this.#prod = new Uint32Array(this.producerPage, 0, 2);
    this.#words = new Int32Array(this.producerPage, RingState.PAGE);
    this.#data = new Uint8Array(this.producerPage, RingState.PAGE);
  }
  get consumer(): number {
    return this.#cons[HI]! * 2 ** 32 + this.#cons[LO]!;
  }
  get producer(): number {
    return this.#prod[HI]! * 2 ** 32 + this.#prod[LO]!;
  }
  /** bytes reserved and not yet consumed */
  get pending(): number {
    return this.producer - this.consumer;
  }
  /** A new busy record, or undefined when the ring has no room. */
  reserve(length: number): RingSlot | undefined {
    const need = 8 + ((length + 7) & ~7);
    const prod = this.producer;
    if (length > this.size - 8 || prod + need - this.consumer > this.size) return undefined;
    const at = prod & (this.size - 1);
    this.#words[at >>> 2] = length | BUSY_BIT | 0;
    this.#words[(at >>> 2) + 1] = 0;
    const next = prod + need;
    this.#prod[LO] = next >>> 0;
    this.#prod[HI] = Math.floor(next / 2 ** 32);
    return new RingSlot(this, at, this.#data.subarray(at + 8, at + 8 + length));
  }
  /** Writes a record's final header (committed or discarded) and wakes the watches. */
  publish(at: number, len: number): void {
    this.#words[at >>> 2] = len | 0;
    for (const w of this.#watches) w.kick();
  }
  /** Whether a reader would find a record done (committed or discarded) at the consumer position. */
  readable(): boolean {
    return this.pending > 0 && this.#words[(this.consumer & (this.size - 1)) >>> 2]! >= 0;
  }
  /**
   * Calls `onReady(0)` on a later turn of the event loop whenever a record is done and the reader
   * has not consumed it (level-triggered, as the kernel's poll on a ring's descriptor). Created
   * stopped; while started (and ref'ed) it keeps the process alive, like a poll handle.
   */
  watch(onReady: (status: number) => void): RingWatch {
    const w = new MemoryRingWatch(this, onReady);
    this.#watches.add(w);
    return w;
  }
  /** Forgets a closed watch. */
  unwatch(w: MemoryRingWatch): void {
    this.#watches.delete(w);
  }
}

/** Index of the low and high u32 halves of a u64 in a Uint32Array (little-endian hosts; big-endian ones swap). */
const LO = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 0 : 1;
const HI = 1 - LO;

/** What a {@link MemoryRingWatch} watches. */
interface Watched {
  readable(): boolean;
  unwatch(w: MemoryRingWatch): void;
}

/**
 * A perf event's ring in memory, laid out as the kernel's mmap of a PERF_COUNT_SW_BPF_OUTPUT event
 * (include/uapi/linux/perf_event.h): a control page with data_head (offset 1024), data_tail
 * (1032), data_offset and data_size, then the data area. Each sample is a PERF_RECORD_SAMPLE
 * (u32 type, u16 misc, u16 size), a u32 raw size and the raw bytes, padded with zeros so that the
 * record is 8-byte aligned (the raw size counts the padding, as the kernel's does). A sample that
 * does not fit is counted (-ENOSPC) and reported by a PERF_RECORD_LOST before the next one that fits.
 */
export class PerfRingState {
  static readonly PAGE = 4096;
  readonly memory: ArrayBuffer;
  readonly dataSize: number;
  readonly #ctl: Uint32Array;
  readonly #data: Uint8Array;
  readonly #view: DataView;
  readonly #watches = new Set<MemoryRingWatch>();
  #lost = 0;
  constructor(dataSize: number) {
    this.dataSize = dataSize;
    this.memory = new ArrayBuffer(PerfRingState.PAGE + dataSize);
    this.#ctl = new Uint32Array(this.memory, 0, PerfRingState.PAGE / 4);
    this.#data = new Uint8Array(this.memory, PerfRingState.PAGE);
    this.#view = new DataView(this.memory, PerfRingState.PAGE);
    const ctl = new DataView(this.memory);
    ctl.setBigUint64(1040, BigInt(PerfRingState.PAGE), true);
    ctl.setBigUint64(1048, BigInt(dataSize), true);
  }
  get head(): number {
    return this.#ctl[256 + HI]! * 2 ** 32 + this.#ctl[256 + LO]!;
  }
  get tail(): number {
    return this.#ctl[258 + HI]! * 2 ** 32 + this.#ctl[258 + LO]!;
  }
  /** Writes one sample (or counts it lost): 0, or -ENOSPC (-28) when the ring has no room. */
  output(raw: Uint8Array): number {
    const rawSize = ((raw.byteLength + 4 + 7) & ~7) - 4;
    const sample = 8 + 4 + rawSize;
    const lostRecord = this.#lost > 0 ? 24 : 0;
    let head = this.head;
    // the kernel keeps one byte free (CIRC_SPACE): a ring is never filled to the last byte
    if (sample + lostRecord > this.dataSize - 1 - (head - this.tail)) {
      this.#lost++;
      return -28;
    }
    if (lostRecord > 0) {
      head = this.#header(head, 2, 24);
      head = this.#u64(head, 0); // id
      head = this.#u64(head, this.#lost);
      this.#lost = 0;
    }
    head = this.#header(head, 9, sample);
    head = this.#u32(head, rawSize);
    for (let i = 0; i < rawSize; i++)
      this.#data[(head + i) % this.dataSize] = i < raw.byteLength ? raw[i]! : 0;
    head += rawSize;
    this.#ctl[256 + LO] = head >>> 0;
    this.#ctl[256 + HI] = Math.floor(head / 2 ** 32);
    for (const w of this.#watches) w.kick();
    return 0;
  }
  #header(at: number, type: number, size: number): number {
    at = this.#u32(at, type);
    this.#view.setUint16(at % this.dataSize, 0, true);
    this.#view.setUint16((at + 2) % this.dataSize, size, true);
    return at + 4;
  }
  #u32(at: number, v: number): number {
    this.#view.setUint32(at % this.dataSize, v, true);
    return at + 4;
  }
  #u64(at: number, v: number): number {
    this.#view.setBigUint64(at % this.dataSize, BigInt(v), true);
    return at + 8;
  }
  readable(): boolean {
    return this.head !== this.tail;
  }
  /** Calls `onReady(0)` on a later turn of the event loop while samples wait (as a poll handle on the event would). */
  watch(onReady: (status: number) => void): RingWatch {
    const w = new MemoryRingWatch(this, onReady);
    this.#watches.add(w);
    return w;
  }
  unwatch(w: MemoryRingWatch): void {
    this.#watches.delete(w);
  }
}

class MemoryRingWatch implements RingWatch {
  readonly #ring: Watched;
  readonly #onReady: (status: number) => void;
  #started = false;
  #closed = false;
  #keep = true;
  #scheduled: ReturnType<typeof setImmediate> | undefined;
  #alive: ReturnType<typeof setInterval> | undefined;
  constructor(ring: Watched, onReady: (status: number) => void) {
    this.#ring = ring;
    this.#onReady = onReady;
  }
  start(): void {
    if (this.#closed) return;
    this.#started = true;
    this.#hold();
    this.kick();
  }
  stop(): void {
    this.#started = false;
    this.#hold();
    if (this.#scheduled !== undefined) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
  }
  close(): void {
    if (this.#closed) return;
    this.stop();
    this.#closed = true;
    this.#ring.unwatch(this);
  }
  ref(keep: boolean): void {
    this.#keep = keep;
    this.#hold();
  }
  /** Schedules a call of onReady when started and there is something to read. */
  kick(): void {
    if (!this.#started || this.#scheduled !== undefined || !this.#ring.readable()) return;
    this.#scheduled = setImmediate(() => {
      this.#scheduled = undefined;
      if (!this.#started) return;
      this.#onReady(0);
      this.kick();
    });
    if (!this.#keep) this.#scheduled.unref();
  }
  /** A timer that keeps the event loop alive while the watch is started and ref'ed (as a poll handle does). */
  #hold(): void {
    const want = this.#started && this.#keep;
    if (want && this.#alive === undefined) this.#alive = setInterval(() => {}, 2 ** 30);
    else if (!want && this.#alive !== undefined) {
      clearInterval(this.#alive);
      this.#alive = undefined;
    }
  }
}
