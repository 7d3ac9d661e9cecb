/** `BpfMap`: a live kernel map made from a {@link MapSpec}, owning its descriptor. */

import { type BytesCodec, bytes } from "../codec/bytes.js";
import type { AnyCodec, In, Out } from "../codec/codec.js";
import { MemoryElemOps, MemoryHandle } from "../interp/elemops.js";
import { MEMORY_FD_BASE, MemoryMap, objectByFd } from "../interp/maps.js";
import type { CallContext } from "../sys/bpf.js";
import { ClosedError, InputError } from "../sys/error.js";
import { closeRaw, duplicateFd, expectFdKind, Fd } from "../sys/fd.js";
import { MapElemOps, mapCreate, mapFreeze, mapGetNextKey } from "../sys/map.js";
import { getFdById, objGet, objPin } from "../sys/obj.js";
import {
  type BatchOptions,
  type BatchScratch,
  type BatchTarget,
  type DeleteBatchResult,
  deleteBatch,
  type EntriesBatchResult,
  lookupAndDeleteBatch,
  lookupBatch,
  lookupBatchRaw,
  type RawBatchResult,
  type SetBatchResult,
  updateBatch,
} from "./batch.js";
import { loadStorageBtf } from "./btf.js";
import { type DumpedEntry, type DumpMapOptions, dumpMap } from "./dump.js";
import { IntViews, Kind, kindOf, readFast, SLOW, writeFast } from "./fast.js";
import {
  type LookupFlags,
  lookupFlagsValue,
  MAP_FLAGS,
  mapFlagsValue,
  type UpdateFlags,
  updateFlagsValue,
} from "./flags.js";
import { type MapInfo, readMapInfo } from "./info.js";
import { type ListedMap, listMaps } from "./list.js";
import { mapRef } from "./mapref.js";
import { perCpu } from "./percpu.js";
import {
  KEYLESS_TYPES,
  LOCAL_STORAGE_TYPES,
  type MapSpec,
  shapeProblem,
  VALUELESS_TYPES,
  type ValueCodecFor,
  ZERO_ENTRY_TYPES,
} from "./spec.js";
import { isMapOfMaps, isPerCpu, type MapTypeName, mapTypeName, mapTypeNumber } from "./types.js";

/** Codecs to read an existing map with (`BpfMap.open`, `BpfMap.fromId`). */
export interface OpenOptions<KC extends AnyCodec = BytesCodec, VC extends AnyCodec = BytesCodec> {
  /** key codec; its size must be the map's key size */
  key?: KC;
  /** value codec (one CPU's value for per-CPU maps); its size must be the map's value size */
  value?: VC;
  /** open read-only (BPF_F_RDONLY) or write-only (BPF_F_WRONLY) */
  flags?: readonly ("BPF_F_RDONLY" | "BPF_F_WRONLY")[];
}

/** The shape of a live map, as the kernel reports it. */
interface Shape {
  type: MapTypeName;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
}

/** Copies the first `n` bytes of `from` into `to`: a plain loop for small keys and values (cheaper than set()). */
function copyBytes(from: Uint8Array, to: Uint8Array, n: number): void {
  if (n > 64) {
    to.set(n === from.byteLength ? from : from.subarray(0, n));
    return;
  }
  for (let i = 0; i < n; i++) to[i] = from[i]!;
}

function checkU32(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new InputError(`${what} must be an integer from 0 to 4294967295, got ${String(value)}`);
  }
  return value;
}

function codecSize(codec: AnyCodec | undefined, size: number | undefined, what: string): number | undefined {
  if (codec === undefined) return size === undefined ? undefined : checkU32(size, `${what} size`);
  if (codec === null || typeof codec !== "object" || typeof codec.write !== "function") {
    throw new InputError(`${what} must be a codec (u32, u64, struct({...}), bytes(n), ...)`);
  }
  if (size !== undefined && size !== codec.size) {
    throw new InputError(
      `${what}Size ${size} disagrees with the ${what} codec ${codec.description}, which is ${codec.size} bytes: give one of them`,
    );
  }
  return codec.size;
}

const EXPLAIN_STRUCT_OPS =
  "struct_ops maps need btfVmlinuxValueTypeId: the id of `struct bpf_struct_ops_<name>` in /sys/kernel/btf/vmlinux (e.g. bpf_struct_ops_tcp_congestion_ops), with valueSize its size";

/**
 * The inner-map template of a map-of-maps on the memory back end: made from a spec on the memory
 * back end, or a live memory map's (a kernel map cannot be the template of a memory one).
 */
