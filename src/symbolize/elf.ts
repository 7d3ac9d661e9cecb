/**
 * The function symbols of one ELF file (executable or shared library), from .symtab and .dynsym
 * through the ELF reader uprobes use: sorted start addresses in a Float64Array, names decoded on
 * first use, and the PT_LOAD segments that turn a file offset into a virtual address.
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { STB_LOCAL, STT_FUNC, STT_GNU_IFUNC } from "../elf/constants.js";
import { eachSymbol, readElfParts, readImage, type Segment } from "../elf/exec.js";

const UTF8 = new TextDecoder();

/** A function symbol of an ELF file, as {@link ElfSymbols.at} finds it. */
export interface ElfSymbol {
  /** the symbol's name, as in the file (C++ names mangled) */
  name: string;
  /** its virtual address in the file */
  address: number;
  /** its size in bytes (0 when the file does not say) */
  size: number;
}

/**
 * The function symbols of one ELF file, read once. Files without symbols (or that cannot be read)
 * give an empty table whose `error` says why, never an exception: a profile keeps the frame as an
 * address.
 */
export class ElfSymbols {
  /** the file */
  readonly path: string;
  /** why the table is empty, when it is */
  readonly error: string | undefined;
  readonly #starts: Float64Array;
  readonly #ends: Float64Array;
  readonly #nameAt: Uint32Array;
  readonly #names: (string | undefined)[];
  readonly #bytes: Uint8Array;
  readonly #segments: readonly Segment[];

  /** Reads the symbol tables of the ELF file at `path` (only those parts of it). */
  constructor(path: string) {
    this.path = path;
    let bytes: Uint8Array = new Uint8Array(0);
    let segments: Segment[] = [];
    let error: string | undefined;
    const starts: number[] = [];
    const ends: number[] = [];
    const nameAt: number[] = [];
    const globals: boolean[] = [];
    try {
      const size = statSync(path).size;
      const fd = openSync(path, "r");
      try {
        bytes = readElfParts(size, (into, offset) => {
          for (let got = 0, n = 1; got < into.length && n > 0; got += n)
            n = readSync(fd, into, got, into.length - got, offset + got);
        });
      } finally {
        closeSync(fd);
      }
      const img = readImage(bytes, path);
      segments = img.segments;
      eachSymbol(img, (sym, at) => {
        if ((sym.type !== STT_FUNC && sym.type !== STT_GNU_IFUNC) || sym.value === 0n) return;
        const start = Number(sym.value);
        starts.push(start);
        ends.push(start + Number(sym.size));
        nameAt.push(at);
        globals.push(sym.bind !== STB_LOCAL);
      });
      if (starts.length === 0) error = `${path} has no function symbols (stripped?)`;
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    // sort by address; at one address keep a global symbol over a local one, then the larger
    const order = Array.from(starts.keys()).sort(
      (a, b) =>
        (starts[a] as number) - (starts[b] as number) ||
        Number(globals[b]) - Number(globals[a]) ||
        (ends[b] as number) - (ends[a] as number) ||
        a - b,
    );
    const keep = order.filter((i, k) => k === 0 || starts[i] !== starts[order[k - 1] as number]);
    this.#starts = Float64Array.from(keep, (i) => starts[i] as number);
    this.#ends = Float64Array.from(keep, (i) => ends[i] as number);
    this.#nameAt = Uint32Array.from(keep, (i) => nameAt[i] as number);
    this.#names = new Array(keep.length);
    this.#bytes = bytes;
    this.#segments = segments;
    this.error = error;
  }

  /** How many distinct function addresses the file has. */
  get size(): number {
    return this.#starts.length;
  }

  /** The virtual address of file offset `offset` (through the PT_LOAD segment holding it), or -1. */
  virtualAddress(offset: number): number {
    for (const s of this.#segments) {
      if (offset >= s.offset && offset < s.offset + s.fileSize) return offset - s.offset + Number(s.vaddr);
    }
    return -1;
  }

  /**
   * The index of the function holding virtual address `vaddr`: the nearest symbol at or below it,
   * if `vaddr` is inside its size (or the size is unknown). -1 when none. No allocation.
   */
  indexOf(vaddr: number): number {
    const starts = this.#starts;
    let b = starts.length - 1;
    if (b < 0 || vaddr < (starts[0] as number)) return -1;
    let a = 0;
    while (a < b) {
      const m = (a + b + 1) >>> 1;
      if ((starts[m] as number) <= vaddr) a = m;
      else b = m - 1;
    }
    const end = this.#ends[a] as number;
    return end > (starts[a] as number) && vaddr >= end ? -1 : a;
  }

  /** The name of the function at index `i` of {@link ElfSymbols.indexOf} (decoded once). */
  nameAt(i: number): string {
    let name = this.#names[i];
    if (name === undefined) {
      const bytes = this.#bytes;
      const at = this.#nameAt[i] as number;
      let e = at;
      while (e < bytes.length && bytes[e] !== 0) e++;
      name = UTF8.decode(bytes.subarray(at, e));
      this.#names[i] = name;
    }
    return name;
  }

  /** The function holding virtual address `vaddr`, or undefined. */
  at(vaddr: number): ElfSymbol | undefined {
    const i = this.indexOf(vaddr);
    if (i < 0) return undefined;
    const start = this.#starts[i] as number;
    return { name: this.nameAt(i), address: start, size: (this.#ends[i] as number) - start };
  }
}
