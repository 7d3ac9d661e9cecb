/** Map commands of bpf(): one function per command, plus the zero-allocation element path. */
import {
  bpfAt,
  bpfCall,
  bpfError,
  bpfRaw,
  type CallContext,
  Cmd,
  putName,
  putPtr,
  putU32,
  putU64,
  scratchAttr,
} from "./bpf.js";
import { Errno } from "./errno.js";
import { BatchError } from "./error.js";
import { MAP_BATCH, MAP_CREATE, MAP_ELEM } from "./layout.js";
import { addressOf } from "./libc.js";

/** Attributes of BPF_MAP_CREATE. */
export interface MapCreateAttr {
  mapType: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags?: number;
  innerMapFd?: number;
  numaNode?: number;
  name?: string;
  ifindex?: number;
  btfFd?: number;
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  btfVmlinuxValueTypeId?: number;
  mapExtra?: bigint | number;
}

/** BPF_F_NUMA_NODE: numa_node is valid. */
const BPF_F_NUMA_NODE = 1 << 2;

/** BPF_MAP_CREATE: returns the new map's descriptor (the caller owns it). */
export function mapCreate(a: MapCreateAttr, ctx?: CallContext): number {
  const attr = scratchAttr();
  const o = MAP_CREATE.offset;
  putU32(attr, o.map_type, a.mapType, "map type");
  putU32(attr, o.key_size, a.keySize, "key size");
  putU32(attr, o.value_size, a.valueSize, "value size");
  putU32(attr, o.max_entries, a.maxEntries, "max entries");
  let flags = a.mapFlags ?? 0;
  if (a.numaNode !== undefined) {
    flags |= BPF_F_NUMA_NODE;
    putU32(attr, o.numa_node, a.numaNode, "numa node");
  }
  // Stryker disable next-line StringLiteral: `>>> 0` makes any number a u32, so no message names the field
  putU32(attr, o.map_flags, flags >>> 0, "map flags");
  if (a.innerMapFd !== undefined) putU32(attr, o.inner_map_fd, a.innerMapFd, "inner map fd");
  putName(attr, o.map_name, a.name, "map");
  if (a.ifindex !== undefined) putU32(attr, o.map_ifindex, a.ifindex, "ifindex");
  if (a.btfFd !== undefined) putU32(attr, o.btf_fd, a.btfFd, "btf fd");
  if (a.btfKeyTypeId !== undefined) putU32(attr, o.btf_key_type_id, a.btfKeyTypeId, "btf key type id");
  if (a.btfValueTypeId !== undefined)
    putU32(attr, o.btf_value_type_id, a.btfValueTypeId, "btf value type id");
  if (a.btfVmlinuxValueTypeId !== undefined) {
    putU32(attr, o.btf_vmlinux_value_type_id, a.btfVmlinuxValueTypeId, "btf vmlinux value type id");
  }
  if (a.mapExtra !== undefined) putU64(attr, o.map_extra, a.mapExtra, "map extra");
  return bpfCall(Cmd.MAP_CREATE, attr, ctx);
}

/** BPF_MAP_FREEZE. */
export function mapFreeze(fd: number, ctx?: CallContext): void {
  const attr = scratchAttr();
  putU32(attr, MAP_ELEM.offset.map_fd, fd, "map fd");
  bpfCall(Cmd.MAP_FREEZE, attr, ctx);
}

// attr slots of MapElemOps inside one buffer, one per command, each ELEM_SLOT bytes apart
const LOOKUP = 0;
const UPDATE = 1;
const DELETE = 2;
const LOOKUP_AND_DELETE = 3;
const SLOTS = 4;
const ELEM_SLOT = 64;

/**
 * The attr size passed for element commands: the end of their last field (`flags`), as libbpf
 * passes `offsetofend(union bpf_attr, flags)`. The kernel copies that much and zero-fills the
 * rest, so it reads and checks 32 bytes instead of the whole union.
 */
const ELEM_ATTR_SIZE = MAP_ELEM.size;

/**
 * The element commands of one map without allocation or Buffer marshalling per call: one attr per
 * command, built once with the key/value addresses in place and handed to bpf() as an integer
 * address. Callers write the key into `key` (and the value into `value`), call, and read `value`.
 * Methods return false for ENOENT and throw BpfError for any other refusal.
 *
 * The delete attr carries no value pointer: BPF_MAP_DELETE_ELEM's last field is `key`, and the
 * kernel refuses any non-zero byte after it (EINVAL).
 */
