/**
 * The memory back end of `BpfMap`: element operations with the kernel's answers (the same
 * interface as the kernel's element operations in src/sys/map.ts: key and value buffers, then
 * lookup / update / delete / lookupAndDelete / nextKey), and a descriptor stand-in.
 */
import { BpfError } from "../sys/error.js";
import { ENOENT, MemoryMap, type MemoryMapSpec, unregisterObject } from "./maps.js";

/** Stands in for an `Fd`: the memory map's descriptor number (never a kernel descriptor). */
export class MemoryHandle {
  #value: number;
  #closed = false;
  constructor(value: number) {
    this.#value = value;
  }
  get value(): number {
    return this.#value;
  }
  get closed(): boolean {
    return this.#closed;
  }
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    unregisterObject(this.#value);
  }
}

/** Element operations on a {@link MemoryMap}, throwing `BpfError`s as the kernel's would. */
export class MemoryElemOps {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly map: MemoryMap;
  readonly #what: string;
  constructor(spec: MemoryMapSpec, valueBufferSize: number) {
    this.map = new MemoryMap(spec);
    this.key = Buffer.alloc(Math.ceil(Math.max(spec.keySize, 8) / 8) * 8);
    this.value = Buffer.alloc(Math.ceil(Math.max(valueBufferSize, 8) / 8) * 8);
    this.#what = spec.name ? `on map '${spec.name}' (memory)` : `on ${spec.type} map (memory)`;
  }
  #fail(cmd: string, ret: number): never {
    throw new BpfError(cmd, -ret, {}, this.#what);
  }
  #k(): Uint8Array {
    return this.key.subarray(0, this.map.keySize);
  }
  lookup(_flags = 0): boolean {
    const r = this.map.read(this.#k(), this.value);
    if (r === 0) return true;
    if (r === -ENOENT) return false;
    return this.#fail("BPF_MAP_LOOKUP_ELEM", r);
  }
  update(flags = 0): void {
    const m = this.map;
    const r = m.holdsFds
      ? m.updateFd(this.#k(), this.value.readUInt32LE(0), flags)
      : m.isQueue
        ? m.push(this.value, flags)
        : m.update(this.#k(), this.value, flags, m.perCpu);
    if (r < 0) this.#fail("BPF_MAP_UPDATE_ELEM", r);
  }
  delete(): boolean {
    const r = this.map.delete(this.#k());
    if (r === 0) return true;
    if (r === -ENOENT) return false;
    return this.#fail("BPF_MAP_DELETE_ELEM", r);
  }
  lookupAndDelete(): boolean {
    const m = this.map;
    if (m.isQueue) {
      const r = m.pop(this.value);
      if (r === 0) return true;
      if (r === -ENOENT) return false;
      return this.#fail("BPF_MAP_LOOKUP_AND_DELETE_ELEM", r);
    }
    if (!this.lookup(0)) return false;
    return this.delete();
  }
  /** The key after `cur` (the first when undefined) into `next`; false at the end. */
  nextKey(cur: Uint8Array | undefined, next: Uint8Array): boolean {
    const r = this.map.nextKey(cur?.subarray(0, this.map.keySize), next);
    if (r === 0) return true;
    if (r === -ENOENT) return false;
    return this.#fail("BPF_MAP_GET_NEXT_KEY", r);
  }
}
