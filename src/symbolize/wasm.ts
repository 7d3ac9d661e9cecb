/**
 * The glue of rawbpf's WebAssembly for symbol tables (src/symbolize/wasm/symbols.as.ts, compiled
 * into wasm/symbols.wasm.ts): a fresh instance per table, memory taken from it for a file's bytes
 * (read straight into it) and for the arrays the parser and the sort write; and a scratch instance
 * per process for what a table needs only while it is built.
 */
import { readSync } from "node:fs";
import { InputError } from "../sys/error.js";
import { readFullyAt } from "../sys/read.js";
import { WASM } from "./wasm/symbols.wasm.js";

/** What the module exports (see wasm/symbols.as.ts for each function). */
export interface SymbolEngine {
  readonly memory: WebAssembly.Memory;
  take(bytes: number): number;
  zeros(): number;
  kallsyms(
    text: number,
    len: number,
    keys: number,
    nameStart: number,
    nameEnd: number,
    modStart: number,
    modEnd: number,
    types: number,
    ranges: number,
  ): number;
  stableOrder(keys: number, count: number, order: number, other: number): number;
  kernelUnique(
    count: number,
    order: number,
    keys: number,
    nameStart: number,
    nameEnd: number,
    modStart: number,
    modEnd: number,
    types: number,
    outKeys: number,
    outStart: number,
    outEnd: number,
    outModStart: number,
    outModEnd: number,
    outImage: number,
  ): number;
  reset(): void;
  elfSymbols(
    table: number,
    n: number,
    first: number,
    strings: number,
    strSize: number,
    strBase: number,
    alloc: number,
    shnum: number,
    machine: number,
    starts: number,
    sizes: number,
    names: number,
    count: number,
  ): number;
  elfSort(
    count: number,
    starts: number,
    sizes: number,
    names: number,
    order: number,
    keys2: number,
    order2: number,
    counts: number,
    outPairs: number,
    outNames: number,
  ): number;
  bucketIndex(
    keys: number,
    count: number,
    stride: number,
    min: number,
    width: number,
    out: number,
    buckets: number,
  ): void;
}

let compiled: WebAssembly.Module | undefined;
let scratch: SymbolEngine | undefined;

/** A fresh engine (the module is compiled once per process, on first use). */
export function symbolEngine(): SymbolEngine {
  compiled ??= new WebAssembly.Module(Buffer.from(WASM, "base64"));
  return new WebAssembly.Instance(compiled, {}).exports as unknown as SymbolEngine;
}

/**
 * The process's scratch engine, emptied: for what a table needs only while it is built (a symbol
 * table read a piece at a time, the sort's arrays), so that each table's own engine holds only
 * what it keeps. Its memory stays (as large as the largest table needed) and is used again: no
 * fresh pages, and no large garbage, for each table. Tables are built synchronously: one user at
 * a time.
 */
export function scratchEngine(): SymbolEngine {
  scratch ??= symbolEngine();
  scratch.reset();
  return scratch;
}

/**
 * Takes `bytes` of the engine's memory (16-byte aligned; whatever was there, a fresh instance's
 * zeros) and returns where; `what` names the table in the error when 4 GiB are not enough.
 */
export function take(e: SymbolEngine, bytes: number, what: string): number {
  const at = bytes > 0xffffffff ? 0 : e.take(bytes);
  if (at === 0) {
    throw new InputError(
      `${what} is too large to index: its symbols need more than the 4 GiB a WebAssembly memory has`,
    );
  }
  return at;
}

/**
 * Reads the file open as `fd` from its current position to its end into the engine's memory (a
 * /proc file says size 0: `expect` is where to start, the room grows as needed) and returns where
 * the bytes start and how many there are.
 */
export function readInto(
  e: SymbolEngine,
  fd: number,
  expect: number,
  what: string,
): { at: number; length: number } {
  let room = Math.ceil(Math.max(expect, 1 << 16) / 16) * 16;
  const at = take(e, room, what);
  let length = 0;
  for (;;) {
    if (length === room) {
      // the memory taken next follows what was taken last: the bytes stay in one piece
      if (take(e, room, what) !== at + room)
        throw new InputError(`${what}: the engine's memory was not contiguous`);
      room *= 2;
    }
    const n = readSync(
      fd,
      new Uint8Array(e.memory.buffer, at + length, room - length),
      0,
      room - length,
      null,
    );
    if (n === 0) return { at, length };
    length += n;
  }
}

/** Reads exactly `length` bytes at `offset` of the file open as `fd` into the engine's memory at `at`; false if the file is shorter. */
export function readAt(e: SymbolEngine, fd: number, at: number, offset: number, length: number): boolean {
  return readFullyAt(fd, new Uint8Array(e.memory.buffer, at, length), offset) === length;
}

/**
 * Ascending keys (addresses) and a bucket index over them, so that finding the last key at or
 * below an address searches one bucket (about one key) instead of the whole array. Built in the
 * engine's memory; the keys are a view of it. A key may come with other numbers laid after it
 * (`stride` numbers an entry: an ELF symbol's start and end side by side, one cache line).
 */
export class SortedKeys {
  /** the entries, ascending by their first number, `stride` numbers each */
  readonly keys: Float64Array;
  /** how many entries */
  readonly count: number;
  /** numbers an entry */
  readonly stride: number;
  readonly #min: number;
  /** 1 / the buckets' width (a power of two: exact) */
  readonly #scale: number;
  readonly #buckets: Uint32Array;

  /**
   * Indexes the `count` entries (`stride` numbers each, ascending by the first) at `at` in the
   * engine's memory (which must not grow after); no engine: no keys.
   */
  constructor(e: SymbolEngine | undefined, at: number, count: number, what: string, stride = 1) {
    this.count = e === undefined ? 0 : count;
    this.stride = stride;
    this.keys = new Float64Array(0);
    this.#min = 0;
    this.#scale = 1;
    this.#buckets = new Uint32Array(1);
    if (e === undefined || count === 0) return;
    const keys = new Float64Array(e.memory.buffer, at, count * stride);
    const min = keys[0] as number;
    const range = (keys[(count - 1) * stride] as number) - min;
    // about one key a bucket, at most 2 * count + 1 buckets
    const width = 2 ** Math.max(0, Math.ceil(Math.log2((range + 1) / count)));
    const buckets = Math.floor(range / width) + 1;
    const index = take(e, (buckets + 1) * 4, what);
    e.bucketIndex(at, count, stride, min, width, index, buckets);
    const memory = e.memory.buffer;
    this.keys = new Float64Array(memory, at, count * stride);
    this.#min = min;
    this.#scale = 1 / width;
    this.#buckets = new Uint32Array(memory, index, buckets + 1);
  }

  /** The index of the last key at or below `key`, or -1. No allocation. */
  floor(key: number): number {
    const keys = this.keys;
    const stride = this.stride;
    if (this.count === 0 || key < (keys[0] as number)) return -1;
    const buckets = this.#buckets;
    const b = Math.floor((key - this.#min) * this.#scale);
    let lo: number;
    let hi: number;
    if (b + 1 < buckets.length) {
      // the keys below the bucket's start, and those below the next one's: the answer is between
      lo = (buckets[b] as number) - 1;
      hi = (buckets[b + 1] as number) - 1;
      if (lo < 0) lo = 0;
    } else {
      lo = this.count - 1;
      hi = lo;
    }
    while (lo < hi) {
      const m = (lo + hi + 1) >>> 1;
      if ((keys[m * stride] as number) <= key) lo = m;
      else hi = m - 1;
    }
    return lo;
  }
}
