/**
 * The interpreter's memory: a table of regions (a stack frame per call depth, the context, the
 * packet, each map value the program touched, ring buffer records...). An address is 64 bits:
 * the high word is 0xffff0000 | region id, the low word 0x80000000 + the offset in the region, so
 * pointer arithmetic is plain 64-bit arithmetic and a pointer moved below its region's start or
 * past its end lands outside it and is caught. Every load and store is checked against the
 * region's bounds and its write permission; a miss stops the run with a {@link MemoryAccessError}.
 *
 * The state is module-level (one run at a time in a JS thread): loads and stores are plain
 * functions over it, which the compiled programs call directly.
 */
import type { Instruction } from "../isa/insn.js";
import { MemoryAccessError } from "./errors.js";

/** One region of memory a program may address. */
export interface Region {
  /** a name for errors: "stack of frame 0", "packet", "value of map 'counts'" */
  name: string;
  bytes: Uint8Array;
  view: DataView;
  /** the accessible range in bytes: [start, end) */
  start: number;
  end: number;
  writable: boolean;
  /**
   * context fields that read as pointers (offset → [high, low] words), as the kernel rewrites
   * `ctx->data` loads; null for ordinary memory
   */
  ptrs: Map<number, readonly [number, number]> | null;
}

/** Words of a 64-bit value; `T[0]` carries the high word of a function's 64-bit result. */
export const T = new Int32Array(2);

/** High word of addresses in region 0 (none). Region `id` has high word `HI_BASE + id`. */
export const HI_BASE = -65536; // 0xffff0000 as int32
/** Low word of a region's offset 0 (as an unsigned number). */
export const LO_BASE = 0x80000000;
/** Size of one stack frame (MAX_BPF_STACK). */
export const STACK_SIZE = 512;
/** Deepest call nesting the kernel allows (MAX_CALL_FRAMES). */
export const MAX_FRAMES = 8;
/** Region id of the stack frame at depth d is FRAME_ID + d (d < MAX_FRAMES + 1). */
export const FRAME_ID = 1;
export const CTX_ID = FRAME_ID + MAX_FRAMES + 1;
export const PACKET_ID = CTX_ID + 1;
/** the first region id handed out per run */
export const FIRST_DYNAMIC = PACKET_ID + 1;
const MAX_REGIONS = 65535;

function region(name: string, bytes: Uint8Array, writable: boolean): Region {
  return {
    name,
    bytes,
    view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    start: 0,
    end: bytes.byteLength,
    writable,
    ptrs: null,
  };
}

const EMPTY = new Uint8Array(0);
const NONE = region("none", EMPTY, false);
/** the region table, indexed by id */
export const regions: Region[] = [NONE];
const frameBytes = new Uint8Array(STACK_SIZE * (MAX_FRAMES + 1));
for (let d = 0; d <= MAX_FRAMES; d++)
  regions.push(
    region(`stack of frame ${d}`, frameBytes.subarray(d * STACK_SIZE, (d + 1) * STACK_SIZE), true),
  );
regions.push(region("context", EMPTY, false));
regions.push(region("packet", EMPTY, true));

const cache = new Map<Uint8Array, number>();

/** Where errors find the instruction at a slot: set by whoever runs a program. */
export const where: { insns: readonly (Instruction | undefined)[] } = { insns: [] };

// the empty context and packet of a run that has none: never changed (helpers that move the
// packet's start need a context with pointers, which only a run's own regions have)
const NO_CONTEXT = region("context", EMPTY, false);
const NO_PACKET = region("packet", EMPTY, true);

/** Forgets every per-run region (map values, records) and empties the context and packet. */
export function resetRegions(): void {
  regions.length = FIRST_DYNAMIC;
  cache.clear();
  regions[CTX_ID] = NO_CONTEXT;
  regions[PACKET_ID] = NO_PACKET;
}

/** Replaces a fixed region's memory (context, packet). */
export function setRegion(id: number, name: string, bytes: Uint8Array, writable: boolean): Region {
  const r = region(name, bytes, writable);
  regions[id] = r;
  return r;
}

/** The id of the region over `bytes` made in this run, or undefined. */
export function regionIdOf(bytes: Uint8Array): number | undefined {
  return cache.get(bytes);
}

/** The id of a region over `bytes`, made on first use in this run (map values, records). */
export function regionOf(bytes: Uint8Array, name: string, writable: boolean): number {
  let id = cache.get(bytes);
  if (id !== undefined) return id;
  id = regions.length;
  if (id >= MAX_REGIONS)
    throw new MemoryAccessError(
      -1,
      undefined,
      0n,
      0,
      false,
      "",
      `more than ${MAX_REGIONS} regions in one run`,
    );
  regions.push(region(name, bytes, writable));
  cache.set(bytes, id);
  return id;
}

