/**
 * The BTF that local-storage maps (sk, inode, task, cgroup storage) must be created with: the
 * kernel wants a BTF value type, and libbpf's probe gives it a struct holding a bpf_spin_lock.
 */
import { BtfBuilder } from "../btf/builder.js";
import { btfLoad } from "../sys/btf.js";

/** The key type's id inside the blob (`int`). */
export const STORAGE_KEY_TYPE_ID = 1;
/** The value type's id inside the blob (`struct val`). */
export const STORAGE_VALUE_TYPE_ID = 3;

let blob: Uint8Array | undefined;

/**
 * `int` [1]; `struct bpf_spin_lock { int val; }` [2]; `struct val { int cnt; struct bpf_spin_lock l; }` [3].
 */
function storageBtf(): Uint8Array {
  if (blob) return blob;
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  const lock = b.struct("bpf_spin_lock", [{ name: "val", type: int }]);
  b.struct("val", [
    { name: "cnt", type: int },
    { name: "l", type: lock },
  ]);
  blob = b.build();
  return blob;
}

/** Loads the storage BTF and returns its descriptor (the caller closes it). */
export function loadStorageBtf(): number {
  return btfLoad({ blob: storageBtf() }, { what: "for a map type probe" }).fd;
}
