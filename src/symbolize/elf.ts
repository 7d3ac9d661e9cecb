/**
 * The symbols of one ELF file (executable or shared library) that llvm-symbolizer names addresses
 * with, from .symtab or .dynsym: the headers parsed by the shared ELF model (src/elf), then only
 * the one symbol table wanted (a piece at a time) read from the file and its string table mapped
 * (src/sys/mmap.ts) — each symbol's start and end side by side in a Float64Array, sorted, names
 * decoded on first use — and
 * the PT_LOAD segments that turn a file offset into a virtual address.
 */
import { closeSync, existsSync, fstatSync, openSync } from "node:fs";
import {
  EHDR_SIZE,
  PHDR_SIZE,
  PN_XNUM,
  SHDR_SIZE,
  SHT_DYNSYM,
  SHT_NOBITS,
  SHT_SYMTAB,
  SYM_SIZE,
} from "../elf/constants.js";
import { type Image, readElfParts, readImage } from "../elf/exec.js";
import { mapFileBytes } from "../sys/mmap.js";
import { readFullyAt } from "../sys/read.js";
import { readAt, SortedKeys, scratchEngine, symbolEngine, take } from "./wasm.js";

/** PT_NOTE: a program header of notes. */
const PT_NOTE = 4;
/** NT_GNU_BUILD_ID */
const NT_GNU_BUILD_ID = 3;
/** Where distributions install separate debug files, by build id (`xx/yyyy.debug`). */
const DEBUG_DIR = "/usr/lib/debug/.build-id";

/** Reads `length` bytes at `offset` of the open file `fd` into a new array (fewer at the file's end). */
function readBytes(fd: number, offset: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  const got = readFullyAt(fd, out, offset);
  return got === length ? out : out.subarray(0, got);
}

/** One ELF file opened for its symbols: its descriptor, size, and headers as the shared model reads them. */
interface Opened {
  fd: number;
  size: number;
  img: Image;
  /** where the program headers are in `img.bytes` (for the notes) */
  phoff: number;
  phnum: number;
}

/**
 * The headers of the ELF file open as `fd` (`size` bytes), parsed by the shared ELF model
 * (readImage) from their bytes alone: the ELF header, the section headers and the program
 * headers are read and laid one after the other, with the header's two table offsets pointing
 * at their new places. Section offsets and sizes stay the file's. A file whose headers do not
 * lie in it is read as readElfParts reads it, so the model reports the damage as it would.
 */
function readHeaders(fd: number, size: number, path: string): Opened {
  const head = readBytes(fd, 0, Math.min(EHDR_SIZE, size));
  const damaged = (): Opened => {
    const bytes = readElfParts(size, (into, offset) => {
      readFullyAt(fd, into, offset);
    });
    const img = readImage(bytes, path);
    const view = img.view;
    return { fd, size, img, phoff: Number(view.getBigUint64(32, true)), phnum: view.getUint16(56, true) };
  };
  if (head.length < EHDR_SIZE || head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1)
    return damaged();
  const phoff = head.readBigUInt64LE(32);
  const shoff = head.readBigUInt64LE(40);
  let phnum = head.readUInt16LE(56);
  let shnum = head.readUInt16LE(60);
  const fits = (offset: bigint, length: number) => offset + BigInt(length) <= BigInt(size);
  if (shoff === 0n || head.readUInt16LE(58) !== SHDR_SIZE || !fits(shoff, SHDR_SIZE)) return damaged();
  if (phnum > 0 && head.readUInt16LE(54) !== PHDR_SIZE) return damaged();
  if (shnum === 0 || phnum === PN_XNUM) {
    // more than 0xfeff sections, or PN_XNUM program headers: the real counts are in section 0
    const first = readBytes(fd, Number(shoff), SHDR_SIZE);
    if (shnum === 0) {
      const n = first.readBigUInt64LE(32);
      if (n > BigInt(size)) return damaged();
      shnum = Number(n);
    }
    if (phnum === PN_XNUM) phnum = first.readUInt32LE(44);
  }
  if (!fits(shoff, shnum * SHDR_SIZE) || !fits(phoff, phnum * PHDR_SIZE)) return damaged();
  const at = EHDR_SIZE + shnum * SHDR_SIZE;
  const bytes = new Uint8Array(at + phnum * PHDR_SIZE);
  bytes.set(head);
  bytes.set(readBytes(fd, Number(shoff), shnum * SHDR_SIZE), EHDR_SIZE);
  bytes.set(readBytes(fd, Number(phoff), phnum * PHDR_SIZE), at);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(40, BigInt(EHDR_SIZE), true);
  view.setBigUint64(32, BigInt(at), true);
  return { fd, size, img: readImage(bytes, path), phoff: at, phnum };
}

