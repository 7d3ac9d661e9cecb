/**
 * USDT probes of an ELF executable or shared library, pure: the `stapsdt` notes of
 * `.note.stapsdt` (provider, name, location, base, semaphore, argument string), each made a file
 * offset (where the uprobe goes) and a semaphore file offset (the uprobe's ref_ctr_offset) through
 * the PT_LOAD program headers. Reads only the headers and the note section of the file (a reader
 * callback gives the bytes), so a 100 MB binary costs a few KB. Damaged files give an
 * {@link ElfFormatError} naming the file, the section and the offset.
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
  SHT_NOTE,
  SHT_SYMTAB,
  SYM_SIZE,
} from "../elf/constants.js";
import { ElfFormatError } from "../elf/errors.js";
import { parseUsdtArgs, type UsdtArgSpec } from "./args.js";
import { UsdtArgError } from "./errors.js";

/** NT_STAPSDT: the note type of a SystemTap/USDT probe. */
const NT_STAPSDT = 3;

/** One USDT probe site in a binary. */
export interface UsdtProbe {
  /** the provider (first argument of `DTRACE_PROBE*`/`STAP_PROBE*`) */
  readonly provider: string;
  /** the probe's name */
  readonly name: string;
  /** the site's virtual address as the note gives it (adjusted for prelinking by `.stapsdt.base`) */
  readonly address: bigint;
  /** the site's file offset: where the uprobe goes */
  readonly offset: number;
  /** the semaphore's virtual address, 0 when the probe has none */
  readonly semaphoreAddress: bigint;
  /** the semaphore's file offset (the uprobe's ref_ctr_offset), 0 when the probe has none */
  readonly semaphoreOffset: number;
  /** the argument string as the note has it (`-4@%edi 8@-8(%rbp) 4@$5`) */
  readonly argString: string;
  /** the arguments, parsed */
  readonly args: readonly UsdtArgSpec[];
}

interface Shdr {
  name: number;
  type: number;
  link: number;
  address: bigint;
  offset: number;
  size: number;
}

interface Seg {
  address: bigint;
  offset: number;
  fileSize: number;
  memSize: bigint;
}

const LATIN1 = new TextDecoder("latin1");

/**
 * The USDT probes of the ELF file of `size` bytes whose bytes `readAt(into, offset)` copies (`file`
 * names it in errors). A binary without `.note.stapsdt` has none (an empty list).
 * @throws ElfFormatError for a damaged or unsupported file, or a note rawbpf cannot read
 */