function memoryInnerMap(
  inner: MapSpec<MapTypeName, AnyCodec, AnyCodec> | { readonly fd: number },
): MemoryMap {
  if (!(inner instanceof BpfMap) && "type" in inner) {
    using template = BpfMap.create({ ...inner, backend: "memory" });
    return objectByFd(template.fd) as MemoryMap;
  }
  const found = inner.fd > MEMORY_FD_BASE ? objectByFd(inner.fd) : undefined;
  if (!(found instanceof MemoryMap))
    throw new InputError(
      `innerMap of a memory map must be a map spec or a live memory map, got descriptor ${inner.fd} (a kernel map or closed)`,
    );
  return found;
}

/**
 * A live BPF map. Keys and values go through codecs (`u32`, `u64`, `struct({...})`, ...) or are
 * raw bytes; a raw `Uint8Array` of the right size is accepted anywhere a key or value is.
 *
 * Element operations reuse one attr buffer and preallocated key/value buffers: with integer keys,
 * `get` and `set` allocate nothing but the value they return.
 *
 * @example
 * ```ts
 * using counts = BpfMap.create({ type: "hash", key: u32, value: u64, maxEntries: 16 });
 * counts.set(42, 1n);
 * counts.get(42); // 1n
 * ```
 */
export class BpfMap<KC extends AnyCodec = BytesCodec, VC extends AnyCodec = BytesCodec> {
  /** the map type, as bpftool names it */
  readonly type: MapTypeName;
  /** key size in bytes */
  readonly keySize: number;
  /** value size in bytes, as the kernel counts it (one CPU's value for per-CPU maps) */
  readonly valueSize: number;
  readonly maxEntries: number;
  /** creation flags (bit mask; names through `info().flagNames`) */
  readonly flags: number;
  /** the kernel name ("" when none was given) */
  readonly name: string;
  /** the key codec */
  readonly key: KC;
  /** the value codec (for per-CPU maps: the whole per-CPU value; for map-in-map: inner maps) */
  readonly value: VC;

  readonly #fd: Fd | MemoryHandle;
  readonly #ops: MapElemOps | MemoryElemOps;
  readonly #ctx: CallContext;
  readonly #keyRaw: boolean;
  readonly #valueRaw: boolean;
  readonly #valueView: Buffer;
  /** value bytes of one element (every CPU's slot for per-CPU maps) */
  readonly #valueBytes: number;
  readonly #batchScratch: BatchScratch = {};
  /** set by close(): the hot paths test this plain field */
  #closed = false;
  /** fast-path kinds of the key and value codecs (Kind.OTHER: through the codec) */
  readonly #keyKind: number;
  readonly #valueKind: number;
  /** integer views over the element key and value buffers */
  readonly #keyViews: IntViews;
  readonly #valueViews: IntViews;

  private constructor(fd: Fd | MemoryHandle, shape: Shape, key: KC, value: VC, ops?: MemoryElemOps) {
    this.type = shape.type;
    this.keySize = shape.keySize;
    this.valueSize = shape.valueSize;
    this.maxEntries = shape.maxEntries;
    this.flags = shape.flags;
    this.name = shape.name;
    this.key = key;
    this.value = value;
    this.#fd = fd;
    this.#ctx = { what: shape.name ? `on map '${shape.name}'` : `on ${shape.type} map` };
    this.#ops = ops ?? new MapElemOps(fd.value, shape.keySize, value.size, this.#ctx);
    this.#keyRaw = (key as { raw?: boolean }).raw === true;
    this.#valueRaw = (value as { raw?: boolean }).raw === true;
    this.#valueView = this.#ops.value.subarray(0, value.size);
    this.#valueBytes = value.size;
    this.#keyKind = kindOf(key, this.#ops.key);
    this.#valueKind = kindOf(value, this.#ops.value);
    this.#keyViews = new IntViews(this.#ops.key);
    this.#valueViews = new IntViews(this.#ops.value);
  }

