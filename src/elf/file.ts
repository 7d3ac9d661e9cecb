/**
 * One ELF64 little-endian model, pure (bytes in, plain data out): the header, sections with
 * their names and bytes, symbols, relocations (REL and RELA), notes and loadable segments.
 * Everything is bounds-checked once, when the file is parsed: damaged input gives an
 * {@link ElfFormatError} naming the section and file offset, and no array is made larger than
 * the file's own bytes warrant (counts are checked against the bytes that would hold them).
 */
import {
  EHDR_SIZE,
  ET_REL,
  PHDR_SIZE,
  PN_XNUM,
  PT_LOAD,
  REL_SIZE,
  RELA_SIZE,
  SHDR_SIZE,
  SHN_LORESERVE,
  SHN_XINDEX,
  SHT_NOBITS,
  SHT_NOTE,
  SHT_REL,
  SHT_RELA,
  SHT_SYMTAB,
  SYM_SIZE,
} from "./constants.js";
import { ElfFormatError } from "./errors.js";

const UTF8 = new TextDecoder();

/** A section: its header fields, its name, and its bytes (empty for SHT_NOBITS). */
export interface ElfSection {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  readonly flags: number;
  readonly address: bigint;
  readonly offset: number;
  /** size in bytes (for SHT_NOBITS the size in memory; `data` is then empty) */
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly align: number;
  readonly entrySize: number;
  /** the section's bytes in the file (a view, not a copy) */
  readonly data: Uint8Array;
}

/** A symbol of .symtab (or .dynsym). */
export interface ElfSymbol {
  /** index in its table */
  readonly index: number;
  readonly name: string;
  /** st_value: an offset in its section (objects) or an address (executables) */
  readonly value: number;
  readonly size: number;
  /** STT_* */
  readonly type: number;
  /** STB_* */
  readonly bind: number;
  /** STV_* */
  readonly visibility: number;
  /** st_shndx: the section it is defined in, 0 when undefined, SHN_ABS/SHN_COMMON for those */
  readonly section: number;
}

/** A relocation of a section (REL, or RELA with its addend). */
export interface ElfRelocation {
  /** offset in the section it applies to */
  readonly offset: number;
  readonly type: number;
  /** index of the symbol in the symbol table */
  readonly symbol: number;
  /** the explicit addend (RELA), 0 for REL */
  readonly addend: bigint;
}

/** A note (SHT_NOTE): owner name, type and descriptor bytes. */
export interface ElfNote {
  readonly name: string;
  readonly type: number;
  readonly desc: Uint8Array;
  /** the section it came from */
  readonly section: number;
}

/** A loadable segment (PT_LOAD): file bytes [offset, offset + fileSize) are mapped at `address`. */
export interface ElfSegment {
  readonly address: bigint;
  readonly offset: number;
  readonly fileSize: number;
}

/** A parsed ELF64 little-endian file. */
export interface ElfFile {
  /** the name errors use */
  readonly file: string;
  readonly bytes: Uint8Array;
  /** e_type: 1 relocatable, 2 executable, 3 shared object */
  readonly type: number;
  /** e_machine (247 is EM_BPF) */
  readonly machine: number;
  readonly sections: readonly ElfSection[];
  /** .symtab's symbols (index 0 included, as in the file); empty when there is none */
  readonly symbols: readonly ElfSymbol[];
  /**
   * relocations by the index of the section they apply to, of a relocatable object (ET_REL); an
   * executable's or shared object's relocations (.rela.dyn, .rela.plt) are the dynamic loader's,
   * against the loaded image rather than a section, and are not read
   */
  readonly relocations: ReadonlyMap<number, readonly ElfRelocation[]>;
  readonly segments: readonly ElfSegment[];
}

/** Options of {@link parseElf}. */
export interface ParseElfOptions {
  /** the name errors give the file (default "the ELF file") */
  file?: string;
  /** what the file was to be read as, for messages (default "an ELF file") */
  as?: string;
}

/** Reads a NUL-terminated string at `offset` of a string table section. */
function stringAt(
  bytes: Uint8Array,
  table: ElfSection | undefined,
  offset: number,
  fail: (why: string, section?: string, at?: number) => never,
): string {
  if (offset === 0 || table === undefined) return "";
  if (offset >= table.data.length)
    fail(
      `a name at offset ${offset} lies past its string table (${table.data.length} bytes)`,
      table.name,
      table.offset,
    );
  const start = table.offset + offset;
  const end = table.offset + table.data.length;
  let e = start;
  while (e < end && bytes[e] !== 0) e++;
  if (e === end)
    fail(`the name at offset ${offset} of the string table has no terminating NUL`, table.name, start);
  return UTF8.decode(bytes.subarray(start, e));
}

/**
 * Parses an ELF64 little-endian file of any type (relocatable object, executable, shared
 * library): header, section headers and names, .symtab, every REL/RELA section, program headers.
 * @throws ElfFormatError for anything damaged, with the section and the file offset
 */
