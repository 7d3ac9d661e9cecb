/**
 * The uprobe side of the ELF model: a lazy ELF64 little-endian reader, pure (bytes in, numbers out): finds a function symbol in
 * .symtab and .dynsym and turns its virtual address into a file offset through the PT_LOAD program
 * headers — the offset a uprobe is placed at. Every read is bounds-checked, so cut or damaged
 * files give an {@link ElfFormatError}, never another exception.
 */
import {
  EHDR_SIZE,
  ET_DYN,
  ET_EXEC,
  PHDR_SIZE,
  PN_XNUM,
  PT_LOAD,
  SHDR_SIZE,
  SHT_DYNSYM,
  SHT_GNU_VERSYM,
  SHT_NOBITS,
  SHT_SYMTAB,
  STB_LOCAL,
  STT_FUNC,
  STT_GNU_IFUNC,
  SYM_SIZE,
} from "./constants.js";
import { AmbiguousSymbolError, ElfFormatError, SymbolNotFoundError } from "./errors.js";
import { nearestName } from "./names.js";

/** Bit 15 of a .gnu.version entry: a version a new link does not pick. */
const VERSYM_HIDDEN = 0x8000;

const UTF8 = new TextDecoder();

/** A section of the file: where its bytes are and which section it links to. */
interface Section {
  type: number;
  offset: number;
  size: number;
  link: number;
}

/** A loadable segment: file bytes [offset, offset + fileSize) are mapped at vaddr. */
export interface Segment {
  vaddr: bigint;
  offset: number;
  fileSize: number;
}

/** The parts of an ELF file a symbol lookup needs, all inside the file's bytes. */
export interface Image {
  bytes: Uint8Array;
  view: DataView;
  file: string;
  sections: Section[];
  segments: Segment[];
}

/** A symbol table entry that matched, or that a suggestion may be drawn from. */
interface Sym {
  type: number;
  bind: number;
  value: bigint;
  /** a non-default version of a versioned symbol (`memcpy@GLIBC_2.2.5` beside `memcpy@@GLIBC_2.14`) */
  hidden: boolean;
}

function fail(file: string, why: string): never {
  throw new ElfFormatError(file, why);
}

/** A u64 field that is a file position or size: a safe integer, else the file is damaged. */
function position(img: { view: DataView; file: string }, at: number, what: string): number {
  const v = img.view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER))
    fail(img.file, `its ${what} (0x${v.toString(16)}) is past any file`);
  return Number(v);
}

/** Checks that [offset, offset + size) lies in the file. */
function inside(img: { bytes: Uint8Array; file: string }, offset: number, size: number, what: string): void {
  if (offset + size > img.bytes.length) {
    fail(
      img.file,
      `it is truncated: its ${what} (bytes ${offset} to ${offset + size}) run past its end (${img.bytes.length} bytes)`,
    );
  }
}

/** Parses and checks the ELF header, the section headers and the program headers. */
export function readImage(bytes: Uint8Array, file: string): Image {
  if (bytes.length < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    fail(file, "it is not an ELF file (it does not start with the bytes 7f 45 4c 46, '\\x7fELF')");
  }
  if (bytes.length < 6) fail(file, "it is truncated inside its ELF identification");
  if (bytes[4] !== 2) fail(file, `it is not a 64-bit ELF file (EI_CLASS is ${bytes[4]}, 2 is ELFCLASS64)`);
  if (bytes[5] !== 1)
    fail(
      file,
      `it is not little-endian (EI_DATA is ${bytes[5]}, 1 is ELFDATA2LSB): rawbpf reads ELF64 LE only`,
    );
  if (bytes.length < EHDR_SIZE)
    fail(file, `it is truncated inside its ELF header (${bytes.length} of 64 bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const head = { bytes, view, file };
  const type = view.getUint16(16, true);
  if (type !== ET_EXEC && type !== ET_DYN) {
    fail(
      file,
      `it is an ELF file of type ${type}, not an executable (2) or shared library (3): uprobes go in code a process runs`,
    );
  }
  const phoff = position(head, 32, "program header offset");
  const shoff = position(head, 40, "section header offset");
  const phentsize = view.getUint16(54, true);
  let phnum = view.getUint16(56, true);
  const shentsize = view.getUint16(58, true);
  let shnum = view.getUint16(60, true);
  if (shoff === 0)
    fail(file, "it has no section headers, so no symbol tables: give a file offset instead of a name");
  if (shentsize !== SHDR_SIZE) fail(file, `its section headers are ${shentsize} bytes each, not 64`);
  inside(head, shoff, SHDR_SIZE, "first section header");
  // more than 0xfeff sections, or PN_XNUM program headers: the real counts are in section 0
  if (shnum === 0) shnum = position(head, shoff + 32, "section count");
  if (phnum === PN_XNUM) phnum = view.getUint32(shoff + 44, true);
  inside(head, shoff, shnum * SHDR_SIZE, "section headers");
  const sections: Section[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * SHDR_SIZE;
    const type = view.getUint32(at + 4, true);
    const offset = type === SHT_NOBITS ? 0 : position(head, at + 24, `section ${i}'s offset`);
    const size = type === SHT_NOBITS ? 0 : position(head, at + 32, `section ${i}'s size`);
    sections.push({ type, offset, size, link: view.getUint32(at + 40, true) });
  }
  if (phnum > 0 && phentsize !== PHDR_SIZE)
    fail(file, `its program headers are ${phentsize} bytes each, not 56`);
  inside(head, phoff, phnum * PHDR_SIZE, "program headers");
  const segments: Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * PHDR_SIZE;
    if (view.getUint32(at, true) !== PT_LOAD) continue;
    segments.push({
      offset: position(head, at + 8, `segment ${i}'s offset`),
      vaddr: view.getBigUint64(at + 16, true),
      fileSize: position(head, at + 32, `segment ${i}'s size`),
    });
  }
  return { bytes, view, file, sections, segments };
}

