/**
 * The symbols of one ELF file (executable or shared library) that llvm-symbolizer names addresses
 * with, from .symtab or .dynsym: the headers parsed by the shared ELF model (src/elf), then only
 * the one symbol table wanted (a piece at a time) and its string table read from the file — each
 * symbol's start and end side by side in a Float64Array, sorted, names decoded on first use — and
 * the PT_LOAD segments that turn a file offset into a virtual address.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync } from "node:fs";
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
import { readAt, SortedKeys, type SymbolEngine, scratchEngine, symbolEngine, take } from "./wasm.js";

/** PT_NOTE: a program header of notes. */
const PT_NOTE = 4;
/** NT_GNU_BUILD_ID */
const NT_GNU_BUILD_ID = 3;
/** Where distributions install separate debug files, by build id (`xx/yyyy.debug`). */
const DEBUG_DIR = "/usr/lib/debug/.build-id";

/** Reads `length` bytes at `offset` of the open file `fd` into a new array (fewer at the file's end). */
function readBytes(fd: number, offset: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let got = 0;
  for (let n = 1; got < length && n > 0; got += n) n = readSync(fd, out, got, length - got, offset + got);
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
      for (let got = 0, n = 1; got < into.length && n > 0; got += n)
        n = readSync(fd, into, got, into.length - got, offset + got);
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

/** The sorted symbols of one table, as views of an engine's memory, which also holds the names. */
interface Table {
  /** each symbol's start and end, side by side */
  starts: SortedKeys;
  /** where each name starts in `strings` */
  names: Uint32Array;
  strings: Buffer;
  /** the engine that holds them (undefined: no symbols) */
  engine: SymbolEngine | undefined;
  /** where the string tables end in `strings` */
  to: number;
}

const EMPTY: Table = {
  starts: new SortedKeys(undefined, 0, 0, "", 2),
  names: new Uint32Array(0),
  strings: Buffer.alloc(0),
  engine: undefined,
  to: 0,
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
 * per address (the largest; the later in the table on a tie). Each table and its string table are
 * read straight into a WebAssembly engine's memory (src/symbolize/wasm.ts) and walked and sorted
 * there; names are decoded later, for the symbols asked for. Tables that do not lie in the file
 * are skipped.
 */
function readTable(file: Opened, type: number): Table {
  const { sections, view } = file.img;
  let total = 0;
  for (const sec of sections) if (sec.type === type) total += Math.floor(sec.size / SYM_SIZE);
  if (total === 0) return EMPTY;
  const what = file.img.file;
  // the table's engine keeps the string tables and the sorted symbols; the scratch engine holds
  // the rest while the table is built
  const e = symbolEngine();
  const s = scratchEngine();
  // a byte a section: whether it is loaded (only symbols of loaded sections name addresses)
  const shoff = Number(view.getBigUint64(40, true));
  const alloc = take(s, sections.length, what);
  const starts = take(s, total * 8, what);
  const sizes = take(s, total * 8, what);
  const names = take(s, total * 4, what);
  const chunk = take(s, CHUNK * SYM_SIZE, what);
  const loaded = new Uint8Array(s.memory.buffer, alloc, sections.length);
  for (let i = 0; i < sections.length; i++) {
    const at = shoff + i * SHDR_SIZE + 8;
    loaded[i] = at + 8 <= view.byteLength && (view.getBigUint64(at, true) & SHF_ALLOC) !== 0n ? 1 : 0;
  }
  const machine = view.getUint16(18, true);
  const mappingSymbols = machine === EM_ARM || machine === EM_AARCH64 || machine === EM_RISCV;
  let count = 0;
  let to = 0;
  for (const sec of sections) {
    if (sec.type !== type) continue;
    const strtab = sections[sec.link];
    if (strtab === undefined || strtab.type === SHT_NOBITS || sec.offset + sec.size > file.size) continue;
    if (strtab.offset + strtab.size > file.size) continue;
    const strings = take(e, strtab.size, what);
    if (!readAt(e, file.fd, strings, strtab.offset, strtab.size)) continue;
    // the names are read in the scratch engine only on machines with mapping symbols to leave out
    let copy = 0;
    if (mappingSymbols) {
      copy = take(s, strtab.size, what);
      new Uint8Array(s.memory.buffer, copy, strtab.size).set(
        new Uint8Array(e.memory.buffer, strings, strtab.size),
      );
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
          strings,
          alloc,
          sections.length,
          machine,
          starts,
          sizes,
          names,
          count,
        );
      }
    }
    if (!whole) count = before;
    else if (count > before) to = Math.max(to, strings + strtab.size);
  }
  if (count === 0) return EMPTY;
  const order = take(s, count * 4, what);
  const keys2 = take(s, count * 8, what);
  const order2 = take(s, count * 4, what);
  const counts = take(s, 4 * 65536 * 4, what);
  const outPairs = take(s, count * 16, what);
  const outNames = take(s, count * 4, what);
  const kept = s.elfSort(count, starts, sizes, names, order, keys2, order2, counts, outPairs, outNames);
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
    strings: Buffer.from(memory),
    engine: e,
    to,
  };
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
  readonly #engine: SymbolEngine | undefined;
  readonly #names: (string | undefined)[];
  /** the memory the string tables are in, and where they end */
  readonly #strings: Buffer;
  readonly #to: number;
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
    this.#engine = table.engine;
    this.#names = new Array(table.starts.count);
    this.#strings = table.strings;
    this.#to = table.to;
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
      // the name ends at its NUL or where a symbol version starts ('@')
      // the end, plus 0.5 when the name is not ASCII: ASCII is decoded as latin1 (the same, and quicker)
      const r = (this.#engine as SymbolEngine).nameEnd(at, this.#to);
      const end = Math.floor(r);
      name = this.#strings.toString(end === r ? "latin1" : "utf8", at, end);
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