export function parseElf(bytes: Uint8Array, options: ParseElfOptions = {}): ElfFile {
  const file = options.file ?? "the ELF file";
  const as = options.as ?? "an ELF file";
  const fail = (why: string, section?: string, offset?: number): never => {
    throw new ElfFormatError(file, why, {
      as,
      ...(section === undefined ? {} : { section }),
      ...(offset === undefined ? {} : { offset }),
    });
  };
  if (bytes.length < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46)
    fail("it is not an ELF file (it does not start with the bytes 7f 45 4c 46, '\\x7fELF')");
  if (bytes.length < 6) fail("it is truncated inside its ELF identification");
  if (bytes[4] !== 2) fail(`it is not a 64-bit ELF file (EI_CLASS is ${bytes[4]}, 2 is ELFCLASS64)`);
  if (bytes[5] !== 1)
    fail(`it is not little-endian (EI_DATA is ${bytes[5]}, 1 is ELFDATA2LSB): rawbpf reads ELF64 LE only`);
  if (bytes.length < EHDR_SIZE) fail(`it is truncated inside its ELF header (${bytes.length} of 64 bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (at: number, what: string, section?: string): number => {
    const v = view.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER))
      fail(`its ${what} (0x${v.toString(16)}) is past any file`, section, at);
    return Number(v);
  };
  const inside = (offset: number, size: number, what: string, section?: string): void => {
    if (offset + size > bytes.length)
      fail(
        `it is truncated: its ${what} (bytes ${offset} to ${offset + size}) run past its end (${bytes.length} bytes)`,
        section,
        offset,
      );
  };
  const type = view.getUint16(16, true);
  const machine = view.getUint16(18, true);
  const phoff = u64(32, "program header offset");
  const shoff = u64(40, "section header offset");
  const phentsize = view.getUint16(54, true);
  let phnum = view.getUint16(56, true);
  const shentsize = view.getUint16(58, true);
  let shnum = view.getUint16(60, true);
  let shstrndx = view.getUint16(62, true);

  const sections: ElfSection[] = [];
  if (shoff !== 0) {
    if (shentsize !== SHDR_SIZE) fail(`its section headers are ${shentsize} bytes each, not 64`);
    inside(shoff, SHDR_SIZE, "first section header");
    // more than 0xfeff sections, PN_XNUM program headers, or a large shstrndx: the real values are in section 0
    if (shnum === 0) shnum = u64(shoff + 32, "section count");
    if (phnum === PN_XNUM) phnum = view.getUint32(shoff + 44, true);
    if (shstrndx === SHN_XINDEX) shstrndx = view.getUint32(shoff + 40, true);
    inside(shoff, shnum * SHDR_SIZE, `${shnum} section headers`);
    const raw: Omit<ElfSection, "name">[] = [];
    const nameOffsets: number[] = [];
    for (let i = 0; i < shnum; i++) {
      const at = shoff + i * SHDR_SIZE;
      const stype = view.getUint32(at + 4, true);
      const offset = u64(at + 24, `section ${i}'s offset`, `${i}`);
      const size = u64(at + 32, `section ${i}'s size`, `${i}`);
      if (stype !== SHT_NOBITS && i > 0) inside(offset, size, `section ${i}'s bytes`, `${i}`);
      nameOffsets.push(view.getUint32(at, true));
      raw.push({
        index: i,
        type: stype,
        flags: Number(view.getBigUint64(at + 8, true) & 0xffffffffn),
        address: view.getBigUint64(at + 16, true),
        offset,
        size,
        link: view.getUint32(at + 40, true),
        info: view.getUint32(at + 44, true),
        align: Number(view.getBigUint64(at + 48, true) & 0xffffffffn),
        entrySize: Number(view.getBigUint64(at + 56, true) & 0xffffffffn),
        data: stype === SHT_NOBITS || i === 0 ? new Uint8Array(0) : bytes.subarray(offset, offset + size),
      });
    }
    const names =
      shstrndx !== 0 && shstrndx < raw.length
        ? ({ ...raw[shstrndx], name: ".shstrtab" } as ElfSection)
        : undefined;
    if (shstrndx !== 0 && names === undefined)
      fail(`its section name table is section ${shstrndx}, but there are only ${shnum} sections`);
    for (let i = 0; i < raw.length; i++) {
      sections.push({
        ...(raw[i] as Omit<ElfSection, "name">),
        name: stringAt(bytes, names, nameOffsets[i] as number, fail),
      });
    }
  }
  const byIndex = (i: number, what: string, from: ElfSection): ElfSection => {
    const s = sections[i];
    if (s === undefined || i === 0)
      fail(
        `its ${what} is section ${i}, which does not exist (there are ${sections.length})`,
        from.name,
        from.offset,
      );
    return s as ElfSection;
  };

  // .symtab
  const symbols: ElfSymbol[] = [];
  const symtab = sections.find((s) => s.type === SHT_SYMTAB);
  if (symtab !== undefined) {
    const strtab = byIndex(symtab.link, "symbol string table", symtab);
    if (symtab.size % SYM_SIZE !== 0)
      fail(
        `its symbol table is ${symtab.size} bytes, not a whole number of 24-byte symbols`,
        symtab.name,
        symtab.offset,
      );
    const count = symtab.size / SYM_SIZE;
    for (let i = 0; i < count; i++) {
      const at = symtab.offset + i * SYM_SIZE;
      const info = view.getUint8(at + 4);
      const value = view.getBigUint64(at + 8, true);
      const size = view.getBigUint64(at + 16, true);
      if (value > BigInt(Number.MAX_SAFE_INTEGER) || size > BigInt(Number.MAX_SAFE_INTEGER))
        fail(
          `symbol ${i}'s value or size (0x${value.toString(16)}, 0x${size.toString(16)}) is out of range`,
          symtab.name,
          at,
        );
      const shndx = view.getUint16(at + 6, true);
      if (shndx !== 0 && shndx < SHN_LORESERVE && shndx >= sections.length)
        fail(
          `symbol ${i} is defined in section ${shndx}, which does not exist (there are ${sections.length})`,
          symtab.name,
          at,
        );
      symbols.push({
        index: i,
        name: stringAt(bytes, strtab, view.getUint32(at, true), fail),
        value: Number(value),
        size: Number(size),
        type: info & 0xf,
        bind: info >> 4,
        visibility: view.getUint8(at + 5) & 3,
        section: shndx,
      });
    }
  }

  // relocations
  const relocations = new Map<number, ElfRelocation[]>();
  for (const s of sections) {
    if (type !== ET_REL || (s.type !== SHT_REL && s.type !== SHT_RELA)) continue;
    const size = s.type === SHT_REL ? REL_SIZE : RELA_SIZE;
    if (s.size % size !== 0)
      fail(
        `its relocation section is ${s.size} bytes, not a whole number of ${size}-byte entries`,
        s.name,
        s.offset,
      );
    const target = byIndex(s.info, "relocation target", s);
    if (s.link !== symtab?.index)
      fail(`its relocations refer to section ${s.link}, which is not the symbol table`, s.name, s.offset);
    const list = relocations.get(target.index) ?? [];
    const rela = s.type === SHT_RELA;
    // words, not BigInts: a debug-info object has thousands of these (r_offset's high word is 0
    // for any offset inside a section, which is at most 2^53 bytes)
    for (let at = s.offset; at < s.offset + s.size; at += size) {
      const high = view.getUint32(at + 4, true);
      const offset = high * 0x100000000 + view.getUint32(at, true);
      const symbol = view.getUint32(at + 12, true);
      if (high >= 0x200000 || offset >= target.size)
        fail(
          `a relocation at offset 0x${view.getBigUint64(at, true).toString(16)} lies past the end of ${target.name} (${target.size} bytes)`,
          s.name,
          at,
        );
      if (symbol >= symbols.length)
        fail(`a relocation names symbol ${symbol}, but the symbol table has ${symbols.length}`, s.name, at);
      list.push({
        offset,
        type: view.getUint32(at + 8, true),
        symbol,
        addend: rela ? view.getBigInt64(at + 16, true) : 0n,
      });
    }
    relocations.set(target.index, list);
  }

  // program headers
  const segments: ElfSegment[] = [];
  if (phnum > 0) {
    if (phentsize !== PHDR_SIZE) fail(`its program headers are ${phentsize} bytes each, not 56`);
    inside(phoff, phnum * PHDR_SIZE, "program headers");
    for (let i = 0; i < phnum; i++) {
      const at = phoff + i * PHDR_SIZE;
      if (view.getUint32(at, true) !== PT_LOAD) continue;
      segments.push({
        offset: u64(at + 8, `segment ${i}'s offset`),
        address: view.getBigUint64(at + 16, true),
        fileSize: u64(at + 32, `segment ${i}'s size`),
      });
    }
  }
  return { file, bytes, type, machine, sections, symbols, relocations, segments };
}