export function readUsdtProbes(
  size: number,
  readAt: (into: Uint8Array, offset: number) => void,
  file: string,
): UsdtProbe[] {
  const fail = (why: string, section?: string, offset?: number): never => {
    throw new ElfFormatError(file, why, {
      as: "a binary with USDT probes",
      ...(section === undefined ? {} : { section }),
      ...(offset === undefined ? {} : { offset }),
    });
  };
  const read = (offset: number, length: number, what: string, section?: string): DataView => {
    if (!(offset >= 0 && length >= 0 && offset + length <= size))
      fail(
        `its ${what} (bytes ${offset} to ${offset + length}) run past its end (${size} bytes)`,
        section,
        offset,
      );
    const into = new Uint8Array(length);
    readAt(into, offset);
    return new DataView(into.buffer);
  };
  const safe = (v: bigint, what: string): number => {
    if (v > BigInt(size)) fail(`its ${what} (0x${v.toString(16)}) is past its end (${size} bytes)`);
    return Number(v);
  };
  const head = read(0, Math.min(size, EHDR_SIZE), "ELF header");
  if (size < EHDR_SIZE || head.getUint32(0, false) !== 0x7f454c46)
    fail("it is not an ELF file (it does not start with the bytes 7f 45 4c 46)");
  if (head.getUint8(4) !== 2 || head.getUint8(5) !== 1)
    fail("it is not a 64-bit little-endian ELF file: rawbpf reads ELF64 LE only");
  const type = head.getUint16(16, true);
  if (type !== ET_EXEC && type !== ET_DYN)
    fail(`it is an ELF file of type ${type}, not an executable (2) or shared library (3)`);
  const phoff = safe(head.getBigUint64(32, true), "program header offset");
  const shoff = safe(head.getBigUint64(40, true), "section header offset");
  let phnum = head.getUint16(56, true);
  let shnum = head.getUint16(60, true);
  let shstrndx = head.getUint16(62, true);
  if (shoff === 0) return [];
  if (head.getUint16(58, true) !== SHDR_SIZE) fail("its section headers are not 64 bytes each");
  const first = read(shoff, SHDR_SIZE, "first section header");
  if (shnum === 0) shnum = safe(first.getBigUint64(32, true), "section count");
  if (phnum === PN_XNUM) phnum = first.getUint32(44, true);
  if (shstrndx === 0xffff) shstrndx = first.getUint32(40, true);
  const sh = read(shoff, shnum * SHDR_SIZE, `${shnum} section headers`);
  const sections: Shdr[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = i * SHDR_SIZE;
    sections.push({
      name: sh.getUint32(at, true),
      type: sh.getUint32(at + 4, true),
      link: sh.getUint32(at + 40, true),
      address: sh.getBigUint64(at + 16, true),
      offset: safe(sh.getBigUint64(at + 24, true), `section ${i}'s offset`),
      size: safe(sh.getBigUint64(at + 32, true), `section ${i}'s size`),
    });
  }
  const names = sections[shstrndx];
  if (names === undefined) return fail(`its section name table is section ${shstrndx}, of ${shnum}`);
  const nameBytes = new Uint8Array(read(names.offset, names.size, "section name table").buffer);
  const nameOf = (s: Shdr): string => {
    let end = s.name;
    while (end < nameBytes.length && nameBytes[end] !== 0) end++;
    return LATIN1.decode(nameBytes.subarray(s.name, end));
  };
  const notes = sections.find((s) => s.type === SHT_NOTE && nameOf(s) === ".note.stapsdt");
  if (notes === undefined) return [];
  const base = sections.find((s) => nameOf(s) === ".stapsdt.base");

  const segments: Seg[] = [];
  if (phnum > 0) {
    const ph = read(phoff, phnum * PHDR_SIZE, "program headers");
    for (let i = 0; i < phnum; i++) {
      const at = i * PHDR_SIZE;
      if (ph.getUint32(at, true) !== PT_LOAD) continue;
      segments.push({
        offset: safe(ph.getBigUint64(at + 8, true), `segment ${i}'s offset`),
        address: ph.getBigUint64(at + 16, true),
        fileSize: safe(ph.getBigUint64(at + 32, true), `segment ${i}'s size`),
        memSize: ph.getBigUint64(at + 40, true),
      });
    }
  }
  const toOffset = (address: bigint, what: string, at: number): number => {
    for (const seg of segments) {
      if (address < seg.address || address >= seg.address + seg.memSize) continue;
      return Number(address - seg.address) + seg.offset;
    }
    return fail(
      `its ${what} (address 0x${address.toString(16)}) is in no loadable segment`,
      ".note.stapsdt",
      at,
    );
  };

  // the defined symbols by name (.symtab, then .dynsym), read once and only when an argument is
  // a global variable (`counter(%rip)`): every link-time address a name has
  let symbols: Map<string, Set<bigint>> | undefined;
  const symbolTable = (): Map<string, Set<bigint>> => {
    if (symbols !== undefined) return symbols;
    symbols = new Map();
    for (const table of sections.filter((x) => x.type === SHT_SYMTAB || x.type === SHT_DYNSYM)) {
      const strtab = sections[table.link];
      if (strtab === undefined) continue;
      const sectionName = nameOf(table);
      const strs = new Uint8Array(read(strtab.offset, strtab.size, "symbol names", nameOf(strtab)).buffer);
      const syms = read(table.offset, table.size - (table.size % SYM_SIZE), "symbols", sectionName);
      for (let at = 0; at + SYM_SIZE <= syms.byteLength; at += SYM_SIZE) {
        const type = syms.getUint8(at + 4) & 0xf;
        // defined (not SHN_UNDEF), and not a section or file symbol
        if (syms.getUint16(at + 6, true) === 0 || type === 3 || type === 4) continue;
        const start = syms.getUint32(at, true);
        let end = start;
        while (end < strs.length && strs[end] !== 0) end++;
        if (end === start) continue;
        const name = LATIN1.decode(strs.subarray(start, end));
        let set = symbols.get(name);
        if (set === undefined) symbols.set(name, (set = new Set()));
        set.add(syms.getBigUint64(at + 8, true));
      }
    }
    return symbols;
  };
  /** A %rip-relative argument made a deref of the probe's ip: symbol + addend − the probe's address. */
  const resolve = (a: UsdtArgSpec, address: bigint, where: string): UsdtArgSpec => {
    const sym = a.symbol;
    if (sym === undefined) return a;
    const found = symbolTable().get(sym.name);
    if (found === undefined || found.size === 0)
      throw new UsdtArgError(
        where,
        a.text,
        `the global '${sym.name}' is in neither .symtab nor .dynsym of the binary (stripped?), so its address is unknown`,
      );
    if (found.size > 1)
      throw new UsdtArgError(
        where,
        a.text,
        `the symbol table has ${found.size} different '${sym.name}' (${[...found].map((v) => `0x${v.toString(16)}`).join(", ")}): which one the probe passes is unknown`,
      );
    const symAddress = [...found][0] as bigint;
    return {
      ...a,
      value: BigInt.asIntN(64, symAddress + sym.addend - address),
      symbol: { ...sym, address: symAddress },
    };
  };

  const d = read(notes.offset, notes.size, "USDT notes", ".note.stapsdt");
  const bytes = new Uint8Array(d.buffer);
  const probes: UsdtProbe[] = [];
  let at = 0;
  while (at + 12 <= bytes.length) {
    const where = notes.offset + at;
    const nameSize = d.getUint32(at, true);
    const descSize = d.getUint32(at + 4, true);
    const noteType = d.getUint32(at + 8, true);
    const nameAt = at + 12;
    const descAt = nameAt + ((nameSize + 3) & ~3);
    const next = descAt + ((descSize + 3) & ~3);
    if (nameSize > bytes.length || descSize > bytes.length || descAt + descSize > bytes.length)
      fail(`a note at offset ${at} runs past the section's end`, ".note.stapsdt", where);
    const owner = LATIN1.decode(bytes.subarray(nameAt, nameAt + Math.max(0, nameSize - 1)));
    at = next;
    if (owner !== "stapsdt" || noteType !== NT_STAPSDT) continue;
    if (descSize < 24 + 3) fail(`a stapsdt note is ${descSize} bytes, too short`, ".note.stapsdt", where);
    const pc = d.getBigUint64(descAt, true);
    const noteBase = d.getBigUint64(descAt + 8, true);
    const semaphore = d.getBigUint64(descAt + 16, true);
    const strings: string[] = [];
    let s = descAt + 24;
    const end = descAt + descSize;
    while (strings.length < 3 && s < end) {
      let e = s;
      while (e < end && bytes[e] !== 0) e++;
      if (e >= end) break;
      strings.push(LATIN1.decode(bytes.subarray(s, e)));
      s = e + 1;
    }
    if (strings.length < 2)
      fail("a stapsdt note lacks its provider and name strings", ".note.stapsdt", where);
    const [provider, name, argString = ""] = strings as [string, string, string?];
    // prelinked: the note's addresses were written for a base that .stapsdt.base no longer has
    const shift = base !== undefined && noteBase !== 0n ? base.address - noteBase : 0n;
    const address = pc + shift;
    const semaphoreAddress = semaphore === 0n ? 0n : semaphore + shift;
    const what = `probe ${provider}:${name}`;
    probes.push({
      provider,
      name,
      address,
      offset: toOffset(address, `${what}'s location`, where),
      semaphoreAddress,
      semaphoreOffset: semaphoreAddress === 0n ? 0 : toOffset(semaphoreAddress, `${what}'s semaphore`, where),
      argString,
      args: parseUsdtArgs(argString, `${file}: ${what}`).map((a) => resolve(a, address, `${file}: ${what}`)),
    });
  }
  return probes;
}