  /**
   * Creates a map from a spec. Everything the library can check is checked first (type and flag
   * names, sizes, numbers, the name) with {@link InputError}; then the kernel decides, and a
   * refusal is a {@link BpfError} naming the command and errno.
   */
  static create<
    const T extends MapTypeName,
    KC extends AnyCodec = BytesCodec,
    VC extends AnyCodec = BytesCodec,
  >(spec: MapSpec<T, KC, VC>): BpfMap<KC, ValueCodecFor<T, VC>> {
    if (spec === null || typeof spec !== "object")
      throw new InputError("BpfMap.create needs a map spec object");
    const type = spec.type as MapTypeName;
    const typeNumber = mapTypeNumber(type);
    let flags = mapFlagsValue(spec.flags);
    const keyless = KEYLESS_TYPES.includes(type);
    const valueless = VALUELESS_TYPES.includes(type);
    const ofMaps = isMapOfMaps(type);

    let keySize = codecSize(spec.key, spec.keySize, "key") ?? (keyless ? 0 : undefined);
    if (ofMaps && spec.value !== undefined) {
      throw new InputError(
        `${type} values are inner maps: leave out the value codec (get returns the inner map id)`,
      );
    }
    let valueSize =
      codecSize(spec.value, spec.valueSize, "value") ?? (valueless ? 0 : ofMaps ? 4 : undefined);
    if (keySize === undefined) throw new InputError(`a ${type} map needs a key codec or keySize`);
    if (valueSize === undefined) throw new InputError(`a ${type} map needs a value codec or valueSize`);
    const maxEntries =
      spec.maxEntries === undefined
        ? ZERO_ENTRY_TYPES.includes(type)
          ? 0
          : undefined
        : checkU32(spec.maxEntries, "maxEntries");
    if (maxEntries === undefined) throw new InputError(`a ${type} map needs maxEntries`);

    if (keyless && keySize !== 0)
      throw new InputError(`${type} maps have no key: keySize must be 0, got ${keySize}`);
    if (valueless && valueSize !== 0) {
      throw new InputError(`${type} maps have no value: valueSize must be 0, got ${valueSize}`);
    }
    const problem = shapeProblem(type, keySize, ofMaps ? 4 : valueSize, maxEntries);
    if (problem !== undefined) throw new InputError(problem);
    if (type === "ringbuf" || type === "user_ringbuf") {
      if (maxEntries < 4096 || (maxEntries & (maxEntries - 1)) !== 0) {
        throw new InputError(
          `a ${type}'s maxEntries is its size in bytes and must be a power of 2 and a multiple of the page size (e.g. 65536), got ${maxEntries}`,
        );
      }
    }
    if (type === "lpm_trie" && !(flags & MAP_FLAGS.BPF_F_NO_PREALLOC)) {
      throw new InputError(
        "lpm_trie maps need the flag BPF_F_NO_PREALLOC (the kernel refuses preallocated tries)",
      );
    }
    if (type === "arena" && !(flags & MAP_FLAGS.BPF_F_MMAPABLE)) {
      throw new InputError("arena maps need the flag BPF_F_MMAPABLE");
    }
    if (LOCAL_STORAGE_TYPES.includes(type) && !(flags & MAP_FLAGS.BPF_F_NO_PREALLOC)) {
      throw new InputError(`${type} maps need the flag BPF_F_NO_PREALLOC`);
    }
    if (type === "struct_ops" && spec.btfVmlinuxValueTypeId === undefined)
      throw new InputError(EXPLAIN_STRUCT_OPS);
    if (ofMaps && spec.innerMap === undefined) {
      throw new InputError(`${type} maps need innerMap: the spec of the inner maps, or one live inner map`);
    }
    if (!ofMaps && spec.innerMap !== undefined)
      throw new InputError(`innerMap only applies to array_of_maps and hash_of_maps`);
    if (spec.numaNode !== undefined) {
      checkU32(spec.numaNode, "numaNode");
      flags |= MAP_FLAGS.BPF_F_NUMA_NODE;
    }

    // key and value codecs
    const keyCodec = (spec.key ?? bytes(keySize)) as AnyCodec;
    let valueCodec: AnyCodec = ofMaps ? mapRef : (spec.value ?? bytes(valueSize));
    if (isPerCpu(type)) valueCodec = perCpu(valueCodec);
    keySize = keyCodec.size;
    valueSize = ofMaps ? 4 : valueSize;

    if (spec.backend === "memory") {
      // the memory back end (src/interp): no bpf() call
      const cpus = isPerCpu(type) ? valueCodec.size / (Math.ceil(valueSize / 8) * 8) : 1;
      const inner = spec.innerMap === undefined ? undefined : memoryInnerMap(spec.innerMap);
      const ops = new MemoryElemOps(
        {
          type,
          keySize,
          valueSize,
          maxEntries,
          flags,
          ...(spec.name === undefined ? {} : { name: spec.name }),
          ...(inner === undefined ? {} : { inner }),
          cpus,
        },
        valueCodec.size,
      );
      const shape: Shape = { type, keySize, valueSize, maxEntries, flags, name: spec.name ?? "" };
      return new BpfMap(new MemoryHandle(ops.map.fd), shape, keyCodec, valueCodec, ops) as unknown as BpfMap<
        KC,
        ValueCodecFor<T, VC>
      >;
    }
    if (spec.backend !== undefined && spec.backend !== "kernel")
      throw new InputError(`backend must be "kernel" or "memory", got ${JSON.stringify(spec.backend)}`);
    // things that must live only for the create call
    let innerFd: number | undefined;
    let innerTemplate: BpfMap<AnyCodec, AnyCodec> | undefined;
    let btfFd = spec.btfFd;
    let btfKeyTypeId = spec.btfKeyTypeId;
    let btfValueTypeId = spec.btfValueTypeId;
    let ownBtfFd = -1;
    try {
      if (spec.innerMap !== undefined) {
        const inner = spec.innerMap;
        if ("type" in inner) {
          innerTemplate = BpfMap.create(inner as MapSpec<MapTypeName, AnyCodec, AnyCodec>) as BpfMap<
            AnyCodec,
            AnyCodec
          >;
          innerFd = innerTemplate.fd;
        } else {
          innerFd = inner.fd;
        }
      }
      if (LOCAL_STORAGE_TYPES.includes(type) && btfFd === undefined) {
        if (keySize !== 4)
          throw new InputError(`${type} keys are descriptors (int): keySize must be 4, got ${keySize}`);
        const btf = loadStorageBtf(valueSize);
        ownBtfFd = btf.fd;
        btfFd = btf.fd;
        btfKeyTypeId = btf.keyTypeId;
        btfValueTypeId = btf.valueTypeId;
      }
      if (type === "struct_ops" && btfFd === undefined) {
        // the kernel wants some BTF descriptor alongside the vmlinux type id; any valid BTF will do
        const btf = loadStorageBtf(4);
        ownBtfFd = btf.fd;
        btfFd = btf.fd;
      }
      const ctx: CallContext = { what: spec.name ? `of map '${spec.name}' (${type})` : `of ${type} map` };
      const raw = mapCreate(
        {
          mapType: typeNumber,
          keySize,
          valueSize,
          maxEntries,
          mapFlags: flags & ~MAP_FLAGS.BPF_F_NUMA_NODE,
          ...(innerFd !== undefined && { innerMapFd: innerFd }),
          ...(spec.numaNode !== undefined && { numaNode: spec.numaNode }),
          ...(spec.name !== undefined && { name: spec.name }),
          ...(spec.ifindex !== undefined && { ifindex: checkU32(spec.ifindex, "ifindex") }),
          ...(btfFd !== undefined && { btfFd }),
          ...(btfKeyTypeId !== undefined && { btfKeyTypeId }),
          ...(btfValueTypeId !== undefined && { btfValueTypeId }),
          ...(spec.btfVmlinuxValueTypeId !== undefined && {
            btfVmlinuxValueTypeId: spec.btfVmlinuxValueTypeId,
          }),
          ...(spec.mapExtra !== undefined && { mapExtra: spec.mapExtra }),
        },
        ctx,
      );
      const fd = new Fd(raw, spec.name ? `map '${spec.name}'` : `${type} map`);
      const shape: Shape = { type, keySize, valueSize, maxEntries, flags, name: spec.name ?? "" };
      return new BpfMap(fd, shape, keyCodec, valueCodec) as unknown as BpfMap<KC, ValueCodecFor<T, VC>>;
    } finally {
      innerTemplate?.close();
      closeRaw(ownBtfFd);
    }
  }

