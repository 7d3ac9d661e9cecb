/** The value codec of map-in-map types: writes an inner map's descriptor, reads the inner map's id. */
import type { Codec } from "../codec/codec.js";
import { show } from "../codec/codec.js";
import { InputError } from "../sys/error.js";

/** Anything that owns a map descriptor (a BpfMap). */
export interface HasMapFd {
  readonly fd: number;
}

/**
 * The value of an array_of_maps / hash_of_maps: `set` takes a map (or a raw descriptor number) and
 * the kernel stores that map; `get` gives back the inner map's id (open it with `BpfMap.fromId`).
 */
export interface MapRefCodec extends Codec<HasMapFd | number, number> {
  readonly mapRef: true;
}

/** The map-in-map value codec. */
export const mapRef: MapRefCodec = Object.freeze({
  size: 4,
  align: 4,
  description: "inner map (descriptor in, id out)",
  mapRef: true as const,
  write(buf: Buffer, offset: number, value: HasMapFd | number) {
    const fd =
      typeof value === "number" ? value : value !== null && typeof value === "object" ? value.fd : -1;
    if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
      throw new InputError(
        `a map-in-map value must be a BpfMap (or its descriptor number), got ${show(value)}`,
      );
    }
    buf.writeUInt32LE(fd, offset);
  },
  read: (buf: Buffer, offset: number) => buf.readUInt32LE(offset),
});