/** The address of `offset` in region `id`: low word returned, high word in T[0]. */
export function pointer(id: number, offset: number): number {
  T[0] = HI_BASE + id;
  return (LO_BASE + offset) | 0;
}

/** A 64-bit address from its words, for messages. */
export function address(hi: number, lo: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** The region a high word names, or undefined. */
export function regionAt(hi: number): Region | undefined {
  const id = hi - HI_BASE;
  return id > 0 && id < regions.length ? regions[id] : undefined;
}

/** the region the last successful {@link at} found */
let cur: Region = NONE;

function fail(hi: number, lo: number, off: number, size: number, write: boolean, pc: number): never {
  const a = (address(hi, lo) + BigInt(off)) & 0xffffffffffffffffn;
  const id = hi - HI_BASE;
  const r = id > 0 && id < regions.length ? regions[id] : undefined;
  const insn = where.insns[pc];
  if (r === undefined) {
    const why =
      hi === 0 && lo === 0
        ? "a NULL pointer (a map lookup's result must be tested before it is used)"
        : hi === 0
          ? "a scalar, not a pointer"
          : "an address in no region";
    throw new MemoryAccessError(pc, insn, a, size, write, "", why);
  }
  const o = (lo >>> 0) + off - LO_BASE;
  if (write && !r.writable && o >= r.start && o + size <= r.end)
    throw new MemoryAccessError(pc, insn, a, size, write, r.name, "the region is read-only");
  throw new MemoryAccessError(
    pc,
    insn,
    a,
    size,
    write,
    r.name,
    `offset ${o} is outside the accessible bytes [${r.start}, ${r.end})`,
  );
}

/** Checks an access and returns its offset in its region (the region is left in `cur`). */
export function at(hi: number, lo: number, off: number, size: number, write: boolean, pc: number): number {
  const id = hi - HI_BASE;
  if (id > 0 && id < regions.length) {
    const r = regions[id]!;
    const o = (lo >>> 0) + off - LO_BASE;
    if (o >= r.start && o + size <= r.end && (r.writable || !write)) {
      cur = r;
      return o;
    }
  }
  return fail(hi, lo, off, size, write, pc);
}

/** The bytes at an address, `size` long (a view: helpers read keys and write values through it). */
export function bytesAt(hi: number, lo: number, size: number, write: boolean, pc: number): Uint8Array {
  if (size === 0) return EMPTY;
  const o = at(hi, lo, 0, size, write, pc);
  return cur.bytes.subarray(o, o + size);
}

export function ldb(hi: number, lo: number, off: number, pc: number): number {
  const o = at(hi, lo, off, 1, false, pc);
  return cur.bytes[o]!;
}
export function ldh(hi: number, lo: number, off: number, pc: number): number {
  const o = at(hi, lo, off, 2, false, pc);
  return cur.view.getUint16(o, true);
}
/** 32-bit load; T[0] is the high word (0, or a pointer's for context fields such as xdp_md.data) */
export function ldw(hi: number, lo: number, off: number, pc: number): number {
  const o = at(hi, lo, off, 4, false, pc);
  T[0] = 0;
  if (cur.ptrs !== null) {
    const p = cur.ptrs.get(o);
    if (p !== undefined) {
      T[0] = p[0];
      return p[1];
    }
  }
  return cur.view.getInt32(o, true);
}
/** 64-bit load: low word returned, high word in T[0] */
export function ldd(hi: number, lo: number, off: number, pc: number): number {
  const o = at(hi, lo, off, 8, false, pc);
  if (cur.ptrs?.has(o)) fail(hi, lo, off, 8, false, pc);
  const v = cur.view;
  T[0] = v.getInt32(o + 4, true);
  return v.getInt32(o, true);
}
export function stb(hi: number, lo: number, off: number, x: number, pc: number): void {
  const o = at(hi, lo, off, 1, true, pc);
  cur.bytes[o] = x;
}
export function sth(hi: number, lo: number, off: number, x: number, pc: number): void {
  const o = at(hi, lo, off, 2, true, pc);
  cur.view.setUint16(o, x & 0xffff, true);
}
export function stw(hi: number, lo: number, off: number, x: number, pc: number): void {
  const o = at(hi, lo, off, 4, true, pc);
  cur.view.setInt32(o, x, true);
}
export function std(hi: number, lo: number, off: number, xl: number, xh: number, pc: number): void {
  const o = at(hi, lo, off, 8, true, pc);
  const v = cur.view;
  v.setInt32(o, xl, true);
  v.setInt32(o + 4, xh, true);
}

/** Zeroes the stack frame at `depth` (a fresh frame reads as zeros, never as an older call's data). */
export function clearFrame(depth: number): void {
  frameBytes.fill(0, depth * STACK_SIZE, (depth + 1) * STACK_SIZE);
}

/** The DataView of the region the last checked access found (atomics read and write through it). */
export function lastView(): DataView {
  return cur.view;
}