/** The GNU build id of an opened ELF file (hex), from its PT_NOTE segments (only they are read), or undefined. */
function buildId(file: Opened): string | undefined {
  const { view } = file.img;
  for (let i = 0; i < file.phnum; i++) {
    const at = file.phoff + i * PHDR_SIZE;
    if (at + PHDR_SIZE > view.byteLength || view.getUint32(at, true) !== PT_NOTE) continue;
    const size = Number(view.getBigUint64(at + 32, true));
    const offset = Number(view.getBigUint64(at + 8, true));
    if (size > 1 << 16 || offset + size > file.size) continue;
    const notes = readBytes(file.fd, offset, size);
    for (let n = 0; n + 12 <= notes.length; ) {
      const nameSize = notes.readUInt32LE(n);
      const descSize = notes.readUInt32LE(n + 4);
      const type = notes.readUInt32LE(n + 8);
      const desc = n + 12 + ((nameSize + 3) & ~3);
      if (desc + descSize > notes.length) break;
      if (type === NT_GNU_BUILD_ID && nameSize === 4 && notes[n + 12] === 0x47 /* G */)
        return notes.toString("hex", desc, desc + descSize);
      n = desc + ((descSize + 3) & ~3);
    }
  }
  return undefined;
}

/** The sorted symbols of one table, as views of an engine's memory, and the names. */
interface Table {
  /** each symbol's start and end, side by side */
  starts: SortedKeys;
  /** where each name starts in `strings` */
  names: Uint32Array;
  /** the string tables (mapped from the file, or read) */
  strings: Buffer;
}

const EMPTY: Table = {
  starts: new SortedKeys(undefined, 0, 0, "", 2),
  names: new Uint32Array(0),
  strings: Buffer.alloc(0),
};

/** SHF_ALLOC: a section loaded into memory. */
const SHF_ALLOC = 2n;
/** The machines whose mapping symbols ($a, $d, $t, $x) llvm-symbolizer leaves out: ARM, AArch64, RISC-V. */
const EM_ARM = 40;
const EM_AARCH64 = 183;
const EM_RISCV = 243;
/** Symbols read and walked at a time (96 KiB), in the scratch engine. */
const CHUNK = 4096;

/**
 * The symbols llvm-symbolizer looks addresses up in (SymbolizableObjectFile.cpp), of the symbol
 * table section of type `type` (SHT_SYMTAB or SHT_DYNSYM) of an opened file: the function, object
 * and untyped (assembly labels) symbols of loaded (SHF_ALLOC) sections, sorted by address with one
 * per address (the largest; the later in the table on a tie). Each table is read straight into a
 * WebAssembly engine's memory (src/symbolize/wasm.ts) and walked and sorted there; its string
 * table is mapped ({@link stringTables}), and names are decoded later, for the symbols asked for.
 * Tables that do not lie in the file are skipped.
 */