/** The notes of every SHT_NOTE section (4-byte aligned name and descriptor, as ELF64 writes them). */
export function elfNotes(elf: ElfFile): ElfNote[] {
  const out: ElfNote[] = [];
  for (const s of elf.sections) {
    if (s.type !== SHT_NOTE) continue;
    const d = s.data;
    const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
    let at = 0;
    while (at + 12 <= d.length) {
      const nameSize = v.getUint32(at, true);
      const descSize = v.getUint32(at + 4, true);
      const type = v.getUint32(at + 8, true);
      const nameAt = at + 12;
      const descAt = nameAt + ((nameSize + 3) & ~3);
      const end = descAt + ((descSize + 3) & ~3);
      if (descAt + descSize > d.length || nameSize > d.length)
        throw new ElfFormatError(elf.file, `a note at offset ${at} runs past its section's end`, {
          as: "an ELF file",
          section: s.name,
          offset: s.offset + at,
        });
      const name = UTF8.decode(d.subarray(nameAt, nameAt + Math.max(0, nameSize - 1)));
      out.push({ name, type, desc: d.subarray(descAt, descAt + descSize), section: s.index });
      at = end;
    }
  }
  return out;
}

/** The section called `name`, if there is one. */
export function elfSection(elf: ElfFile, name: string): ElfSection | undefined {
  return elf.sections.find((s) => s.name === name);
}

/** Whether `bytes` start with the ELF magic (7f 45 4c 46). */
export function isElf(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46
  );
}
