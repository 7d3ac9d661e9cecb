/**
 * The function symbols of one ELF file (executable or shared library), from .symtab and .dynsym
 * through the ELF reader uprobes use: sorted start addresses in a Float64Array, names decoded on
 * first use, and the PT_LOAD segments that turn a file offset into a virtual address.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { SHT_DYNSYM, SHT_SYMTAB, STT_FUNC, STT_GNU_IFUNC, STT_OBJECT } from "../elf/constants.js";
import { type Image, readElfParts, readImage, type Segment } from "../elf/exec.js";

/** PT_NOTE: a program header of notes. */
const PT_NOTE = 4;
/** NT_GNU_BUILD_ID */
const NT_GNU_BUILD_ID = 3;
/** Where distributions install separate debug files, by build id (`xx/yyyy.debug`). */
const DEBUG_DIR = "/usr/lib/debug/.build-id";

/** Function and object symbols of one table: address, size, name offset (in the file's bytes). */
interface Table {
  starts: Float64Array;
  sizes: Float64Array;
  names: Uint32Array;
  count: number;
}

/**
 * The defined function (FUNC, IFUNC) and object symbols with an address, of the symbol table
 * section of type `type` (SHT_SYMTAB or SHT_DYNSYM): a straight loop over the entries, numbers
 * read as two 32-bit halves (no bigint). readImage has checked that the tables lie in the file.
 */
function readTable(img: Image, type: number): Table {
  const { view, sections } = img;
  let total = 0;
  for (const sec of sections) if (sec.type === type) total += Math.floor(sec.size / 24);
  const starts = new Float64Array(total);
  const sizes = new Float64Array(total);
  const names = new Uint32Array(total);
  let count = 0;
  for (const sec of sections) {
    if (sec.type !== type) continue;
    const strtab = sections[sec.link];
    if (strtab === undefined || sec.offset + sec.size > view.byteLength) continue;
    if (strtab.offset + strtab.size > view.byteLength) continue;
    const n = Math.floor(sec.size / 24);
    const func = STT_FUNC;
    const ifunc = STT_GNU_IFUNC;
    const object = STT_OBJECT;
    for (let i = 1; i < n; i++) {
      const at = sec.offset + i * 24;
      const kind = view.getUint8(at + 4) & 0xf;
      if (kind !== func && kind !== ifunc && kind !== object) continue;
      if (view.getUint16(at + 6, true) === 0) continue; // SHN_UNDEF
      const value = view.getUint32(at + 8, true) + view.getUint32(at + 12, true) * 2 ** 32;
      const name = view.getUint32(at, true);
      if (value === 0 || name === 0 || name >= strtab.size) continue;
      starts[count] = value;
      sizes[count] = view.getUint32(at + 16, true) + view.getUint32(at + 20, true) * 2 ** 32;
      names[count] = strtab.offset + name;
      count++;
    }
  }
  return { starts, sizes, names, count };
}

/**
 * The indices 0..count-1 ordered by `starts` (ties in any order). Where address and index fit in a
 * double's 53 bits together, by one native sort of packed keys (address * 2^bits + index);
 * else by a comparator.
 */
function sortByAddress(starts: Float64Array, count: number): Uint32Array {
  const order = new Uint32Array(count);
  const bits = Math.max(1, Math.ceil(Math.log2(count + 1)));
  let max = 0;
  for (let i = 0; i < count; i++) if ((starts[i] as number) > max) max = starts[i] as number;
  if (max < 2 ** (53 - bits)) {
    const scale = 2 ** bits;
    const keys = new Float64Array(count);
    for (let i = 0; i < count; i++) keys[i] = (starts[i] as number) * scale + i;
    keys.sort();
    for (let k = 0; k < count; k++) order[k] = (keys[k] as number) % scale;
    return order;
  }
  for (let i = 0; i < count; i++) order[i] = i;
  return order.sort((a, b) => (starts[a] as number) - (starts[b] as number));
}

/** Reads `length` bytes at `offset` of the open file `fd`. */
function readAt(fd: number, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let got = 0, n = 1; got < length && n > 0; got += n)
    n = readSync(fd, out, got, length - got, offset + got);
  return out;
}

/** The GNU build id of an ELF file (hex), from its PT_NOTE segments, or undefined. */
function buildId(bytes: Uint8Array, fd: number): string | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 64) return undefined;
  const phoff = Number(view.getBigUint64(32, true));
  const phnum = view.getUint16(56, true);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * 56;
    if (at + 56 > bytes.length || view.getUint32(at, true) !== PT_NOTE) continue;
    const size = Number(view.getBigUint64(at + 32, true));
    if (size > 1 << 16) continue;
    const notes = readAt(fd, Number(view.getBigUint64(at + 8, true)), size);
    const nv = new DataView(notes.buffer);
    for (let n = 0; n + 12 <= notes.length; ) {
      const nameSize = nv.getUint32(n, true);
      const descSize = nv.getUint32(n + 4, true);
      const type = nv.getUint32(n + 8, true);
      const desc = n + 12 + ((nameSize + 3) & ~3);
      if (desc + descSize > notes.length) break;
      if (type === NT_GNU_BUILD_ID && nameSize === 4 && notes[n + 12] === 0x47 /* G */) {
        return Buffer.from(notes.subarray(desc, desc + descSize)).toString("hex");
      }
      n = desc + ((descSize + 3) & ~3);
    }
  }
  return undefined;
}