function readTable(file: Opened, type: number): Table {
  const { sections, view } = file.img;
  let total = 0;
  for (const sec of sections) if (sec.type === type) total += Math.floor(sec.size / SYM_SIZE);
  if (total === 0) return EMPTY;
  const what = file.img.file;
  // the table's engine keeps the sorted symbols; the scratch engine holds the rest while the
  // table is built
  const e = symbolEngine();
  const s = scratchEngine();
  // a byte a section: whether it is loaded (only symbols of loaded sections name addresses)
  const shoff = Number(view.getBigUint64(40, true));
  const alloc = take(s, sections.length, what);
  const starts = take(s, total * 8, what);
  const sizes = take(s, total * 8, what);
  const nameAt = take(s, total * 4, what);
  const chunk = take(s, CHUNK * SYM_SIZE, what);
  const loaded = new Uint8Array(s.memory.buffer, alloc, sections.length);
  for (let i = 0; i < sections.length; i++) {
    const at = shoff + i * SHDR_SIZE + 8;
    loaded[i] = at + 8 <= view.byteLength && (view.getBigUint64(at, true) & SHF_ALLOC) !== 0n ? 1 : 0;
  }
  const machine = view.getUint16(18, true);
  const mappingSymbols = machine === EM_ARM || machine === EM_AARCH64 || machine === EM_RISCV;
  // the tables whose symbols and strings lie in the file, and their string tables
  const tables = sections.filter((sec) => {
    if (sec.type !== type || sec.offset + sec.size > file.size) return false;
    const strtab = sections[sec.link];
    return strtab !== undefined && strtab.type !== SHT_NOBITS && strtab.offset + strtab.size <= file.size;
  });
  const names = stringTables(file, [...new Set(tables.map((sec) => sec.link))]);
  let count = 0;
  for (const sec of tables) {
    const strtab = sections[sec.link] as (typeof sections)[number];
    const base = names.base.get(sec.link) as number;
    // the names are copied to the scratch engine only on machines with mapping symbols to leave out
    let copy = 0;
    if (mappingSymbols) {
      copy = take(s, strtab.size, what);
      new Uint8Array(s.memory.buffer, copy, strtab.size).set(names.bytes.subarray(base, base + strtab.size));
    }
    const n = Math.floor(sec.size / SYM_SIZE);
    const before = count;
    let whole = true;
    for (let k = 0; k < n && whole; k += CHUNK) {
      const m = Math.min(CHUNK, n - k);
      whole = readAt(s, file.fd, chunk, sec.offset + k * SYM_SIZE, m * SYM_SIZE);
      if (whole) {
        count = s.elfSymbols(
          chunk,
          m,
          k === 0 ? 1 : 0,
          copy,
          strtab.size,
          base,
          alloc,
          sections.length,
          machine,
          starts,
          sizes,
          nameAt,
          count,
        );
      }
    }
    if (!whole) count = before;
  }
  if (count === 0) return EMPTY;
  const order = take(s, count * 4, what);
  const keys2 = take(s, count * 8, what);
  const order2 = take(s, count * 4, what);
  const counts = take(s, 4 * 65536 * 4, what);
  const outPairs = take(s, count * 16, what);
  const outNames = take(s, count * 4, what);
  const kept = s.elfSort(count, starts, sizes, nameAt, order, keys2, order2, counts, outPairs, outNames);
  // what the table keeps, into its own engine
  const keptPairs = take(e, kept * 16, what);
  const keptNames = take(e, kept * 4, what);
  const from = s.memory.buffer;
  const into = e.memory.buffer;
  new Float64Array(into, keptPairs, kept * 2).set(new Float64Array(from, outPairs, kept * 2));
  new Uint32Array(into, keptNames, kept).set(new Uint32Array(from, outNames, kept));
  const sorted = new SortedKeys(e, keptPairs, kept, what, 2);
  // the memory grows no more: views of it stay valid
  const memory = e.memory.buffer;
  return {
    starts: sorted,
    names: new Uint32Array(memory, keptNames, kept),
    strings: Buffer.from(names.bytes.buffer, names.bytes.byteOffset, names.bytes.byteLength),
  };
}

/**
 * The string tables (section indices `links`) of an opened file, one after the other in one
 * array, and where each starts in it. One table (as a file has) is mapped from the file rather
 * than read (src/sys/mmap.ts): ~7 MB of node's names cost no copy and no fresh pages, and only the
 * pages of names asked for are touched. Where mapping is not possible (no native binding), or
 * for several tables, they are read.
 */
function stringTables(file: Opened, links: number[]): { bytes: Uint8Array; base: Map<number, number> } {
  const { sections } = file.img;
  const base = new Map<number, number>();
  const only = links.length === 1 ? sections[links[0] as number] : undefined;
  if (only !== undefined && only.size > 0) {
    try {
      const bytes = mapFileBytes(file.fd, only.offset, only.size, `the string table of ${file.img.file}`);
      base.set(links[0] as number, 0);
      return { bytes, base };
    } catch {
      // read, then
    }
  }
  let total = 0;
  for (const link of links) {
    base.set(link, total);
    total += (sections[link] as (typeof sections)[number]).size;
  }
  const bytes = Buffer.allocUnsafeSlow(total);
  for (const link of links) {
    const strtab = sections[link] as (typeof sections)[number];
    const at = base.get(link) as number;
    const into = bytes.subarray(at, at + strtab.size);
    // a table the file ends inside of names nothing
    into.fill(0, readFullyAt(file.fd, into, strtab.offset));
  }
  return { bytes, base };
}

/**
 * The symbol table of an ELF file, as llvm-symbolizer chooses it (computeSymbolSizes): .symtab
 * when it has a symbol besides the null one at index 0, else .dynsym.
 */
