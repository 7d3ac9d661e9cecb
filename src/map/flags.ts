/** Map creation flags and element update flags, by their kernel names. */
import { InputError } from "../sys/error.js";

/** Map creation (and open) flags: the anonymous BPF_F_* enum of include/uapi/linux/bpf.h. */
export const MAP_FLAGS = Object.freeze({
  BPF_F_NO_PREALLOC: 1,
  BPF_F_NO_COMMON_LRU: 2,
  BPF_F_NUMA_NODE: 4,
  BPF_F_RDONLY: 8,
  BPF_F_WRONLY: 16,
  BPF_F_STACK_BUILD_ID: 32,
  BPF_F_ZERO_SEED: 64,
  BPF_F_RDONLY_PROG: 128,
  BPF_F_WRONLY_PROG: 256,
  BPF_F_CLONE: 512,
  BPF_F_MMAPABLE: 1024,
  BPF_F_PRESERVE_ELEMS: 2048,
  BPF_F_INNER_MAP: 4096,
  BPF_F_LINK: 8192,
  BPF_F_PATH_FD: 16384,
  BPF_F_VTYPE_BTF_OBJ_FD: 32768,
  BPF_F_TOKEN_FD: 65536,
  BPF_F_SEGV_ON_FAULT: 131072,
  BPF_F_NO_USER_CONV: 262144,
} as const);

/** A map flag name, e.g. `"BPF_F_NO_PREALLOC"`. */
export type MapFlagName = keyof typeof MAP_FLAGS;

const MAP_FLAG_NAMES = Object.keys(MAP_FLAGS) as MapFlagName[];

/** Map flags as names, or as the kernel's bit mask. */
export type MapFlags = readonly MapFlagName[] | number;

/** The bit mask of `flags`; InputError for an unknown name or a number that is not a u32. */
export function mapFlagsValue(flags: MapFlags | undefined): number {
  if (flags === undefined) return 0;
  if (typeof flags === "number") {
    if (!Number.isInteger(flags) || flags < 0 || flags > 0xffffffff) {
      throw new InputError(
        `map flags must be an integer from 0 to 4294967295 or a list of names, got ${flags}`,
      );
    }
    return flags;
  }
  if (!Array.isArray(flags)) throw new InputError(`map flags must be a list of BPF_F_* names or a number`);
  let v = 0;
  for (const name of flags) {
    if (typeof name !== "string" || !Object.hasOwn(MAP_FLAGS, name)) {
      throw new InputError(
        `unknown map flag ${JSON.stringify(name)}: expected one of ${MAP_FLAG_NAMES.join(", ")}`,
      );
    }
    v |= MAP_FLAGS[name as MapFlagName];
  }
  return v >>> 0;
}

/** The names of the bits set in `value`; unknown bits appear as hexadecimal numbers. */
export function mapFlagNames(value: number): string[] {
  const names: string[] = [];
  let rest = value >>> 0;
  for (const name of MAP_FLAG_NAMES) {
    const bit = MAP_FLAGS[name];
    if (rest & bit) {
      names.push(name);
      rest &= ~bit;
    }
  }
  if (rest) names.push(`0x${(rest >>> 0).toString(16)}`);
  return names;
}

/** Element update flags (BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK), plus short lower-case aliases. */
export const UPDATE_FLAGS = Object.freeze({
  BPF_ANY: 0,
  BPF_NOEXIST: 1,
  BPF_EXIST: 2,
  BPF_F_LOCK: 4,
  any: 0,
  noexist: 1,
  exist: 2,
  lock: 4,
} as const);

/** An update flag name: `"BPF_NOEXIST"` (or `"noexist"`), ... */
export type UpdateFlagName = keyof typeof UPDATE_FLAGS;

/** Update flags: one name, several names (`["BPF_EXIST", "BPF_F_LOCK"]`), or the kernel's number. */
export type UpdateFlags = UpdateFlagName | readonly UpdateFlagName[] | number;

/** The kernel value of update flags; InputError for an unknown name or a contradiction. */
export function updateFlagsValue(flags: UpdateFlags | undefined): number {
  if (flags === undefined) return 0;
  if (typeof flags === "string") {
    const v = (UPDATE_FLAGS as Record<string, number>)[flags];
    if (v === undefined || !Object.hasOwn(UPDATE_FLAGS, flags)) throw unknownUpdateFlag(flags);
    return v;
  }
  if (typeof flags === "number") {
    if (!Number.isInteger(flags) || flags < 0 || flags > 0xffffffff) {
      throw new InputError(`update flags must be an integer from 0 to 4294967295 or names, got ${flags}`);
    }
    return flags;
  }
  if (!Array.isArray(flags)) throw new InputError("update flags must be a name, a list of names or a number");
  let v = 0;
  for (const name of flags) {
    if (typeof name !== "string" || !Object.hasOwn(UPDATE_FLAGS, name)) throw unknownUpdateFlag(name);
    const bit = UPDATE_FLAGS[name as UpdateFlagName];
    if (bit !== 0 && bit !== 4 && (v & 3) !== 0 && (v & 3) !== bit) {
      throw new InputError("BPF_NOEXIST and BPF_EXIST contradict each other: pass one of them");
    }
    v |= bit;
  }
  return v;
}

function unknownUpdateFlag(name: unknown): InputError {
  return new InputError(
    `unknown update flag ${JSON.stringify(name)}: expected BPF_ANY, BPF_NOEXIST, BPF_EXIST or BPF_F_LOCK (or any, noexist, exist, lock)`,
  );
}

/** Lookup flags: `"BPF_F_LOCK"` reads a value holding a bpf_spin_lock under its lock. */
export type LookupFlags = "BPF_F_LOCK" | 0 | 4;

/** The kernel value of lookup flags; InputError for anything but BPF_F_LOCK. */
export function lookupFlagsValue(flags: LookupFlags | undefined): number {
  if (flags === undefined || flags === 0) return 0;
  if (flags === "BPF_F_LOCK" || flags === 4) return 4;
  throw new InputError(`lookup flags may only be "BPF_F_LOCK" (4), got ${JSON.stringify(flags)}`);
}
