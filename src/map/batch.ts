/**
 * Batch operations (BPF_MAP_*_BATCH) with a visible fallback: where the kernel refuses batches for
 * a map type, the work is done element by element and the result says `fallback: true` and why.
 */
import type { AnyCodec } from "../codec/codec.js";
import type { CallContext } from "../sys/bpf.js";
import { Errno } from "../sys/errno.js";
import { BatchError, BpfError, InputError } from "../sys/error.js";
import {
  type MapBatchArgs,
  type MapBatchResult,
  mapDeleteBatch,
  mapLookupAndDeleteBatch,
  mapLookupBatch,
  mapUpdateBatch,
} from "../sys/map.js";

/** What the batch functions need of a map. */
export interface BatchTarget {
  fd: number;
  keySize: number;
  /** bytes of one element's value in the batch buffers (every CPU's slot for per-CPU maps) */
  valueBytes: number;
  maxEntries: number;
  ctx: CallContext;
  /** key/value buffers kept by the map between reading batches (entries are decoded copies) */
  scratch: BatchScratch;
}

/** Reusable batch buffers. */
export interface BatchScratch {
  keys?: Buffer;
  values?: Buffer;
}

function scratchBuffers(t: BatchTarget, chunk: number): { keys: Buffer; values: Buffer } {
  const s = t.scratch;
  const kb = chunk * t.keySize;
  const vb = chunk * t.valueBytes;
  if (!s.keys || s.keys.byteLength < kb) s.keys = Buffer.alloc(kb);
  if (!s.values || s.values.byteLength < vb) s.values = Buffer.alloc(vb);
  return { keys: s.keys, values: s.values };
}

/** Options of the reading batches. */
export interface BatchOptions {
  /** elements per system call (default 1024, at most the map's max entries); grown when a hash bucket needs more */
  chunk?: number;
}

/** Whether the work went element by element, and why. */
export type Fallback = { fallback: false } | { fallback: true; reason: string };

/** Entries read by a batch. */
export type EntriesBatchResult<K, V> = { entries: [K, V][] } & Fallback;
/** How many entries a batch stored. */
export type SetBatchResult = { count: number } & Fallback;
/** How many keys a batch deleted. */
export type DeleteBatchResult = { count: number } & Fallback;

/** errnos by which the kernel says "this map type has no such batch command". */
function unsupported(e: unknown): e is BpfError {
  return (
    e instanceof BpfError &&
    (e.errno === Errno.ENOTSUPP || e.errno === Errno.EOPNOTSUPP || e.errno === Errno.EINVAL)
  );
}

function reason(e: BpfError): string {
  const what = e.errno === Errno.EINVAL ? "for this map type or these flags" : "for this map type";
  return `${e.command} refused with ${e.errnoName} ${what}; done element by element instead`;
}

function chunkOf(t: BatchTarget, options: BatchOptions): number {
  const c = options.chunk ?? 1024;
  if (!Number.isInteger(c) || c < 1 || c > 1 << 20) {
    throw new InputError(`batch chunk must be an integer from 1 to 1048576, got ${c}`);
  }
  return Math.max(1, Math.min(c, t.maxEntries || c));
}

type BatchCall = (a: MapBatchArgs, ctx?: CallContext) => MapBatchResult;

/**
 * Runs a reading batch command to the end, handing each chunk to `sink`. Returns the kernel's
 * refusal when the very first call says the map type has no such command (the caller falls back).
 */
function readChunks(
  call: BatchCall,
  t: BatchTarget,
  options: BatchOptions,
  sink: (keys: Buffer, values: Buffer, count: number) => void,
): BpfError | undefined {
  let chunk = chunkOf(t, options);
  // the resume token: a u32 bucket for hash maps, a key for arrays
  const tokenSize = Math.max(t.keySize, 8);
  let inBatch = Buffer.alloc(tokenSize);
  let outBatch = Buffer.alloc(tokenSize);
  let { keys, values } = scratchBuffers(t, chunk);
  let first = true;
  for (;;) {
    let r: MapBatchResult;
    try {
      r = call({ fd: t.fd, ...(first ? {} : { inBatch }), outBatch, keys, values, count: chunk }, t.ctx);
    } catch (e) {
      if (e instanceof BpfError && e.errno === Errno.ENOSPC && chunk < 1 << 20) {
        // a hash bucket holds more elements than fit: retry from the same place with more room
        chunk *= 4;
        ({ keys, values } = scratchBuffers(t, chunk));
        continue;
      }
      if (first && unsupported(e)) return e;
      throw e;
    }
    sink(keys, values, r.count);
    if (r.done) return undefined;
    first = false;
    const swap = inBatch;
    inBatch = outBatch;
    outBatch = swap;
  }
}