function symbolTable(file: Opened): Table {
  const symtab = file.img.sections.some((s) => s.type === SHT_SYMTAB && s.size >= 2 * SYM_SIZE);
  return readTable(file, symtab ? SHT_SYMTAB : SHT_DYNSYM);
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
  /** each symbol's start and end, side by side (one cache line for a lookup) */
  readonly #pairs: Float64Array;
  /** the starts with a bucket index over them */
  readonly #index: SortedKeys;
  readonly #nameAt: Uint32Array;
  readonly #names: (string | undefined)[];
  /** the string tables */
  readonly #strings: Buffer;
  /** the PT_LOAD segments: file offsets [offset, end) are at virtual address offset + delta */
  readonly #segOffset: Float64Array;
  readonly #segEnd: Float64Array;
  readonly #segDelta: Float64Array;

  /**
   * Reads the symbol table of the ELF file at `path` (its headers, then only the table and its
   * strings) or, unless `debugFiles` is false, of its separate debug file
   * (/usr/lib/debug/.build-id/XX/YYYY.debug, found by the GNU build id in the file's notes) when one
   * is installed: a stripped library's full symbol table.
   */
  constructor(path: string, debugFiles = true) {
    this.path = path;
    let error: string | undefined;
    let debugFile: string | undefined;
    let table = EMPTY;
    let segments: Image["segments"] = [];
    let fd = -1;
    let debugFd = -1;
    try {
      fd = openSync(path, "r");
      const own = readHeaders(fd, fstatSync(fd).size, path);
      segments = own.img.segments;
      // a stripped file's full symbol table may be in a separate debug file, found by build id
      const id = debugFiles ? buildId(own) : undefined;
      const debug = id === undefined ? undefined : `${DEBUG_DIR}/${id.slice(0, 2)}/${id.slice(2)}.debug`;
      if (debug !== undefined && existsSync(debug)) {
        try {
          debugFd = openSync(debug, "r");
          table = symbolTable(readHeaders(debugFd, fstatSync(debugFd).size, debug));
          if (table.starts.count > 0) debugFile = debug;
        } catch {
          // the file's own symbols, then
        }
      }
      if (table.starts.count === 0) table = symbolTable(own);
      if (table.starts.count === 0) error = `${path} has no function symbols (stripped?)`;
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    } finally {
      if (fd >= 0) closeSync(fd);
      if (debugFd >= 0) closeSync(debugFd);
    }
    this.debugFile = debugFile;
    this.#index = table.starts;
    this.#pairs = table.starts.keys;
    this.#nameAt = table.names;
    this.#names = new Array(table.starts.count);
    this.#strings = table.strings;
    this.#segOffset = Float64Array.from(segments, (s) => s.offset);
    this.#segEnd = Float64Array.from(segments, (s) => s.offset + s.fileSize);
    this.#segDelta = Float64Array.from(segments, (s) => Number(s.vaddr) - s.offset);
    this.error = error;
  }

  /** How many distinct function addresses the file has. */
  get size(): number {
    return this.#index.count;
  }

  /**
   * The PT_LOAD segment holding file offset `offset`, as what to add to a file offset in it to get
   * its virtual address and where (in the file) it ends; undefined when no segment holds it. A
   * mapping of the file turns its addresses into the file's with one addition, up to that end.
   */
  segmentAt(offset: number): { delta: number; end: number } | undefined {
    const offsets = this.#segOffset;
    for (let i = 0; i < offsets.length; i++) {
      if (offset >= (offsets[i] as number) && offset < (this.#segEnd[i] as number))
        return { delta: this.#segDelta[i] as number, end: this.#segEnd[i] as number };
    }
    return undefined;
  }

  /** The virtual address of file offset `offset` (through the PT_LOAD segment holding it), or -1. */
  virtualAddress(offset: number): number {
    const offsets = this.#segOffset;
    for (let i = 0; i < offsets.length; i++) {
      if (offset >= (offsets[i] as number) && offset < (this.#segEnd[i] as number))
        return offset + (this.#segDelta[i] as number);
    }
    return -1;
  }

  /**
   * The index of the symbol holding virtual address `vaddr`, by llvm-symbolizer's rule
   * (SymbolizableObjectFile::getNameFromSymbolTable): the symbol with the greatest start at or
   * below it (of those at one start, the largest), if `vaddr` is inside its size; a symbol without
   * a size (an assembly label) reaches up to the next symbol's start. -1 when none. No allocation.
   */
  indexOf(vaddr: number): number {
    const a = this.#index.floor(vaddr);
    if (a < 0) return -1;
    const end = this.#pairs[2 * a + 1] as number;
    return end > (this.#pairs[2 * a] as number) && vaddr >= end ? -1 : a;
  }

  /**
   * The name of the function at index `i` of {@link ElfSymbols.indexOf} (decoded once), without
   * a symbol version (`fclose`, not `fclose@@GLIBC_2.2.5`).
   */
  nameAt(i: number): string {
    let name = this.#names[i];
    if (name === undefined) {
      const at = this.#nameAt[i] as number;
      const strings = this.#strings;
      // the name ends at its NUL or where a symbol version starts ('@'); ASCII (most names) is
      // decoded as latin1: the same, and quicker
      let end = at;
      let bits = 0;
      for (const limit = strings.length; end < limit; end++) {
        const c = strings[end] as number;
        if (c === 0 || c === 0x40) break;
        bits |= c;
      }
      name = strings.toString(bits < 0x80 ? "latin1" : "utf8", at, end);
      this.#names[i] = name;
    }
    return name;
  }

  /** The function holding virtual address `vaddr`, or undefined. */
  at(vaddr: number): ElfSymbol | undefined {
    const i = this.indexOf(vaddr);
    if (i < 0) return undefined;
    const start = this.#pairs[2 * i] as number;
    return { name: this.nameAt(i), address: start, size: (this.#pairs[2 * i + 1] as number) - start };
  }
}
