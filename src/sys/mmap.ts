/**
 * Mapping a BPF_F_MMAPABLE array map's values into this process (global data: .data, .bss,
 * .rodata), with the same safety as the ring buffer mappings: the ArrayBuffer is never unmapped
 * under a live view (retired to zero pages, unmapped when garbage); see ringbuf.ts. And mapping
 * part of a file read-only ({@link mapFileBytes}: an ELF file's string table, for the symboliser).
 */
import * as libc from "./libc.js";
import { mapPrivate, mapShared, type Region, retireRegions } from "./ringbuf.js";

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

/**
 * `length` bytes of the open file `fd` from `offset`, mapped read-only and private rather than
 * read: the page cache's own pages, none copied and none zeroed, only those touched faulted in
 * (the string table of an ELF file, most of whose names are never asked for). The mapping is
 * undone when the array is garbage. The file must not shrink while the array is used (as for any
 * reader that maps files: the kernel would kill the process with SIGBUS).
 * @throws BpfError ("mmap") when the kernel refuses; whatever loading the native binding throws
 */
export function mapFileBytes(fd: number, offset: number, length: number, what: string): Uint8Array {
  const page = libc.pageSize();
  const start = offset - (offset % page);
  const { memory } = mapPrivate(fd, offset - start + length, start, what);
  return new Uint8Array(memory, offset - start, length);
}
