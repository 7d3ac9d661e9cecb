/**
 * Mapping a BPF_F_MMAPABLE array map's values into this process (global data: .data, .bss,
 * .rodata), with the same safety as the ring buffer mappings: the ArrayBuffer is never unmapped
 * under a live view (retired to zero pages, unmapped when garbage); see ringbuf.ts.
 */
import * as libc from "./libc.js";
import { mapShared, type Region, retireRegions } from "./ringbuf.js";

/** An mmap'd map value area. */
export interface MappedValues {
  readonly memory: ArrayBuffer;
  readonly region: Region;
}

/** Maps `size` bytes (rounded up to pages) of the mmapable array map `fd`, writable or read-only. */
export function mapArrayValues(fd: number, size: number, writable: boolean, what: string): MappedValues {
  const page = libc.pageSize();
  const length = Math.max(page, Math.ceil(size / page) * page);
  return mapShared(fd, length, 0, writable, what);
}

/** Gives the mapping back (stale views then read zeros). */
export function unmapArrayValues(m: MappedValues): void {
  if (!m.region.gone) retireRegions([m.region]);
}