export class MapElemOps {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly #attrs: Buffer;
  readonly #lookupAt: number;
  readonly #updateAt: number;
  readonly #deleteAt: number;
  readonly #lookupAndDeleteAt: number;
  readonly #ctx: CallContext;
  #updateFlags = 0;
  #lookupFlags = 0;

  constructor(fd: number, keySize: number, valueSize: number, ctx: CallContext = {}) {
    // size 0 keys (queue/stack) still get one byte so the address is valid; the kernel ignores it.
    // Both are at least 8 bytes so that 8-byte typed-array views fit over them.
    this.key = Buffer.alloc(Math.max(keySize, 8));
    this.value = Buffer.alloc(Math.max(valueSize, 8));
    this.#ctx = ctx;
    this.#attrs = Buffer.alloc(ELEM_SLOT * SLOTS);
    const o = MAP_ELEM.offset;
    const keyAddr = keySize > 0 ? addressOf(this.key) : 0n;
    const valueAddr = addressOf(this.value);
    for (let slot = 0; slot < SLOTS; slot++) {
      const at = slot * ELEM_SLOT;
      // Stryker disable next-line ArithmeticOperator: map_fd is the attr's first field (offset 0)
      this.#attrs.writeUInt32LE(fd, at + o.map_fd);
      this.#attrs.writeBigUInt64LE(keyAddr, at + o.key);
      if (slot !== DELETE) this.#attrs.writeBigUInt64LE(valueAddr, at + o.value);
    }
    const base = Number(addressOf(this.#attrs));
    // Stryker disable next-line ArithmeticOperator: LOOKUP is slot 0
    this.#lookupAt = base + LOOKUP * ELEM_SLOT;
    this.#updateAt = base + UPDATE * ELEM_SLOT;
    this.#deleteAt = base + DELETE * ELEM_SLOT;
    this.#lookupAndDeleteAt = base + LOOKUP_AND_DELETE * ELEM_SLOT;
  }

  #fail(cmd: number, ret: number): never {
    throw bpfError(cmd, -ret, this.#ctx);
  }

  #setFlags(slot: number, flags: number): void {
    this.#attrs.writeUInt32LE(flags >>> 0, slot * ELEM_SLOT + MAP_ELEM.offset.flags);
    if (slot === LOOKUP) this.#lookupFlags = flags;
    else this.#updateFlags = flags;
  }

  /** BPF_MAP_LOOKUP_ELEM of `key` into `value`; false when there is no such element. */
  lookup(flags = 0): boolean {
    // Stryker disable next-line ConditionalExpression: writing the same flags again is only slower
    if (flags !== this.#lookupFlags) this.#setFlags(LOOKUP, flags);
    const ret = bpfAt(Cmd.MAP_LOOKUP_ELEM, this.#lookupAt, ELEM_ATTR_SIZE);
    if (ret >= 0) return true;
    if (ret === -Errno.ENOENT) return false;
    return this.#fail(Cmd.MAP_LOOKUP_ELEM, ret);
  }

  /** BPF_MAP_UPDATE_ELEM of `key` to `value` with BPF_ANY / NOEXIST / EXIST / F_LOCK. */
  update(flags = 0): void {
    // Stryker disable next-line ConditionalExpression: writing the same flags again is only slower
    if (flags !== this.#updateFlags) this.#setFlags(UPDATE, flags);
    const ret = bpfAt(Cmd.MAP_UPDATE_ELEM, this.#updateAt, ELEM_ATTR_SIZE);
    if (ret < 0) this.#fail(Cmd.MAP_UPDATE_ELEM, ret);
  }

  /** BPF_MAP_DELETE_ELEM of `key`; false when there was no such element. */
  delete(): boolean {
    const ret = bpfAt(Cmd.MAP_DELETE_ELEM, this.#deleteAt, ELEM_ATTR_SIZE);
    if (ret >= 0) return true;
    if (ret === -Errno.ENOENT) return false;
    return this.#fail(Cmd.MAP_DELETE_ELEM, ret);
  }

  /** BPF_MAP_LOOKUP_AND_DELETE_ELEM of `key` into `value` (queue/stack: no key). */
  lookupAndDelete(): boolean {
    const ret = bpfAt(Cmd.MAP_LOOKUP_AND_DELETE_ELEM, this.#lookupAndDeleteAt, ELEM_ATTR_SIZE);
    if (ret >= 0) return true;
    if (ret === -Errno.ENOENT) return false;
    return this.#fail(Cmd.MAP_LOOKUP_AND_DELETE_ELEM, ret);
  }
}

/** Arguments of the batch commands. The commands throw {@link BatchError}, which says how many elements were processed. */
export interface MapBatchArgs {
  fd: number;
  /** opaque position to resume from (lookup/delete batch), or undefined to start */
  inBatch?: Buffer;
  /** receives the position to resume from */
  outBatch?: Buffer;
  keys: Buffer;
  values?: Buffer;
  count: number;
  elemFlags?: number;
  flags?: number;
}

/** The result of a batch command: how many elements were processed, and whether the map is exhausted. */
export interface MapBatchResult {
  count: number;
  /** ENOENT: no more elements after these */
  done: boolean;
}

function mapBatch(cmd: number, a: MapBatchArgs, ctx?: CallContext): MapBatchResult {
  const attr = scratchAttr();
  const o = MAP_BATCH.offset;
  const { inBatch, outBatch, keys, values } = a;
  putPtr(attr, o.in_batch, inBatch);
  putPtr(attr, o.out_batch, outBatch);
  putPtr(attr, o.keys, keys);
  putPtr(attr, o.values, values);
  putU32(attr, o.count, a.count, "batch count");
  putU32(attr, o.map_fd, a.fd, "map fd");
  putU64(attr, o.elem_flags, a.elemFlags ?? 0, "elem flags");
  putU64(attr, o.flags, a.flags ?? 0, "flags");
  const ret = bpfRaw(cmd, attr);
  const count = attr.readUInt32LE(o.count);
  // keep the buffers referenced until after the call
  void [inBatch, outBatch, keys, values];
  if (ret >= 0) return { count, done: false };
  if (ret === -Errno.ENOENT) return { count, done: true };
  // the kernel writes the count back only once it has started on the elements; a refusal before
  // that (flags, map type) leaves ours in place, and a failure always stops short of the last one
  throw new BatchError(bpfError(cmd, -ret, ctx), count === a.count ? 0 : count);
}

/** BPF_MAP_LOOKUP_BATCH. */
export function mapLookupBatch(a: MapBatchArgs, ctx?: CallContext): MapBatchResult {
  return mapBatch(Cmd.MAP_LOOKUP_BATCH, a, ctx);
}

/** BPF_MAP_LOOKUP_AND_DELETE_BATCH. */
export function mapLookupAndDeleteBatch(a: MapBatchArgs, ctx?: CallContext): MapBatchResult {
  return mapBatch(Cmd.MAP_LOOKUP_AND_DELETE_BATCH, a, ctx);
}

/** BPF_MAP_UPDATE_BATCH. */
export function mapUpdateBatch(a: MapBatchArgs, ctx?: CallContext): MapBatchResult {
  return mapBatch(Cmd.MAP_UPDATE_BATCH, a, ctx);
}

/** BPF_MAP_DELETE_BATCH. */
export function mapDeleteBatch(a: MapBatchArgs, ctx?: CallContext): MapBatchResult {
  return mapBatch(Cmd.MAP_DELETE_BATCH, a, ctx);
}

/** One-off element commands with caller buffers (not the hot path: see MapElemOps). */
function elem(
  cmd: number,
  fd: number,
  key: Buffer | undefined,
  value: Buffer | undefined,
  flags: number,
): number {
  const attr = scratchAttr();
  const o = MAP_ELEM.offset;
  putU32(attr, o.map_fd, fd, "map fd");
  putPtr(attr, o.key, key);
  putPtr(attr, o.value, value);
  putU64(attr, o.flags, flags, "flags");
  const ret = bpfRaw(cmd, attr);
  void [key, value];
  return ret;
}

/** BPF_MAP_LOOKUP_ELEM with caller buffers; false on ENOENT. */
export function mapLookupElem(
  fd: number,
  key: Buffer | undefined,
  value: Buffer,
  flags = 0,
  ctx?: CallContext,
) {
  const ret = elem(Cmd.MAP_LOOKUP_ELEM, fd, key, value, flags);
  if (ret === -Errno.ENOENT) return false;
  if (ret < 0) throw bpfError(Cmd.MAP_LOOKUP_ELEM, -ret, ctx);
  return true;
}

/** BPF_MAP_GET_NEXT_KEY with caller buffers (key undefined: the first key); false at the end. */
export function mapGetNextKey(fd: number, key: Buffer | undefined, next: Buffer, ctx?: CallContext): boolean {
  const ret = elem(Cmd.MAP_GET_NEXT_KEY, fd, key, next, 0);
  if (ret === -Errno.ENOENT) return false;
  if (ret < 0) throw bpfError(Cmd.MAP_GET_NEXT_KEY, -ret, ctx);
  return true;
}
