/**
 * The native edge of BPF_MAP_TYPE_RINGBUF readers: mapping a ring's pages into this process,
 * retiring those mappings, duplicating its descriptor, and readiness from the Node event loop
 * (koffi's libuv poll handle on the descriptor).
 *
 * The kernel lays a ring buffer map out as pages of its descriptor (kernel/bpf/ringbuf.c):
 * - offset 0, one page: the consumer page; its first u64 is `consumer_pos`, the only thing user
 *   space writes (read-write, MAP_SHARED);
 * - offset one page: the producer page (its first u64 is `producer_pos`), then the data area of
 *   `size` bytes, which the kernel maps twice in a row so that a record crossing the end of the
 *   ring reads as one contiguous run of bytes (read-only: `page + 2 * size` bytes).
 *
 * Safety of views: JavaScript views made over this memory (koffi.view: an external ArrayBuffer)
 * cannot be detached, so a view a caller kept past close() would read unmapped memory and kill
 * the process with SIGSEGV. Instead of munmap, {@link retireRing} therefore replaces both regions
 * in place (MAP_FIXED) with read-only private anonymous zero pages: the ring's pages are unmapped at that
 * moment (the map's memory is no longer referenced by this process), stale views read zeros, and
 * the placeholder's address range is given back with munmap once the garbage collector has
 * freed the ArrayBuffers over it (a FinalizationRegistry). That registry is also the backstop
 * that unmaps a ring whose reader was never closed.
 */
import { BpfError } from "./error.js";
import { duplicateFd } from "./fd.js";
import * as libc from "./libc.js";

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 0x01;
const MAP_PRIVATE = 0x02;
const MAP_FIXED = 0x10;
/** MAP_ANONYMOUS on x86, arm, arm64, riscv (mips, parisc and alpha differ; Node runs on none of them here). */
const MAP_ANONYMOUS = 0x20;

/** One region of memory this module mapped. */
export interface Region {
  address: number;
  length: number;
  /** set when the range was given back already (it may belong to someone else since) */
  gone: boolean;
}

/** Unmaps a region once the ArrayBuffer over it is garbage: the real ring when never retired, else its placeholder. */
const unmapper = new FinalizationRegistry<Region>((r) => {
  if (!r.gone) libc.munmap(r.address, r.length);
});

/** A ring buffer map's pages in this process, with zero-copy ArrayBuffers over them. */
export interface RingMapping {
  /** the ring's data size in bytes (the map's max_entries, a power of 2) */
  readonly size: number;
  /** the page size the offsets are in */
  readonly pageSize: number;
  /** the consumer page (read-write): `consumer_pos` is its first u64 */
  readonly consumer: ArrayBuffer;
  /** the producer page and the data area mapped twice (read-only): `producer_pos` is its first u64, data starts at `pageSize` */
  readonly producer: ArrayBuffer;
  /** set by retireRing */
  retired: boolean;
  readonly regions: readonly [Region, Region];
}

function mmapOrThrow(length: number, prot: number, flags: number, fd: number, offset: number, what: string) {
  const address = Number(libc.mmap(0, length, prot, flags, fd, offset));
  if (address === -1) throw new BpfError("mmap", libc.errno(), {}, what);
  return address;
}

/**
 * Maps the ring buffer map `fd` of `size` data bytes: the consumer page read-write, the producer
 * page and the twice-mapped data area read-only.
 * @throws BpfError ("mmap") when the kernel refuses (not a ringbuf, or no address space)
 */
export function mapRing(fd: number, size: number, what = "of a ring buffer"): RingMapping {
  const page = libc.pageSize();
  const consumerAddress = mmapOrThrow(
    page,
    PROT_READ | PROT_WRITE,
    MAP_SHARED,
    fd,
    0,
    `${what} (consumer page)`,
  );
  const producerLength = page + 2 * size;
  let producerAddress: number;
  try {
    producerAddress = mmapOrThrow(
      producerLength,
      PROT_READ,
      MAP_SHARED,
      fd,
      page,
      `${what} (producer page and data)`,
    );
  } catch (e) {
    libc.munmap(consumerAddress, page);
    throw e;
  }
  const consumer = libc.viewOf(consumerAddress, page);
  const producer = libc.viewOf(producerAddress, producerLength);
  const regions: [Region, Region] = [
    { address: consumerAddress, length: page, gone: false },
    { address: producerAddress, length: producerLength, gone: false },
  ];
  unmapper.register(consumer, regions[0]);
  unmapper.register(producer, regions[1]);
  return { size, pageSize: page, consumer, producer, retired: false, regions };
}

/**
 * Maps `length` bytes of `fd` from `offset` with `prot` (MAP_SHARED), as a zero-copy ArrayBuffer
 * whose region is unmapped once the buffer is garbage (unless {@link retireRegions} gave it back).
 * @throws BpfError ("mmap") when the kernel refuses
 */