/** The symbol-table parts of the ELF file at `path` (see readElfParts), and its build id. */
function readParts(path: string): { bytes: Uint8Array; id: string | undefined } {
  const size = statSync(path).size;
  const fd = openSync(path, "r");
  try {
    const bytes = readElfParts(size, (into, offset) => {
      for (let got = 0, n = 1; got < into.length && n > 0; got += n)
        n = readSync(fd, into, got, into.length - got, offset + got);
    });
    return { bytes, id: buildId(bytes, fd) };
  } finally {
    closeSync(fd);
  }
}

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
  /** the separate debug file the symbols came from (/usr/lib/debug/.build-id/...), when there is one */
  readonly debugFile: string | undefined;
  readonly #starts: Float64Array;
  readonly #ends: Float64Array;
  readonly #nameAt: Uint32Array;
  readonly #names: (string | undefined)[];
  /** the file's bytes (only the symbol tables' parts are read), as a Buffer for native string decoding */
  readonly #bytes: Buffer;
  readonly #segments: readonly Segment[];

  /**
   * Reads the symbol tables of the ELF file at `path` (only those parts of it) or, unless
   * `debugFiles` is false, of its separate debug file (/usr/lib/debug/.build-id/XX/YYYY.debug,
   * found by the file's GNU build id) when one is installed: a stripped library's full symbol table.
   */
  constructor(path: string, debugFiles = true) {
    this.path = path;
    let bytes: Uint8Array = new Uint8Array(0);
    let segments: Segment[] = [];
    let error: string | undefined;
    let debugFile: string | undefined;
    let table: Table = {
      starts: new Float64Array(0),
      sizes: new Float64Array(0),
      names: new Uint32Array(0),
      count: 0,
    };
    try {
      const own = readParts(path);
      const img = readImage(own.bytes, path);
      segments = img.segments;
      // a stripped file's full symbol table may be in a separate debug file, found by build id
      const debug =
        own.id === undefined ? undefined : `${DEBUG_DIR}/${own.id.slice(0, 2)}/${own.id.slice(2)}.debug`;
      let symbols = img;
      if (debugFiles && debug !== undefined && existsSync(debug)) {
        try {
          symbols = readImage(readParts(debug).bytes, debug);
          debugFile = debug;
        } catch {
          // the file's own symbols, then
        }
      }
      bytes = symbols.bytes;
      // .symtab when it names anything (it is the fuller table), else .dynsym: as llvm-symbolizer
      table = readTable(symbols, SHT_SYMTAB);
      if (table.count === 0) table = readTable(symbols, SHT_DYNSYM);
      if (table.count === 0) error = `${path} has no function symbols (stripped?)`;
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    this.debugFile = debugFile;
    // sort by address, then size, then table order; at one address keep the last (the largest)
    const { starts, sizes, names, count } = table;
    const order = sortByAddress(starts, count);
    // one symbol per address: the largest, the later in the table on a tie
    let kept = 0;
    for (let k = 0; k < count; ) {
      let best = order[k] as number;
      let j = k + 1;
      for (; j < count && starts[order[j] as number] === starts[best]; j++) {
        const i = order[j] as number;
        if (
          (sizes[i] as number) > (sizes[best] as number) ||
          ((sizes[i] as number) === (sizes[best] as number) && i > best)
        )
          best = i;
      }
      order[kept++] = best;
      k = j;
    }
    this.#starts = new Float64Array(kept);
    this.#ends = new Float64Array(kept);
    this.#nameAt = new Uint32Array(kept);
    for (let k = 0; k < kept; k++) {
      const i = order[k] as number;
      this.#starts[k] = starts[i] as number;
      this.#ends[k] = (starts[i] as number) + (sizes[i] as number);
      this.#nameAt[k] = names[i] as number;
    }
    this.#names = new Array(kept);
    this.#bytes = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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

  /**
   * The name of the function at index `i` of {@link ElfSymbols.indexOf} (decoded once), without
   * a symbol version (`fclose`, not `fclose@@GLIBC_2.2.5`).
   */
  nameAt(i: number): string {
    let name = this.#names[i];
    if (name === undefined) {
      const bytes = this.#bytes;
      const at = this.#nameAt[i] as number;
      let e = bytes.indexOf(0, at);
      if (e < 0) e = bytes.length;
      for (let c = at; c < e; c++) {
        if (bytes[c] === 0x40) {
          e = c; // '@': a symbol version follows
          break;
        }
      }
      name = bytes.toString("utf8", at, e);
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
