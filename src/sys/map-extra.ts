/**
 * The map element hot path, leaner than {@link MapElemOps}: one attr per command, built once
 * with the key/value addresses and flags in place, handed to bpf() as an integer address so
 * koffi marshals no Buffer per call. Owned by the maps helper (src/map); see its report.
 *
 * Also avoids a kernel check MapElemOps trips: BPF_MAP_DELETE_ELEM's last attr field is `key`,
 * and the kernel (CHECK_ATTR) refuses any non-zero byte after it with EINVAL — so the delete
 * attr carries no value pointer.
 */
import koffi from "koffi";
import { bpfError, type CallContext, Cmd } from "./bpf.js";
import { Errno } from "./errno.js";
import { ATTR_SIZE, MAP_ELEM } from "./layout.js";
import { addressOf, SYS_bpf } from "./libc.js";

const libc = koffi.load("libc.so.6");

/** `syscall(SYS_bpf, cmd, attr, size)` with attr as an address (a plain number: user addresses are < 2^53). */
const syscallAddr = libc.func("long syscall(long nr, long cmd, intptr_t attr, unsigned long size)");

const SYS = SYS_bpf ?? -1;

/** bpf(cmd, attr at `address`): the result, or -errno. */
function bpfAt(cmd: number, address: number): number {
  if (SYS < 0) return -Errno.ENOTSUPP;
  const ret = syscallAddr(SYS, cmd, address, ATTR_SIZE) as number;
  return ret < 0 ? -koffi.errno() : ret;
}

// attr slots inside one buffer, one per command
const LOOKUP = 0;
const UPDATE = 1;
const DELETE = 2;
const LOOKUP_AND_DELETE = 3;
const SLOTS = 4;

/**
 * The element commands of one map without allocation or Buffer marshalling per call. Callers
 * write the key into `key` (and the value into `value`), call, and read `value`. Methods return
 * false for ENOENT and throw BpfError for any other refusal.
 */
export class MapElemPath {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly #attrs: Buffer;
  readonly #base: number;
  readonly #ctx: CallContext;
  #updateFlags = 0;
  #lookupFlags = 0;

  constructor(fd: number, keySize: number, valueSize: number, ctx: CallContext = {}) {
    this.key = Buffer.alloc(Math.max(keySize, 1));
    this.value = Buffer.alloc(Math.max(valueSize, 1));
    this.#ctx = ctx;
    this.#attrs = Buffer.alloc(ATTR_SIZE * SLOTS);
    const o = MAP_ELEM.offset;
    const keyAddr = keySize > 0 ? addressOf(this.key) : 0n;
    const valueAddr = addressOf(this.value);
    for (let slot = 0; slot < SLOTS; slot++) {
      const at = slot * ATTR_SIZE;
      this.#attrs.writeUInt32LE(fd, at + o.map_fd);
      this.#attrs.writeBigUInt64LE(keyAddr, at + o.key);
      if (slot !== DELETE) this.#attrs.writeBigUInt64LE(valueAddr, at + o.value);
    }
    this.#base = Number(addressOf(this.#attrs));
  }

  #fail(cmd: number, ret: number): never {
    throw bpfError(cmd, -ret, this.#ctx);
  }

  /** BPF_MAP_LOOKUP_ELEM of `key` into `value`; false when there is no such element. */
  lookup(flags = 0): boolean {
    if (flags !== this.#lookupFlags) {
      this.#attrs.writeUInt32LE(flags >>> 0, LOOKUP * ATTR_SIZE + MAP_ELEM.offset.flags);
      this.#lookupFlags = flags;
    }
    const ret = bpfAt(Cmd.MAP_LOOKUP_ELEM, this.#base);
    if (ret >= 0) return true;
    if (ret === -Errno.ENOENT) return false;
    return this.#fail(Cmd.MAP_LOOKUP_ELEM, ret);
  }

  /** BPF_MAP_UPDATE_ELEM of `key` to `value` with BPF_ANY / NOEXIST / EXIST / F_LOCK. */
  update(flags = 0): void {
    if (flags !== this.#updateFlags) {
      this.#attrs.writeUInt32LE(flags >>> 0, UPDATE * ATTR_SIZE + MAP_ELEM.offset.flags);
      this.#updateFlags = flags;
    }
    const ret = bpfAt(Cmd.MAP_UPDATE_ELEM, this.#base + UPDATE * ATTR_SIZE);
    if (ret < 0) this.#fail(Cmd.MAP_UPDATE_ELEM, ret);
  }

  /** BPF_MAP_DELETE_ELEM of `key`; false when there was no such element. */
  delete(): boolean {
    const ret = bpfAt(Cmd.MAP_DELETE_ELEM, this.#base + DELETE * ATTR_SIZE);
    if (ret >= 0) return true;
    if (ret === -Errno.ENOENT) return false;
    return this.#fail(Cmd.MAP_DELETE_ELEM, ret);
  }

  /** BPF_MAP_LOOKUP_AND_DELETE_ELEM of `key` into `value` (queue/stack: no key). */
  lookupAndDelete(): boolean {
    const ret = bpfAt(Cmd.MAP_LOOKUP_AND_DELETE_ELEM, this.#base + LOOKUP_AND_DELETE * ATTR_SIZE);
    if (ret >= 0) return true;
    if (ret === -Errno.ENOENT) return false;
    return this.#fail(Cmd.MAP_LOOKUP_AND_DELETE_ELEM, ret);
  }

  /** Keeps the attr buffer reachable for as long as this object is (its address is in use). */
  get attrs(): Buffer {
    return this.#attrs;
  }
}