function readAll<K, V>(
  call: BatchCall,
  t: BatchTarget,
  key: AnyCodec,
  value: AnyCodec,
  options: BatchOptions,
  fallback: () => [K, V][],
): EntriesBatchResult<K, V> {
  const entries: [K, V][] = [];
  const ks = t.keySize;
  const vs = t.valueBytes;
  const refused = readChunks(call, t, options, (keys, values, n) => {
    for (let i = 0; i < n; i++) entries.push([key.read(keys, i * ks), value.read(values, i * vs)]);
  });
  if (refused) return { entries: fallback(), fallback: true, reason: reason(refused) };
  return { entries, fallback: false };
}

/** Raw bytes of every entry: `count` keys back to back in `keys`, their values in `values`. */
export type RawBatchResult = { keys: Buffer; values: Buffer; count: number } & Fallback;

/**
 * Every entry by BPF_MAP_LOOKUP_BATCH as raw bytes, without decoding. The fallback gets the same
 * bytes element by element from `fallback`.
 */
export function lookupBatchRaw(
  t: BatchTarget,
  options: BatchOptions,
  fallback: () => { keys: Buffer; values: Buffer; count: number },
): RawBatchResult {
  const keyParts: Buffer[] = [];
  const valueParts: Buffer[] = [];
  let count = 0;
  const refused = readChunks(mapLookupBatch, t, options, (keys, values, n) => {
    keyParts.push(Buffer.from(keys.subarray(0, n * t.keySize)));
    valueParts.push(Buffer.from(values.subarray(0, n * t.valueBytes)));
    count += n;
  });
  if (refused) return { ...fallback(), fallback: true, reason: reason(refused) };
  const one = keyParts.length === 1;
  return {
    keys: one ? keyParts[0]! : Buffer.concat(keyParts),
    values: one ? valueParts[0]! : Buffer.concat(valueParts),
    count,
    fallback: false,
  };
}

/** Every entry by BPF_MAP_LOOKUP_BATCH. */
export function lookupBatch<K, V>(
  t: BatchTarget,
  key: AnyCodec,
  value: AnyCodec,
  options: BatchOptions,
  fallback: () => [K, V][],
): EntriesBatchResult<K, V> {
  return readAll(mapLookupBatch, t, key, value, options, fallback);
}

/** Every entry, deleted, by BPF_MAP_LOOKUP_AND_DELETE_BATCH. */
export function lookupAndDeleteBatch<K, V>(
  t: BatchTarget,
  key: AnyCodec,
  value: AnyCodec,
  options: BatchOptions,
  fallback: () => [K, V][],
): EntriesBatchResult<K, V> {
  return readAll(mapLookupAndDeleteBatch, t, key, value, options, fallback);
}

/** How a map encodes for a batch, and does one element. */
export interface UpdateEncoders {
  putKey(buf: Buffer, offset: number, key: unknown): void;
  putValue(buf: Buffer, offset: number, value: unknown): void;
  one(key: unknown, value: unknown): void;
}

/** Stores `entries` by BPF_MAP_UPDATE_BATCH with `elemFlags`. */
export function updateBatch(
  t: BatchTarget,
  entries: readonly (readonly [unknown, unknown])[],
  elemFlags: number,
  enc: UpdateEncoders,
): SetBatchResult {
  const n = entries.length;
  if (n === 0) return { count: 0, fallback: false };
  const keys = Buffer.alloc(n * t.keySize);
  const values = Buffer.alloc(n * t.valueBytes);
  for (let i = 0; i < n; i++) {
    const e = entries[i];
    if (!Array.isArray(e) || e.length !== 2)
      throw new InputError(`setBatch entry ${i} is not a [key, value] pair`);
    enc.putKey(keys, i * t.keySize, e[0]);
    enc.putValue(values, i * t.valueBytes, e[1]);
  }
  try {
    const r = mapUpdateBatch({ fd: t.fd, keys, values, count: n, elemFlags }, t.ctx);
    return { count: r.count, fallback: false };
  } catch (e) {
    // EINVAL is also what a bad element flag gives: the element-by-element path then reports it precisely
    if (!unsupported(e)) throw e;
    // go on from where the kernel stopped: the elements before that are stored already
    const done = e instanceof BatchError ? e.count : 0;
    for (let i = done; i < n; i++) enc.one(entries[i]![0], entries[i]![1]);
    return { count: n, fallback: true, reason: reason(e) };
  }
}

/** Deletes `list` by BPF_MAP_DELETE_BATCH. */
export function deleteBatch(
  t: BatchTarget,
  list: readonly unknown[],
  putKey: (buf: Buffer, offset: number, key: unknown) => void,
  one: (key: unknown) => boolean,
): DeleteBatchResult {
  const n = list.length;
  if (n === 0) return { count: 0, fallback: false };
  const keys = Buffer.alloc(n * t.keySize);
  for (let i = 0; i < n; i++) putKey(keys, i * t.keySize, list[i]);
  try {
    const r = mapDeleteBatch({ fd: t.fd, keys, count: n }, t.ctx);
    return { count: r.count, fallback: false };
  } catch (e) {
    if (!unsupported(e)) throw e;
    const done = e instanceof BatchError ? e.count : 0;
    let count = done;
    for (let i = done; i < n; i++) if (one(list[i])) count++;
    return { count, fallback: true, reason: reason(e) };
  }
}