  /**
   * Opens the map pinned at `path` in a bpffs (BPF_OBJ_GET). Its shape comes from the kernel;
   * codecs, when given, must match its key and value sizes.
   */
  static open<KC extends AnyCodec = BytesCodec, VC extends AnyCodec = BytesCodec>(
    path: string,
    options: OpenOptions<KC, VC> = {},
  ): BpfMap<KC, VC> {
    if (typeof path !== "string" || path === "")
      throw new InputError("BpfMap.open needs the path of a pinned map");
    const raw = objGet(path, mapFlagsValue(options.flags), { what: `of ${path}` });
    return BpfMap.#adopt(raw, `map pinned at ${path}`, options);
  }

  /**
   * Every map in the kernel (its info, memlock, frozen), in id order, as `bpftool map list` shows
   * them; maps freed while listing are left out. Needs CAP_SYS_ADMIN.
   */
  static list(): ListedMap[] {
    return listMaps();
  }

  /** Opens the map with kernel id `id` (BPF_MAP_GET_FD_BY_ID); see {@link BpfMap.open}. */
  static fromId<KC extends AnyCodec = BytesCodec, VC extends AnyCodec = BytesCodec>(
    id: number,
    options: OpenOptions<KC, VC> = {},
  ): BpfMap<KC, VC> {
    checkU32(id, "map id");
    const raw = getFdById("map", id, mapFlagsValue(options.flags), { what: `for map id ${id}` });
    return BpfMap.#adopt(raw, `map id ${id}`, options);
  }