/** Calls `visit` for each defined symbol of .symtab and .dynsym, with its name's place in the file. */
function eachSymbol(img: Image, visit: (sym: Sym, nameAt: number, nameEnd: number) => void): void {
  const { sections, view } = img;
  for (let s = 0; s < sections.length; s++) {
    const sec = sections[s] as Section;
    if (sec.type !== SHT_SYMTAB && sec.type !== SHT_DYNSYM) continue;
    const what = sec.type === SHT_SYMTAB ? ".symtab" : ".dynsym";
    inside(img, sec.offset, sec.size, what);
    const strtab = sections[sec.link];
    if (strtab === undefined)
      fail(img.file, `its ${what} links to section ${sec.link}, which does not exist`);
    inside(img, strtab.offset, strtab.size, `string table of ${what}`);
    const strEnd = strtab.offset + strtab.size;
    const count = Math.floor(sec.size / SYM_SIZE);
    // .gnu.version: a u16 per .dynsym entry, bit 15 set for versions a new link does not pick
    const versym =
      sec.type === SHT_DYNSYM ? sections.find((v) => v.type === SHT_GNU_VERSYM && v.link === s) : undefined;
    if (versym) inside(img, versym.offset, versym.size, ".gnu.version");
    for (let i = 1; i < count; i++) {
      const at = sec.offset + i * SYM_SIZE;
      const info = view.getUint8(at + 4);
      if (view.getUint16(at + 6, true) === 0) continue; // SHN_UNDEF: defined elsewhere
      const name = view.getUint32(at, true);
      if (name === 0 || name >= strtab.size) continue;
      const hidden =
        versym !== undefined &&
        2 * i + 2 <= versym.size &&
        (view.getUint16(versym.offset + 2 * i, true) & VERSYM_HIDDEN) !== 0;
      const value = view.getBigUint64(at + 8, true);
      visit({ type: info & 0xf, bind: info >> 4, value, hidden }, strtab.offset + name, strEnd);
    }
  }
}

/** Whether the NUL-terminated string at `at` (ending before `end`) is `want`. */
function nameIs(bytes: Uint8Array, at: number, end: number, want: Uint8Array): boolean {
  if (at + want.length >= end) return false;
  for (let i = 0; i < want.length; i++) if (bytes[at + i] !== want[i]) return false;
  return bytes[at + want.length] === 0;
}

function nameAt(bytes: Uint8Array, at: number, end: number): string {
  let e = at;
  while (e < end && bytes[e] !== 0) e++;
  return UTF8.decode(bytes.subarray(at, e));
}

/** The file offset of virtual address `vaddr`, through the PT_LOAD segment that maps it. */
function fileOffset(img: Image, vaddr: bigint, symbol: string): number {
  for (const seg of img.segments) {
    if (vaddr < seg.vaddr || vaddr >= seg.vaddr + BigInt(seg.fileSize)) continue;
    const offset = Number(vaddr - seg.vaddr) + seg.offset;
    inside(img, offset, 1, `function '${symbol}'`);
    return offset;
  }
  return fail(
    img.file,
    `its function '${symbol}' (address 0x${vaddr.toString(16)}) is in no loadable segment`,
  );
}

/**
 * The file offset of the function `symbol` in the ELF64 little-endian executable or shared library
 * whose bytes are `bytes` (`file` names it in errors): the symbol's address from .symtab or .dynsym,
 * made a file offset through the PT_LOAD segment holding it (offset = vaddr - p_vaddr + p_offset).
 * Throws {@link ElfFormatError} for a damaged or unsupported file, {@link SymbolNotFoundError}
 * (with a near name) when no function has that name, and {@link AmbiguousSymbolError} when several
 * local functions do.
 */