export function mapShared(
  fd: number,
  length: number,
  offset: number,
  writable: boolean,
  what: string,
): { memory: ArrayBuffer; region: Region } {
  return mapRegion(fd, length, offset, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, what);
}

/**
 * Maps `length` bytes of the file `fd` from `offset` (a multiple of the page size) read-only and
 * private (MAP_PRIVATE: the file's pages in the page cache, shared with every other reader, none
 * copied), as a zero-copy ArrayBuffer whose region is unmapped once the buffer is garbage.
 */
export function mapPrivate(
  fd: number,
  length: number,
  offset: number,
  what: string,
): { memory: ArrayBuffer; region: Region } {
  return mapRegion(fd, length, offset, PROT_READ, MAP_PRIVATE, what);
}

function mapRegion(
  fd: number,
  length: number,
  offset: number,
  prot: number,
  flags: number,
  what: string,
): { memory: ArrayBuffer; region: Region } {
  const address = mmapOrThrow(length, prot, flags, fd, offset, what);
  const memory = libc.viewOf(address, length);
  const region: Region = { address, length, gone: false };
  unmapper.register(memory, region);
  return { memory, region };
}

/**
 * Replaces each region in place with read-only zero pages (see the module comment); the
 * placeholders are unmapped when the ArrayBuffers over them are garbage.
 */
export function retireRegions(regions: readonly Region[]): void {
  for (const r of regions) {
    const at = Number(
      // Stryker disable next-line UnaryOperator: Linux ignores the descriptor of a MAP_ANONYMOUS mapping (-1 is for portability)
      libc.mmap(r.address, r.length, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
    );
    // out of memory for page tables: unmap outright (a stale view would then fault, but the ring is released)
    if (at !== r.address) {
      libc.munmap(r.address, r.length);
      r.gone = true;
    }
  }
}

/**
 * Unmaps the ring's pages now, leaving zero pages at the same addresses (see the module comment)
 * until the ArrayBuffers over them are garbage; a second call does nothing.
 */
export function retireRing(m: RingMapping): void {
  // a second retirement maps the same zero pages over themselves: the mapping holds the views, so
  // the placeholders cannot have been unmapped meanwhile
  // Stryker disable next-line ConditionalExpression: see above
  if (m.retired) return;
  // Stryker disable next-line BooleanLiteral: see above
  m.retired = true;
  retireRegions(m.regions);
}

/**
 * A duplicate of `fd` (close-on-exec) that the caller owns; `what` names the reader ("ring buffer
 * 'events'"). Under descriptor pressure (EMFILE, ENFILE) runs a collection and tries once more,
 * as {@link duplicateFd} does.
 */
export function dupFd(fd: number, what: string): number {
  return duplicateFd(fd, what);
}

/** A readiness watch on one descriptor, driven by the Node event loop (a libuv poll handle). */
export interface ReadableWatch {
  /** starts (or restarts) calling back when the descriptor is readable */
  start(): void;
  /** stops calling back; start() resumes */
  stop(): void;
  /** frees the handle (libuv closes it asynchronously); idempotent */
  close(): void;
  /** whether an active watch keeps the process alive (the default) */
  ref(keep: boolean): void;
}

/** What koffi passes the poll callback: libuv's status (0, or -errno) and the events. */
type PollCallback = (status: number, events: { readable: boolean }) => void;

/**
 * Watches `fd` for readability on the Node event loop, without blocking it: `onReady(0)` whenever
 * the descriptor is readable (level-triggered: again after each turn of the loop while it stays
 * readable), `onReady(-errno)` when libuv reports an error. Created stopped.
 *
 * libuv allows one poll handle per descriptor; give each watch a descriptor of its own ({@link dupFd}).
 */
export function watchReadable(fd: number, onReady: (status: number) => void): ReadableWatch {
  const cb: PollCallback = (status) => onReady(status);
  // koffi's typings say the callback takes the events only; it is called with (status, events)
  // Stryker disable next-line ObjectLiteral,BooleanLiteral: the handle is stopped at once below, and start() gives the events
  const handle = libc.koffi().node.poll(fd, { readable: true }, cb as never);
  handle.stop();
  let closed = false;
  return {
    start() {
      if (!closed) handle.start({ readable: true }, cb as never);
    },
    stop() {
      if (!closed) handle.stop();
    },
    close() {
      // Stryker disable next-line ConditionalExpression: koffi's close() of a closed poll handle does nothing (start, stop and ref crash)
      if (closed) return;
      closed = true;
      handle.close();
    },
    ref(keep: boolean) {
      if (closed) return;
      if (keep) handle.ref();
      else handle.unref();
    },
  };
}