  /**
   * A BpfMap for the map that descriptor `fd` of this process refers to, its shape read from the
   * kernel. `fd` stays the caller's: the BpfMap owns a duplicate of it, so closing the BpfMap never
   * closes `fd` (or a number something else reuses), and closing `fd` leaves the BpfMap working.
   * @throws InputError when `fd` is not open or refers to something else than a BPF map
   *   ("fd 18 is /etc/hostname, not a BPF map"); `fd` is left as it was
   */
  static fromFd<KC extends AnyCodec = BytesCodec, VC extends AnyCodec = BytesCodec>(
    fd: number,
    options: OpenOptions<KC, VC> = {},
  ): BpfMap<KC, VC> {
    checkU32(fd, "map descriptor");
    expectFdKind(fd, "map");
    return BpfMap.#adopt(duplicateFd(fd, `map fd ${fd}`), `map fd ${fd}`, options);
  }

  static #adopt<KC extends AnyCodec, VC extends AnyCodec>(
    raw: number,
    what: string,
    options: OpenOptions<KC, VC>,
  ): BpfMap<KC, VC> {
    const fd = new Fd(raw, what);
    try {
      expectFdKind(raw, "map");
      const info = readMapInfo(raw);
      const type = mapTypeName(info.typeNumber);
      if (type === undefined)
        throw new InputError(`${what} has map type ${info.typeNumber}, which rawbpf does not know`);
      const ofMaps = isMapOfMaps(type);
      codecSize(options.key, info.keySize, "key");
      if (!ofMaps) codecSize(options.value, info.valueSize, "value");
      const keyCodec = (options.key ?? bytes(info.keySize)) as AnyCodec;
      let valueCodec: AnyCodec = ofMaps ? mapRef : (options.value ?? bytes(info.valueSize));
      if (isPerCpu(type)) valueCodec = perCpu(valueCodec);
      const shape: Shape = {
        type,
        keySize: info.keySize,
        valueSize: info.valueSize,
        maxEntries: info.maxEntries,
        flags: info.flags,
        name: info.name,
      };
      return new BpfMap(fd, shape, keyCodec, valueCodec) as unknown as BpfMap<KC, VC>;
    } catch (e) {
      fd.close();
      throw e;
    }
  }

  /** The descriptor number; throws {@link ClosedError} after close(). */
  get fd(): number {
    return this.#fd.value;
  }

  /**
   * Every entry as structured values, formatted by the map's BTF (structs become objects with
   * field names), as `bpftool map dump` shows a map with BTF. `lookupFlags: BPF_F_LOCK` reads
   * values holding a bpf_spin_lock under their lock.
   * @throws InputError when the map has no BTF for its values
   */
  dump(options?: DumpMapOptions): DumpedEntry[] {
    return dumpMap(this.fd, options);
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#fd.closed;
  }

  #check(): void {
    if (this.#closed) this.#throwClosed();
  }

  #throwClosed(): never {
    throw new ClosedError(this.name ? `map '${this.name}'` : `${this.type} map`);
  }

  /** Writes the key into the element buffer: u32 inline, other integer kinds by view, else the codec. */
  #writeKey(key: In<KC> | Uint8Array): void {
    const kind = this.#keyKind;
    if (kind === Kind.U32) {
      if (typeof key === "number" && key >>> 0 === key) {
        this.#keyViews.u32[0] = key;
        return;
      }
    } else if (kind !== Kind.OTHER && writeFast(kind, this.#keyViews, key)) return;
    this.#putKey(key);
  }

  /** Writes the value into the element buffer: by view for integer kinds, else the codec. */
  #writeValue(value: In<VC> | Uint8Array): void {
    const kind = this.#valueKind;
    if (kind !== Kind.OTHER && writeFast(kind, this.#valueViews, value)) return;
    this.#putValue(value);
  }

  /** The value in the element buffer, decoded. */
  #readValue(): Out<VC> {
    const kind = this.#valueKind;
    if (kind === Kind.U64) return this.#valueViews.u64[0] as Out<VC>;
    const v = kind === Kind.OTHER ? SLOW : readFast(kind, this.#valueViews);
    return (v === SLOW ? this.value.read(this.#ops.value, 0) : v) as Out<VC>;
  }

  #putKey(key: In<KC> | Uint8Array): void {
    if (!this.#keyRaw && key instanceof Uint8Array) {
      if (key.byteLength !== this.keySize) {
        throw new InputError(
          `the key must be ${this.keySize} bytes (${this.key.description}), got ${key.byteLength} bytes`,
        );
      }
      copyBytes(key, this.#ops.key, key.byteLength);
    } else {
      this.key.write(this.#ops.key, 0, key);
    }
  }

  #putValue(value: In<VC> | Uint8Array): void {
    if (!this.#valueRaw && value instanceof Uint8Array) {
      if (value.byteLength !== this.value.size) {
        throw new InputError(
          `the value must be ${this.value.size} bytes (${this.value.description}), got ${value.byteLength} bytes`,
        );
      }
      copyBytes(value, this.#ops.value, value.byteLength);
    } else {
      this.value.write(this.#ops.value, 0, value);
    }
  }

  /**
   * The value at `key`, or `undefined` when there is none (BPF_MAP_LOOKUP_ELEM). Per-CPU maps give
   * one value per possible CPU; map-in-map types give the inner map's id. `"BPF_F_LOCK"` reads a
   * value holding a bpf_spin_lock under its lock.
   */
  get(key: In<KC> | Uint8Array, flags?: LookupFlags): Out<VC> | undefined {
    if (this.#closed) this.#throwClosed();
    this.#writeKey(key);
    if (!this.#ops.lookup(flags === undefined ? 0 : lookupFlagsValue(flags))) return undefined;
    return this.#readValue();
  }

  /**
   * Raw lookup without allocation: copies the value bytes at `key` into `out` (exactly the value
   * size: `value.size`, which for per-CPU maps is every CPU's slot). False when there is no such key.
   */
  getInto(key: Uint8Array, out: Uint8Array): boolean {
    if (this.#closed) this.#throwClosed();
    const ks = this.keySize;
    const vs = this.#valueBytes;
    if (key.byteLength !== ks) {
      throw new InputError(`the key must be ${ks} bytes, got ${key.byteLength} bytes`);
    }
    if (out.byteLength !== vs) {
      throw new InputError(`the output buffer must be ${vs} bytes, got ${out.byteLength} bytes`);
    }
    const ops = this.#ops;
    copyBytes(key, ops.key, ks);
    if (!ops.lookup(0)) return false;
    copyBytes(ops.value, out, vs);
    return true;
  }

  /** Whether `key` has a value. */
  has(key: In<KC> | Uint8Array): boolean {
    this.#check();
    this.#putKey(key);
    return this.#ops.lookup(0);
  }

  /**
   * Stores `value` at `key` (BPF_MAP_UPDATE_ELEM). `flags`: `"BPF_ANY"` (default), `"BPF_NOEXIST"`
   * (fails with EEXIST when the key exists), `"BPF_EXIST"` (fails with ENOENT when it does not),
   * `"BPF_F_LOCK"` (values with a bpf_spin_lock). Per-CPU maps take one value per CPU or one value
   * for all; map-in-map types take a BpfMap.
   */
  set(key: In<KC> | Uint8Array, value: In<VC> | Uint8Array, flags?: UpdateFlags): this {
    if (this.#closed) this.#throwClosed();
    this.#writeKey(key);
    this.#writeValue(value);
    this.#ops.update(flags === undefined ? 0 : updateFlagsValue(flags));
    return this;
  }

  /** Deletes `key`; false when there was no such key. */
  delete(key: In<KC> | Uint8Array): boolean {
    this.#check();
    this.#putKey(key);
    return this.#ops.delete();
  }

  /** Reads and deletes `key` in one step (BPF_MAP_LOOKUP_AND_DELETE_ELEM); undefined when absent. */
  lookupAndDelete(key: In<KC> | Uint8Array): Out<VC> | undefined {
    this.#check();
    this.#putKey(key);
    if (!this.#ops.lookupAndDelete()) return undefined;
    return this.value.read(this.#ops.value, 0);
  }

  /** queue / stack: adds `value` (with `"BPF_EXIST"` a full queue drops its oldest element). */
  push(value: In<VC> | Uint8Array, flags?: UpdateFlags): this {
    this.#check();
    this.#putValue(value);
    this.#ops.update(flags === undefined ? 0 : updateFlagsValue(flags));
    return this;
  }

  /** queue / stack: removes and returns the next element, undefined when empty. */
  pop(): Out<VC> | undefined {
    this.#check();
    if (!this.#ops.lookupAndDelete()) return undefined;
    return this.value.read(this.#ops.value, 0);
  }

  /** queue / stack: the next element without removing it, undefined when empty. */
  peek(): Out<VC> | undefined {
    this.#check();
    if (!this.#ops.lookup(0)) return undefined;
    return this.value.read(this.#ops.value, 0);
  }

  /** bloom_filter: false when `value` is certainly absent, true when it may be present. */
  mayContain(value: In<VC> | Uint8Array): boolean {
    this.#check();
    this.#putValue(value);
    return this.#ops.lookup(0);
  }

  /**
   * The keys, by BPF_MAP_GET_NEXT_KEY from the previous key. Safe while the map changes: each
   * step asks for the key after the last one seen. When that key was deleted meanwhile, a hash
   * map answers with its first key, so iteration starts over and may yield keys again (an array
   * map just continues with the next index). Deleting the key just yielded is the safe pattern.
   */
  *keys(): Generator<Out<KC>, void, undefined> {
    for (const key of this.#keyWalk()) yield this.key.read(key, 0);
  }

  /**
   * The key walk under keys(), entries() and the batch fallback: yields a buffer holding each key
   * in turn (valid until the next step), asking BPF_MAP_GET_NEXT_KEY for the key after it.
   */
  *#keyWalk(): Generator<Buffer, void, undefined> {
    this.#check();
    const size = Math.max(this.keySize, 1);
    let cur = Buffer.alloc(size);
    let next = Buffer.alloc(size);
    let first = true;
    const ops = this.#ops;
    const step =
      ops instanceof MemoryElemOps
        ? () => ops.nextKey(first ? undefined : cur, next)
        : () => mapGetNextKey(this.fd, first ? undefined : cur, next, this.#ctx);
    while (step()) {
      first = false;
      const t = cur;
      cur = next;
      next = t;
      yield cur;
    }
  }

  /** Looks up the key in `key` (from the walk) into the value buffer; false when it went away. */
  #lookupWalked(key: Buffer): boolean {
    this.#ops.key.set(key.subarray(0, this.keySize));
    return this.#ops.lookup(0);
  }

  /** The values, key by key (see {@link BpfMap.keys}); keys deleted meanwhile are skipped. */
  *values(): Generator<Out<VC>, void, undefined> {
    for (const [, v] of this.entries()) yield v;
  }

  /** `[key, value]` pairs, key by key (see {@link BpfMap.keys}); keys deleted meanwhile are skipped. */
  *entries(): Generator<[Out<KC>, Out<VC>], void, undefined> {
    for (const key of this.#keyWalk()) {
      if (!this.#lookupWalked(key)) continue;
      yield [this.key.read(key, 0), this.value.read(this.#ops.value, 0)];
    }
  }

  /** Same as {@link BpfMap.entries}. */
  [Symbol.iterator](): Generator<[Out<KC>, Out<VC>], void, undefined> {
    return this.entries();
  }

  #batchTarget(): BatchTarget {
    return {
      fd: this.fd,
      keySize: this.keySize,
      valueBytes: this.value.size,
      maxEntries: this.maxEntries,
      ctx: this.#ctx,
      scratch: this.#batchScratch,
    };
  }

  /**
   * Every entry through BPF_MAP_LOOKUP_BATCH (a few system calls for the whole map). Where the
   * kernel refuses batches for this map type, falls back to key-by-key iteration and says so:
   * `fallback: true` and `reason`.
   */
  getBatch(options: BatchOptions = {}): EntriesBatchResult<Out<KC>, Out<VC>> {
    this.#check();
    return lookupBatch(this.#batchTarget(), this.key, this.value, options, () => [...this.entries()]);
  }

  /**
   * Every entry as raw bytes (BPF_MAP_LOOKUP_BATCH without decoding): `count` keys back to back in
   * `keys` (`keySize` each) and their values in `values` (`value.size` each). The cheapest way to
   * read a whole map; the fallback (see {@link BpfMap.getBatch}) is visible the same way.
   */
  getBatchRaw(options: BatchOptions = {}): RawBatchResult {
    this.#check();
    return lookupBatchRaw(this.#batchTarget(), options, () => {
      const keyParts: Buffer[] = [];
      const valueParts: Buffer[] = [];
      for (const key of this.#keyWalk()) {
        if (!this.#lookupWalked(key)) continue;
        keyParts.push(Buffer.from(key.subarray(0, this.keySize)));
        valueParts.push(Buffer.from(this.#valueView));
      }
      return { keys: Buffer.concat(keyParts), values: Buffer.concat(valueParts), count: keyParts.length };
    });
  }

  /**
   * Every entry, deleting each (BPF_MAP_LOOKUP_AND_DELETE_BATCH). The fallback reads each entry and
   * then deletes it; unlike the batch command that is not atomic per element.
   */
  lookupAndDeleteBatch(options: BatchOptions = {}): EntriesBatchResult<Out<KC>, Out<VC>> {
    this.#check();
    return lookupAndDeleteBatch(this.#batchTarget(), this.key, this.value, options, () => {
      const out: [Out<KC>, Out<VC>][] = [];
      // element by element: read, then delete (what lookupAndDelete does, which not every type offers)
      for (const [k, v] of this.entries()) if (this.delete(k as In<KC>)) out.push([k, v]);
      return out;
    });
  }

  /** Stores many entries (BPF_MAP_UPDATE_BATCH, or the visible fallback), with update flags as in set(). */
  setBatch(
    entries: Iterable<readonly [In<KC> | Uint8Array, In<VC> | Uint8Array]>,
    flags?: UpdateFlags,
  ): SetBatchResult {
    this.#check();
    const list = [...entries];
    const f = flags === undefined ? 0 : updateFlagsValue(flags);
    return updateBatch(this.#batchTarget(), list, f, {
      putKey: (buf, off, k) => this.#encodeKeyAt(buf, off, k as In<KC> | Uint8Array),
      putValue: (buf, off, v) => this.#encodeValueAt(buf, off, v as In<VC> | Uint8Array),
      one: (k, v) => {
        this.set(k as In<KC>, v as In<VC>, f);
      },
    });
  }

  /**
   * Deletes many keys (BPF_MAP_DELETE_BATCH, or the visible fallback); `count` is how many were
   * deleted. The kernel stops at the first key that is not there (ENOENT), so `count` may be less
   * than the number of keys given; the fallback skips missing keys and goes on.
   */
  deleteBatch(keys: Iterable<In<KC> | Uint8Array>): DeleteBatchResult {
    this.#check();
    const list = [...keys];
    return deleteBatch(
      this.#batchTarget(),
      list,
      (buf, off, k) => this.#encodeKeyAt(buf, off, k as In<KC> | Uint8Array),
      (k) => this.delete(k as In<KC>),
    );
  }

  #encodeKeyAt(buf: Buffer, off: number, key: In<KC> | Uint8Array): void {
    if (!this.#keyRaw && key instanceof Uint8Array) {
      if (key.byteLength !== this.keySize)
        throw new InputError(`a key must be ${this.keySize} bytes, got ${key.byteLength}`);
      buf.set(key, off);
    } else this.key.write(buf, off, key);
  }

  #encodeValueAt(buf: Buffer, off: number, value: In<VC> | Uint8Array): void {
    if (!this.#valueRaw && value instanceof Uint8Array) {
      if (value.byteLength !== this.value.size) {
        throw new InputError(`a value must be ${this.value.size} bytes, got ${value.byteLength}`);
      }
      buf.set(value, off);
    } else this.value.write(buf, off, value);
  }

  /**
   * Freezes the map (BPF_MAP_FREEZE): from now on the system call can no longer change it (updates
   * fail with EPERM); programs still can, unless the map was created with BPF_F_RDONLY_PROG.
   */
  freeze(): void {
    if (this.#ops instanceof MemoryElemOps) {
      this.#ops.map.frozen = true;
      return;
    }
    mapFreeze(this.fd, this.#ctx);
  }

  /** Pins the map at `path` in a bpffs (BPF_OBJ_PIN), so it outlives this process. */
  pin(path: string): void {
    if (typeof path !== "string" || path === "")
      throw new InputError("pin needs a path inside a bpffs mount");
    objPin(this.fd, path, { what: `at ${path}` });
  }

  /** What the kernel says about the map (BPF_OBJ_GET_INFO_BY_FD). */
  info(): MapInfo {
    return readMapInfo(this.fd, this.#ctx);
  }

  /** Closes the descriptor; the kernel frees the map when nothing else holds it. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#fd.close();
  }

  /** The same as `close()`, for `using`: released when the block that declared it ends. */
  [Symbol.dispose](): void {
    this.close();
  }
}