export function elfFunctionOffset(bytes: Uint8Array, symbol: string, file: string): number {
  const img = readImage(bytes, file);
  if (symbol.length === 0)
    throw new SymbolNotFoundError(file, symbol, undefined, "a function name must not be empty");
  const want = new TextEncoder().encode(symbol);
  const found: Sym[] = [];
  eachSymbol(img, (sym, at, end) => {
    if ((sym.type === STT_FUNC || sym.type === STT_GNU_IFUNC) && nameIs(bytes, at, end, want))
      found.push(sym);
  });
  // the default version of a versioned name, as a program linked now would call it
  const current = found.some((s) => !s.hidden) ? found.filter((s) => !s.hidden) : found;
  const funcs = current.filter((s) => s.type === STT_FUNC);
  if (funcs.length === 0) {
    if (current.length > 0) {
      throw new SymbolNotFoundError(
        file,
        symbol,
        undefined,
        `${file}'s '${symbol}' is an IFUNC: its address is the resolver that picks an implementation ` +
          "(by CPU features) when the library is loaded, so a probe there would not see the calls: " +
          "probe one implementation by its file offset (a build with symbols names them, e.g. " +
          `__${symbol}_avx2), or probe the function that calls it`,
      );
    }
    throw new SymbolNotFoundError(file, symbol, nearestName(symbol, functionNames(img)));
  }
  const exported = funcs.filter((s) => s.bind !== STB_LOCAL);
  const chosen = exported.length > 0 ? exported : funcs;
  const offsets = [...new Set(chosen.map((s) => fileOffset(img, s.value, symbol)))];
  if (offsets.length > 1) throw new AmbiguousSymbolError(file, symbol, offsets);
  return offsets[0] as number;
}

/**
 * The bytes of an ELF file of `size` bytes that {@link elfFunctionOffset} reads, and only those:
 * a zero-filled array of the file's size (pages never written cost no memory) into which
 * `readAt(into, offset)` copies, from the file at `offset`, the ELF header, the program and
 * section headers, and the symbol tables with their string and version tables. For a binary
 * like `node` (about 100 MB) that is a few MB. Damaged fields are clipped to the file, never
 * trusted for a size: the reader then finds the same damage it would in the whole file.
 */
export function readElfParts(size: number, readAt: (into: Uint8Array, offset: number) => void): Uint8Array {
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  const fetch = (offset: number, length: number) => {
    if (!(offset >= 0 && offset < size) || !(length > 0)) return;
    readAt(bytes.subarray(offset, offset + Math.min(length, size - offset)), offset);
  };
  const clip = (v: bigint) => (v > BigInt(size) ? size : Number(v));
  fetch(0, EHDR_SIZE);
  if (size < EHDR_SIZE || bytes[4] !== 2 || bytes[5] !== 1) return bytes;
  const phoff = clip(view.getBigUint64(32, true));
  const shoff = clip(view.getBigUint64(40, true));
  let phnum = view.getUint16(56, true);
  let shnum = view.getUint16(60, true);
  fetch(shoff, SHDR_SIZE);
  if (shoff + SHDR_SIZE <= size) {
    if (shnum === 0) shnum = clip(view.getBigUint64(shoff + 32, true));
    if (phnum === PN_XNUM) phnum = view.getUint32(shoff + 44, true);
  }
  fetch(phoff, phnum * PHDR_SIZE);
  fetch(shoff, shnum * SHDR_SIZE);
  const wanted = new Set<number>();
  for (let i = 0, at = shoff; i < shnum && at + SHDR_SIZE <= size; i++, at += SHDR_SIZE) {
    const type = view.getUint32(at + 4, true);
    if (type === SHT_SYMTAB || type === SHT_DYNSYM) wanted.add(i).add(view.getUint32(at + 40, true));
    else if (type === SHT_GNU_VERSYM) wanted.add(i);
  }
  for (const i of wanted) {
    const at = shoff + i * SHDR_SIZE;
    if (i >= shnum || at + SHDR_SIZE > size || view.getUint32(at + 4, true) === SHT_NOBITS) continue;
    fetch(clip(view.getBigUint64(at + 24, true)), clip(view.getBigUint64(at + 32, true)));
  }
  return bytes;
}

/** The names of the functions defined in the image (for suggestions). */
function functionNames(img: Image): string[] {
  const names = new Set<string>();
  eachSymbol(img, (sym, at, end) => {
    if (sym.type === STT_FUNC) names.add(nameAt(img.bytes, at, end));
  });
  return [...names];
}
