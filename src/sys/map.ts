/** Map commands of bpf(): one function per command, plus the zero-allocation element path. */
import {
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
import { ATTR_SIZE, MAP_BATCH, MAP_CREATE, MAP_ELEM } from "./layout.js";
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

/**
 * The element commands of one map without allocation per call: one attr buffer per command, the
 * key, value and next-key buffers allocated once with their addresses written in advance. Callers
 * write the key into `key` (and the value into `value`), call, and read `value` / `nextKey`.
 * Methods return false for ENOENT and throw BpfError for any other refusal.
 */
export class MapElemOps {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly nextKey: Buffer;
  readonly #attr: Buffer;
  readonly #nextAttr: Buffer;
  readonly #ctx: CallContext;

  constructor(fd: number, keySize: number, valueSize: number, ctx: CallContext = {}) {
    // size 0 keys (queue/stack) still get one byte so the address is valid; the kernel ignores it
    this.key = Buffer.alloc(Math.max(keySize, 1));
    this.value = Buffer.alloc(Math.max(valueSize, 1));
    this.nextKey = Buffer.alloc(Math.max(keySize, 1));
    this.#ctx = ctx;
    const o = MAP_ELEM.offset;
    this.#attr = Buffer.alloc(ATTR_SIZE);
    this.#attr.writeUInt32LE(fd, o.map_fd);
    this.#attr.writeBigUInt64LE(keySize > 0 ? addressOf(this.key) : 0n, o.key);
    this.#attr.writeBigUInt64LE(addressOf(this.value), o.value);
    this.#nextAttr = Buffer.alloc(ATTR_SIZE);
    this.#nextAttr.writeUInt32LE(fd, o.map_fd);
    this.#nextAttr.writeBigUInt64LE(addressOf(this.key), o.key);
    this.#nextAttr.writeBigUInt64LE(addressOf(this.nextKey), o.next_key);
  }

  #run(cmd: number, flags: number): boolean {
    const attr = this.#attr;
    attr.writeUInt32LE(flags >>> 0, MAP_ELEM.offset.flags);
    const ret = bpfRaw(cmd, attr);
    if (ret >= 0) return true;
    if (ret === -Errno.ENOENT) return false;
    throw bpfError(cmd, -ret, this.#ctx);
  }

  /** BPF_MAP_LOOKUP_ELEM of `key` into `value`; false when there is no such element. */
  lookup(flags = 0): boolean {
    return this.#run(Cmd.MAP_LOOKUP_ELEM, flags);
  }

  /** BPF_MAP_UPDATE_ELEM of `key` to `value` with BPF_ANY / NOEXIST / EXIST / F_LOCK. */
  update(flags = 0): void {
    const attr = this.#attr;
    attr.writeUInt32LE(flags >>> 0, MAP_ELEM.offset.flags);
    const ret = bpfRaw(Cmd.MAP_UPDATE_ELEM, attr);
    if (ret < 0) throw bpfError(Cmd.MAP_UPDATE_ELEM, -ret, this.#ctx);
  }

  /** BPF_MAP_DELETE_ELEM of `key`; false when there was no such element. */
  delete(): boolean {
    return this.#run(Cmd.MAP_DELETE_ELEM, 0);
  }

  /** BPF_MAP_LOOKUP_AND_DELETE_ELEM of `key` into `value` (queue/stack: no key). */
  lookupAndDelete(flags = 0): boolean {
    return this.#run(Cmd.MAP_LOOKUP_AND_DELETE_ELEM, flags);
  }

  /**
   * BPF_MAP_GET_NEXT_KEY: the key after `key` (or the first key when `first`) into `nextKey`;
   * false at the end.
   */
  getNextKey(first: boolean): boolean {
    const attr = this.#nextAttr;
    attr.writeBigUInt64LE(first ? 0n : addressOf(this.key), MAP_ELEM.offset.key);
    const ret = bpfRaw(Cmd.MAP_GET_NEXT_KEY, attr);
    if (ret >= 0) return true;
    if (ret === -Errno.ENOENT) return false;
    throw bpfError(Cmd.MAP_GET_NEXT_KEY, -ret, this.#ctx);
  }
}

/** Arguments of the batch commands. */
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
  throw bpfError(cmd, -ret, ctx);
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

/** BPF_MAP_UPDATE_ELEM with caller buffers. */
export function mapUpdateElem(
  fd: number,
  key: Buffer | undefined,
  value: Buffer,
  flags = 0,
  ctx?: CallContext,
) {
  const ret = elem(Cmd.MAP_UPDATE_ELEM, fd, key, value, flags);
  if (ret < 0) throw bpfError(Cmd.MAP_UPDATE_ELEM, -ret, ctx);
}

/** BPF_MAP_DELETE_ELEM with a caller buffer; false on ENOENT. */
export function mapDeleteElem(fd: number, key: Buffer, ctx?: CallContext): boolean {
  const ret = elem(Cmd.MAP_DELETE_ELEM, fd, key, undefined, 0);
  if (ret === -Errno.ENOENT) return false;
  if (ret < 0) throw bpfError(Cmd.MAP_DELETE_ELEM, -ret, ctx);
  return true;
}

/** BPF_MAP_GET_NEXT_KEY with caller buffers (key undefined: the first key); false at the end. */
export function mapGetNextKey(fd: number, key: Buffer | undefined, next: Buffer, ctx?: CallContext): boolean {
  const ret = elem(Cmd.MAP_GET_NEXT_KEY, fd, key, next, 0);
  if (ret === -Errno.ENOENT) return false;
  if (ret < 0) throw bpfError(Cmd.MAP_GET_NEXT_KEY, -ret, ctx);
  return true;
}

/** BPF_MAP_LOOKUP_AND_DELETE_ELEM with caller buffers; false on ENOENT. */
export function mapLookupAndDeleteElem(
  fd: number,
  key: Buffer | undefined,
  value: Buffer,
  flags = 0,
  ctx?: CallContext,
): boolean {
  const ret = elem(Cmd.MAP_LOOKUP_AND_DELETE_ELEM, fd, key, value, flags);
  if (ret === -Errno.ENOENT) return false;
  if (ret < 0) throw bpfError(Cmd.MAP_LOOKUP_AND_DELETE_ELEM, -ret, ctx);
  return true;
}
