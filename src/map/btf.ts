/**
 * A minimal BTF for maps whose kernel code insists on one (sk/inode/task/cgrp storage): an `int`
 * key and a `struct { unsigned char data[valueSize]; }` value. Loaded only for the create call;
 * the map keeps its own reference.
 */
import { encodeBtf } from "../btf/encode.js";
import { StringTable } from "../btf/strings.js";
import type { BtfType } from "../btf/types.js";
import { btfLoad } from "../sys/btf.js";

/** A loaded BTF and the type ids a map create call needs. */
export interface MapBtf {
  /** the BTF descriptor; the caller closes it after creating the map */
  fd: number;
  keyTypeId: number;
  valueTypeId: number;
}

/** The BTF blob: [1] int, [2] unsigned char, [3] unsigned char[valueSize], [4] struct map_value. */
export function storageBtfBlob(valueSize: number): Uint8Array {
  const types: BtfType[] = [
    { kind: "int", name: "int", size: 4, bits: 32, bitOffset: 0, signed: true, char: false, bool: false },
    {
      kind: "int",
      name: "unsigned char",
      size: 1,
      bits: 8,
      bitOffset: 0,
      signed: false,
      char: true,
      bool: false,
    },
    { kind: "array", name: "", type: 2, indexType: 1, length: valueSize },
    {
      kind: "struct",
      name: "map_value",
      size: valueSize,
      bitfields: false,
      members: [{ name: "data", type: 3, bitOffset: 0, bitfieldSize: 0 }],
    },
  ];
  return encodeBtf(types, new StringTable());
}

/** Loads {@link storageBtfBlob} into the kernel. */
export function loadStorageBtf(valueSize: number): MapBtf {
  const { fd } = btfLoad({ blob: storageBtfBlob(valueSize) }, { what: "for a storage map" });
  return { fd, keyTypeId: 1, valueTypeId: 4 };
}
