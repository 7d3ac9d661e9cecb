/**
 * A clang-compiled BPF object → plain specs: programs (instructions linked with the subprograms
 * they call, map references still symbolic, func_info and line_info moved with them), maps
 * (BTF-defined `.maps`, legacy `maps`, global data sections) and the object's BTF with its
 * DATASECs filled in as libbpf's btf_fixup_datasec does. Pure: no kernel is asked here.
 */
import { type CoreRelocation, parseCoreRelocations } from "../btf/core/ext.js";
import { Btf } from "../btf/decode.js";
import { BtfError } from "../btf/errors.js";
import type { FuncInfo, LineInfo } from "../btf/ext.js";
import { Kind } from "../btf/kinds.js";
import {
  type ElfFile,
  type ElfRelocation,
  type ElfSection,
  type ElfSymbol,
  parseElf,
  SHF_ALLOC,
  SHF_EXECINSTR,
  SHT_NOBITS,
  SHT_PROGBITS,
  STB_LOCAL,
  STT_FUNC,
  STT_SECTION,
} from "../elf/index.js";
import { mapTypeName } from "../map/types.js";
import { type BtfExt, parseBtfExt } from "./btfext.js";
import { ObjectFormatError } from "./errors.js";
import {
  collectExterns,
  type ExternReference,
  fixupExternBtf,
  kconfigSize,
  type ObjectExtern,
  sortDatasecs,
} from "./externs.js";
import { type SectionDef, sectionDef } from "./sections.js";

/** A reference from an instruction to a map: its descriptor (ld_imm64 src 1) or its value at an offset (src 2). */
export interface MapReference {
  /** slot of the ld_imm64 in the linked program */
  readonly insn: number;
  /** the map's name in the object */
  readonly map: string;
  /** BPF_PSEUDO_MAP_VALUE: the offset into the value; undefined for BPF_PSEUDO_MAP_FD */
  readonly offset: number | undefined;
}

/** A program of the object, linked with its subprograms. */
export interface ObjectProgram {
  /** the function's name */
  readonly name: string;
  readonly section: string;
  readonly def: SectionDef;
  /** the linked instructions (map immediates still 0) */
  readonly insns: Uint8Array;
  readonly references: readonly MapReference[];
  readonly funcInfo: readonly FuncInfo[];
  readonly lineInfo: readonly LineInfo[];
  /** the subprograms appended, in order */
  readonly subprograms: readonly string[];
  /** its calls of kfuncs and addresses of `.ksyms` externs, patched at load */
  readonly externReferences: readonly ExternReference[];
  /**
   * the CO-RE relocations of its own code and of every subprogram appended, in the order of
   * .BTF.ext, their instruction offsets (bytes) moved to the linked program
   */
  readonly coreRelocations: readonly CoreRelocation[];
}

/** A map of the object. */
export interface ObjectMap {
  readonly name: string;
  /** where it was declared: ".maps", "maps" (legacy) or a global data section */
  readonly section: string;
  readonly kind: "btf" | "legacy" | "data";
  readonly type: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly numaNode: number | undefined;
  /** BTF ids of the key and value types in the object's BTF (0: none) */
  readonly keyTypeId: number;
  readonly valueTypeId: number;
  /** LIBBPF_PIN_BY_NAME (1) or none (0) */
  readonly pinning: number;
  /** map-in-map: the inner map's shape */
  readonly inner: ObjectMap | undefined;
  /** initial `values`: the name of the map or program in each slot (undefined: empty) */
  readonly initialValues: readonly (string | undefined)[];
  /** global data: the section's initial bytes (zeros for .bss) */
  readonly data: Uint8Array | undefined;
  /** global data in .rodata*: frozen after it is filled, read-only for programs */
  readonly readOnly: boolean;
}

/** A global variable of a data section. */
export interface ObjectVariable {
  readonly name: string;
  /** the data map it lives in */
  readonly map: string;
  readonly offset: number;
  readonly size: number;
  /** its BTF type id (the VAR's type) */
  readonly typeId: number;
}

/** Everything an object holds, as plain data. */
export interface ObjectSpec {
  readonly file: string;
  /** the object's name (file name without `.o`), the prefix of its data maps' names */
  readonly name: string;
  readonly license: string;
  readonly programs: readonly ObjectProgram[];
  readonly maps: readonly ObjectMap[];
  readonly variables: readonly ObjectVariable[];
  /** the object's BTF, DATASECs filled in (undefined when the object has none) */
  readonly btf: Uint8Array | undefined;
  readonly btfModel: Btf | undefined;
  /** the externs (`.kconfig`, `.ksyms`), in libbpf's order */
  readonly externs: readonly ObjectExtern[];
  /** the CO-RE relocation records of .BTF.ext (empty when none) */
  readonly coreRelos: Uint8Array;
  readonly sections: readonly { name: string; type: number; size: number; flags: number }[];
}

interface Func {
  readonly name: string;
  readonly section: number;
  /** first slot in its section */
  readonly start: number;
  readonly count: number;
}

const BPF_PSEUDO_MAP_FD = 1;
const BPF_PSEUDO_MAP_VALUE = 2;
const BPF_PSEUDO_CALL = 1;
const BPF_PSEUDO_FUNC = 4;
const BPF_F_RDONLY_PROG = 0x80;
const BPF_F_MMAPABLE = 0x400;
/**
 * The largest value an array map holds (global data is one): the kernel refuses a larger one with
 * E2BIG (`value_size > KMALLOC_MAX_SIZE`, arraymap.c). KMALLOC_MAX_SIZE is 4 MiB with 4 KiB pages
 * and 512 MiB with arm64's 64 KiB pages, the largest of any configuration: a .bss said to be
 * larger is a damaged header, refused before 4 GiB of zeros are made for it.
 */
const MAX_ARRAY_VALUE = 512 << 20;

/** libbpf's name for a global data map: up to 8 characters of the object's name, then the section. */
export function dataMapName(objectName: string, section: string): string {
  const prefix = objectName.slice(0, Math.max(0, Math.min(8, 15 - section.length)));
  return `${prefix}${section}`.slice(0, 15).replace(/[^A-Za-z0-9_.]/g, "_");
}

function isDataSection(s: ElfSection): boolean {
  if ((s.flags & SHF_ALLOC) === 0 || (s.flags & SHF_EXECINSTR) !== 0) return false;
  if (s.type !== SHT_PROGBITS && s.type !== SHT_NOBITS) return false;
  return /^\.(data|bss|rodata)(\.|$)/.test(s.name);
}

/**
 * Reads an object's bytes into specs.
 * @throws ElfFormatError for damaged ELF, ObjectFormatError for what cannot be made sense of
 */
export function parseObject(bytes: Uint8Array, options: { file?: string } = {}): ObjectSpec {
  const file = options.file ?? "the object";
  try {
    return parseObjectBytes(bytes, file);
  } catch (e) {
    // a type or string the rest of the object points at is missing or damaged in .BTF
    if (e instanceof BtfError)
      throw new ObjectFormatError(file, `its .BTF cannot be used: ${e.message}`, {
        section: ".BTF",
        ...(e.offset === undefined ? {} : { offset: e.offset }),
        cause: e,
      });
    throw e;
  }
}

function parseObjectBytes(bytes: Uint8Array, file: string): ObjectSpec {
  const elf = parseElf(bytes, { file, as: "a BPF object" });
  const fail = (why: string): never => {
    throw new ObjectFormatError(file, why);
  };
  if (elf.type !== 1)
    fail(`it is an ELF file of type ${elf.type}, not a relocatable object (1) as clang -c writes`);
  if (elf.machine !== 247)
    fail(`it is for machine ${elf.machine}, not BPF (247): compile with clang -target bpf`);
  const name = (file.split("/").pop() ?? file).replace(/\.o$/, "").replace(/\.bpf$/, "");
  const byName = new Map(elf.sections.map((s) => [s.name, s]));
  const licenseSec = byName.get("license");
  const license = licenseSec ? new TextDecoder().decode(licenseSec.data).replace(/\0.*$/s, "") : "";

  // BTF, and its DATASECs filled in from the ELF sections and symbols
  const btfSec = byName.get(".BTF");
  let btf: Uint8Array | undefined;
  let model: Btf | undefined;
  if (btfSec) {
    btf = new Uint8Array(btfSec.data);
    try {
      model = Btf.parse(btf);
    } catch (e) {
      throw new ObjectFormatError(file, `its .BTF cannot be read: ${(e as Error).message}`, {
        section: ".BTF",
        ...(e instanceof BtfError && e.offset !== undefined ? { offset: e.offset } : {}),
        cause: e,
      });
    }
  }
  const externs = collectExterns(elf, model, fail);
  if (btf && model) {
    fixupDatasecs(elf, btf, model);
    hiddenFunctionsStatic(elf, btf, model);
    btf = fixupExternBtf(btf, model, externs, fail);
    model = Btf.parse(btf);
    sortDatasecs(btf, model);
    model = Btf.parse(btf);
  }
  let ext: BtfExt | undefined;
  const extSec = byName.get(".BTF.ext");
  if (extSec && model) {
    const m = model;
    ext = parseBtfExt(extSec.data, (o) => m.string(o), file);
  }
  let core: ReadonlyMap<string, readonly CoreRelocation[]> = new Map();
  if (extSec && model && ext && ext.coreRelos.length > 0) {
    try {
      core = parseCoreRelocations(extSec.data, model);
    } catch (e) {
      if (!(e instanceof BtfError)) throw e;
      throw new ObjectFormatError(file, `its .BTF.ext CO-RE relocations: ${e.message}`, {
        section: ".BTF.ext",
        cause: e,
      });
    }
  }

  // functions of every code section
  const funcs: Func[] = [];
  for (const sym of elf.symbols) {
    if (sym.type !== STT_FUNC || sym.section === 0 || sym.section >= elf.sections.length) continue;
    const sec = elf.sections[sym.section] as ElfSection;
    if ((sec.flags & SHF_EXECINSTR) === 0) continue;
    if (sym.value % 8 !== 0 || sym.size % 8 !== 0 || sym.value + sym.size > sec.size)
      fail(
        `function '${sym.name}' (${sym.size} bytes at ${sym.value} of ${sec.name}) is not whole instructions inside its section`,
      );
    funcs.push({ name: sym.name, section: sym.section, start: sym.value / 8, count: sym.size / 8 });
  }
  const funcAt = (section: number, slot: number, from: string): Func => {
    const f = funcs.find((x) => x.section === section && slot >= x.start && slot < x.start + x.count);
    if (!f)
      fail(
        `${from} refers to instruction ${slot} of ${elf.sections[section]?.name}, which is in no function`,
      );
    return f as Func;
  };

  // maps
  const maps: ObjectMap[] = [];
  const mapBySymbol = new Map<string, string>(); // "section:offset" -> map name
  const mapsSec = byName.get(".maps");
  if (mapsSec && model) maps.push(...btfMaps(elf, mapsSec, model, mapBySymbol, fail));
  const legacy = byName.get("maps");
  if (legacy) maps.push(...legacyMaps(elf, legacy, mapBySymbol, fail));
  const variables: ObjectVariable[] = [];
  for (const s of elf.sections) {
    if (!isDataSection(s) || s.size === 0) continue;
    // a section with contents lies in the file; a .bss (no contents) says its size only
    if (s.type === SHT_NOBITS && s.size > MAX_ARRAY_VALUE)
      fail(
        `${s.name} is ${s.size} bytes, more than any kernel holds in one array map value (KMALLOC_MAX_SIZE: 4 MiB with 4 KiB pages, 512 MiB at most): a damaged section header?`,
      );
    const mapName = dataMapName(name, s.name);
    const datasec = model?.findId(s.name, "datasec") ?? 0;
    maps.push({
      name: mapName,
      section: s.name,
      kind: "data",
      type: "array",
      keySize: 4,
      valueSize: s.size,
      maxEntries: 1,
      flags: BPF_F_MMAPABLE | (s.name.startsWith(".rodata") ? BPF_F_RDONLY_PROG : 0),
      numaNode: undefined,
      keyTypeId: 0,
      valueTypeId: datasec,
      pinning: 0,
      inner: undefined,
      initialValues: [],
      data: s.type === SHT_NOBITS ? new Uint8Array(s.size) : new Uint8Array(s.data),
      readOnly: s.name.startsWith(".rodata"),
    });
    mapBySymbol.set(`${s.index}`, mapName);
    if (model && datasec) {
      const t = model.type(datasec);
      if (t.kind === "datasec") {
        for (const v of t.vars) {
          const vt = model.type(v.type);
          if (vt.kind === "var")
            variables.push({ name: vt.name, map: mapName, offset: v.offset, size: v.size, typeId: vt.type });
        }
      }
    }
  }
  const kconfigMap = dataMapName(name, ".kconfig");
  const kconfigBytes = kconfigSize(externs);
  if (kconfigBytes > 0) {
    maps.push({
      name: kconfigMap,
      section: ".kconfig",
      kind: "data",
      type: "array",
      keySize: 4,
      valueSize: kconfigBytes,
      maxEntries: 1,
      flags: BPF_F_MMAPABLE | BPF_F_RDONLY_PROG,
      numaNode: undefined,
      keyTypeId: 0,
      valueTypeId: model?.findId(".kconfig", "datasec") ?? 0,
      pinning: 0,
      inner: undefined,
      initialValues: [],
      data: new Uint8Array(kconfigBytes),
      readOnly: true,
    });
    for (const e of externs)
      if (e.kconfig)
        variables.push({
          name: e.name,
          map: kconfigMap,
          offset: e.kconfig.offset,
          size: e.kconfig.size,
          typeId: model ? (model.type(e.btfId) as { type: number }).type : 0,
        });
  }
  const externByName = new Map(externs.map((e) => [e.name, e]));
  const mapNames = new Set(maps.map((m) => m.name));

  // programs
  const programs: ObjectProgram[] = [];
  const textIndex = byName.get(".text")?.index;
  const partsBySection = new Map<number, SectionParts>();
  const parts = (section: number): SectionParts => {
    let p = partsBySection.get(section);
    if (!p) partsBySection.set(section, (p = sectionParts(elf, section, funcs, ext, core)));
    return p;
  };
  for (const f of funcs) {
    if (f.section === textIndex) continue;
    const sec = elf.sections[f.section] as ElfSection;
    const def = sectionDef(sec.name);
    programs.push(linkProgram(elf, f, def, funcAt, mapBySymbol, parts, fail, { externByName, kconfigMap }));
  }
  for (const p of programs)
    for (const r of p.references)
      if (!mapNames.has(r.map)) fail(`program ${p.name} refers to unknown map ${r.map}`);
  return {
    file,
    name,
    license,
    programs,
    maps,
    variables,
    btf,
    btfModel: model,
    externs,
    coreRelos: ext?.coreRelos ?? new Uint8Array(0),
    sections: elf.sections
      .slice(1)
      .map((s) => ({ name: s.name, type: s.type, size: s.size, flags: s.flags })),
  };
}

/** Fills in DATASEC sizes (the ELF section's) and variable offsets (their symbols'), in place. */
function fixupDatasecs(elf: ElfFile, btf: Uint8Array, model: Btf): void {
  const v = new DataView(btf.buffer, btf.byteOffset, btf.byteLength);
  const typeStart = v.getUint32(4, true) + v.getUint32(8, true);
  const { starts } = model.typeWords;
  for (let id = 1; id < model.typeCount + 1; id++) {
    if (model.kindOf(id) !== Kind.DATASEC) continue;
    const secName = model.nameOf(id);
    const sec = elf.sections.find((s) => s.name === secName);
    if (!sec) continue;
    const at = typeStart + (starts[id - 1] as number) * 4;
    v.setUint32(at + 8, sec.size, true);
    const vlen = model.vlenOf(id);
    for (let i = 0; i < vlen; i++) {
      const info = at + 12 + i * 12;
      const varId = v.getUint32(info, true);
      const varName = model.nameOf(varId);
      const sym = elf.symbols.find(
        (s) => s.name === varName && s.section === sec.index && s.type !== STT_SECTION,
      );
      if (sym) v.setUint32(info + 4, sym.value, true);
    }
  }
}

/**
 * Global functions of hidden (or internal) visibility get BTF linkage static, as libbpf does: the
 * verifier then checks them with their caller's context (a `long *res` argument known non-NULL)
 * instead of alone. libbpf's usdt.bpf.h relies on it (`__weak __hidden bpf_usdt_arg`).
 */
function hiddenFunctionsStatic(elf: ElfFile, btf: Uint8Array, model: Btf): void {
  const hidden = new Set(
    elf.symbols
      .filter(
        (s) => s.type === STT_FUNC && s.bind !== STB_LOCAL && (s.visibility === 1 || s.visibility === 2),
      )
      .map((s) => s.name),
  );
  if (hidden.size === 0) return;
  const v = new DataView(btf.buffer, btf.byteOffset, btf.byteLength);
  const typeStart = v.getUint32(4, true) + v.getUint32(8, true);
  const { starts } = model.typeWords;
  for (let id = 1; id < model.typeCount + 1; id++) {
    if (model.kindOf(id) !== Kind.FUNC || !hidden.has(model.nameOf(id))) continue;
    const at = typeStart + (starts[id - 1] as number) * 4;
    // the info word's vlen bits hold a FUNC's linkage: 0 static
    v.setUint32(at + 4, v.getUint32(at + 4, true) & ~0xffff, true);
  }
}

function btfMaps(
  elf: ElfFile,
  sec: ElfSection,
  btf: Btf,
  bySymbol: Map<string, string>,
  fail: (why: string) => never,
): ObjectMap[] {
  const out: ObjectMap[] = [];
  const id = btf.findId(".maps", "datasec");
  if (id === undefined) fail("it has a .maps section but no DATASEC '.maps' in its BTF (compile with -g)");
  const ds = btf.type(id as number);
  if (ds.kind !== "datasec") return out;
  const relocs = elf.relocations.get(sec.index) ?? [];
  for (const v of ds.vars) {
    const vt = btf.type(v.type);
    if (vt.kind !== "var") continue;
    const m = mapDef(btf, vt.type, vt.name, fail);
    // initial values: ABS64 relocations in the `values` slots
    const initialValues: (string | undefined)[] = [];
    if (m.valuesOffset !== undefined) {
      const base = v.offset + m.valuesOffset;
      for (const r of relocs) {
        if (r.offset < base || r.offset >= v.offset + v.size) continue;
        initialValues[(r.offset - base) / 8] = (elf.symbols[r.symbol] as ElfSymbol).name;
      }
    }
    out.push({ ...m.map, section: ".maps", initialValues });
    bySymbol.set(`${sec.index}:${v.offset}`, vt.name);
  }
  return out;
}

function mapDef(
  btf: Btf,
  typeId: number,
  name: string,
  fail: (why: string) => never,
): { map: ObjectMap; valuesOffset: number | undefined } {
  const st = btf.type(btf.resolve(typeId));
  if (st.kind !== "struct")
    fail(`map '${name}' in .maps is a ${st.kind}, not a struct of __uint/__type fields`);
  const fields: Record<string, number> = {};
  let keyTypeId = 0;
  let valueTypeId = 0;
  let inner: ObjectMap | undefined;
  let valuesOffset: number | undefined;
  const ptrTarget = (t: number) => {
    const p = btf.type(btf.resolve(t));
    if (p.kind !== "ptr")
      fail(`map '${name}': a field is a ${p.kind}, not a pointer as __uint and __type make`);
    return (p as { type: number }).type;
  };
  for (const m of (st as { members: readonly { name: string; type: number; bitOffset: number }[] }).members) {
    switch (m.name) {
      case "key":
        keyTypeId = ptrTarget(m.type);
        break;
      case "value":
        valueTypeId = ptrTarget(m.type);
        break;
      case "values": {
        const arr = btf.type(btf.resolve(m.type));
        if (arr.kind !== "array") fail(`map '${name}': 'values' is not an array (use __array(values, ...))`);
        valuesOffset = m.bitOffset / 8;
        const elem = btf.type(btf.resolve((arr as { type: number }).type));
        const target = elem.kind === "ptr" ? btf.resolve(elem.type) : 0;
        if (target && btf.kindName(target) === "struct")
          inner = mapDef(btf, target, `${name}.inner`, fail).map;
        break;
      }
      default: {
        const arr = btf.type(btf.resolve(ptrTarget(m.type)));
        if (arr.kind !== "array") fail(`map '${name}': field '${m.name}' is not an __uint(...)`);
        fields[m.name] = (arr as { length: number }).length;
      }
    }
  }
  const typeNumber = fields.type ?? fail(`map '${name}' has no __uint(type, ...)`);
  const type = mapTypeName(typeNumber as number) ?? fail(`map '${name}' has unknown map type ${typeNumber}`);
  const keySize = keyTypeId ? btf.sizeOf(keyTypeId) : (fields.key_size ?? 0);
  let valueSize = valueTypeId ? btf.sizeOf(valueTypeId) : (fields.value_size ?? 0);
  if (inner && valueSize === 0) valueSize = 4;
  if (type === "prog_array" && valueSize === 0) valueSize = 4;
  return {
    map: {
      name,
      section: ".maps",
      kind: "btf",
      type,
      keySize: keySize || (type === "prog_array" || inner ? 4 : 0),
      valueSize,
      maxEntries: fields.max_entries ?? 0,
      flags: fields.map_flags ?? 0,
      numaNode: fields.numa_node,
      keyTypeId,
      valueTypeId,
      pinning: fields.pinning ?? 0,
      inner,
      initialValues: [],
      data: undefined,
      readOnly: false,
    },
    valuesOffset,
  };
}

function legacyMaps(
  elf: ElfFile,
  sec: ElfSection,
  bySymbol: Map<string, string>,
  fail: (why: string) => never,
): ObjectMap[] {
  const syms = elf.symbols.filter((s) => s.section === sec.index && s.type !== STT_SECTION && s.name);
  if (syms.length === 0) return [];
  const size = sec.size / syms.length;
  if (!Number.isInteger(size) || size < 20)
    fail(`its legacy 'maps' section does not hold whole struct bpf_map_def entries`);
  const v = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
  return syms.map((s) => {
    if (s.value + 20 > sec.data.length) fail(`legacy map '${s.name}' lies past the end of 'maps'`);
    const t = v.getUint32(s.value, true);
    bySymbol.set(`${sec.index}:${s.value}`, s.name);
    return {
      name: s.name,
      section: "maps",
      kind: "legacy" as const,
      type: mapTypeName(t) ?? fail(`legacy map '${s.name}' has unknown map type ${t}`),
      keySize: v.getUint32(s.value + 4, true),
      valueSize: v.getUint32(s.value + 8, true),
      maxEntries: v.getUint32(s.value + 12, true),
      flags: v.getUint32(s.value + 16, true),
      numaNode: undefined,
      keyTypeId: 0,
      valueTypeId: 0,
      pinning: 0,
      inner: undefined,
      initialValues: [],
      data: undefined,
      readOnly: false,
    };
  });
}

/** What a code section's records say about each of its functions, sorted out once per section. */
interface FuncParts {
  readonly funcInfo: FuncInfo[];
  readonly lineInfo: LineInfo[];
  readonly core: CoreRelocation[];
}

interface SectionParts {
  /** the section's ELF relocations by offset */
  readonly relocs: ReadonlyMap<number, ElfRelocation>;
  readonly byFunc: ReadonlyMap<Func, FuncParts>;
}

/**
 * Sorts a code section's func_info, line_info and CO-RE records into its functions (each record
 * in the function whose instructions hold it, in the records' order; records in no function are
 * dropped), with one binary search a record, instead of a pass over all of them a function.
 */
function sectionParts(
  elf: ElfFile,
  section: number,
  funcs: readonly Func[],
  ext: BtfExt | undefined,
  core: ReadonlyMap<string, readonly CoreRelocation[]>,
): SectionParts {
  const name = (elf.sections[section] as ElfSection).name;
  const mine = funcs.filter((f) => f.section === section).sort((a, b) => a.start - b.start);
  const byFunc = new Map<Func, FuncParts>();
  for (const f of mine) byFunc.set(f, { funcInfo: [], lineInfo: [], core: [] });
  const owner = (slot: number): FuncParts | undefined => {
    let lo = 0;
    let hi = mine.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const f = mine[mid]!;
      if (slot < f.start) hi = mid - 1;
      else if (slot >= f.start + f.count) lo = mid + 1;
      else return byFunc.get(f);
    }
    return undefined;
  };
  for (const r of ext?.funcInfo.get(name) ?? []) owner(r.insnOff)?.funcInfo.push(r);
  for (const r of ext?.lineInfo.get(name) ?? []) owner(r.insnOff)?.lineInfo.push(r);
  for (const r of core.get(name) ?? []) owner(r.insnOffset / 8)?.core.push(r);
  const relocs = new Map<number, ElfRelocation>();
  for (const r of elf.relocations.get(section) ?? []) relocs.set(r.offset, r);
  return { relocs, byFunc };
}

function inOrder(records: readonly { insnOff: number }[]): boolean {
  for (let i = 1; i < records.length; i++) if (records[i - 1]!.insnOff > records[i]!.insnOff) return false;
  return true;
}

function linkProgram(
  elf: ElfFile,
  main: Func,
  def: SectionDef,
  funcAt: (section: number, slot: number, from: string) => Func,
  mapBySymbol: ReadonlyMap<string, string>,
  parts: (section: number) => SectionParts,
  fail: (why: string) => never,
  externs: { externByName: ReadonlyMap<string, ObjectExtern>; kconfigMap: string },
): ObjectProgram {
  const chunks: Uint8Array[] = [];
  const placed = new Map<Func, number>();
  const references: MapReference[] = [];
  const funcInfo: FuncInfo[] = [];
  const lineInfo: LineInfo[] = [];
  const subprograms: string[] = [];
  const externReferences: ExternReference[] = [];
  const coreRelocations: CoreRelocation[] = [];
  let total = 0;
  const append = (fn: Func): number => {
    const start = total;
    placed.set(fn, start);
    if (fn !== main) subprograms.push(fn.name);
    const sec = elf.sections[fn.section] as ElfSection;
    const code = new Uint8Array(sec.data.subarray(fn.start * 8, (fn.start + fn.count) * 8));
    chunks.push(code);
    total += fn.count;
    const { relocs, byFunc } = parts(fn.section);
    const mine = byFunc.get(fn);
    if (mine) {
      const shift = start - fn.start;
      // records of a function placed where it is in its section (a program's own code, mostly)
      // are kept as they are (plain data, never changed); moved ones are copied with the shift
      if (shift === 0) {
        for (const r of mine.funcInfo) funcInfo.push(r);
        for (const r of mine.lineInfo) lineInfo.push(r);
        for (const r of mine.core) coreRelocations.push(r);
      } else {
        for (const r of mine.funcInfo) funcInfo.push({ ...r, insnOff: r.insnOff + shift });
        for (const r of mine.lineInfo) lineInfo.push({ ...r, insnOff: r.insnOff + shift });
        for (const r of mine.core) coreRelocations.push({ ...r, insnOffset: r.insnOffset + shift * 8 });
      }
    }
    const v = new DataView(code.buffer);
    const placeAt = (target: Func, slot: number, i: number) => {
      const at = placed.get(target) ?? append(target);
      return at + (slot - target.start) - (start + i + 1);
    };
    for (let i = 0; i < fn.count; i++) {
      const op = code[i * 8] as number;
      // only calls and ld_imm64s are linked (a relocation on anything else has nothing to patch)
      if (op !== 0x85 && op !== 0x18) continue;
      const src = (code[i * 8 + 1] as number) >> 4;
      const imm = v.getInt32(i * 8 + 4, true);
      const reloc = relocs.get((fn.start + i) * 8);
      if (reloc === undefined && !(op === 0x85 && src === BPF_PSEUDO_CALL)) {
        if (op === 0x18) i++;
        continue;
      }
      const what = `instruction ${fn.start + i} of ${sec.name} (in ${fn.name})`;
      const extern = reloc && (elf.symbols[reloc.symbol] as ElfSymbol).section === 0 ? reloc : undefined;
      if (extern && (op === 0x85 || op === 0x18)) {
        const sym = elf.symbols[extern.symbol] as ElfSymbol;
        const e = externs.externByName.get(sym.name);
        if (!e) fail(`${what} uses '${sym.name}', an undefined symbol that is no .kconfig or .ksyms extern`);
        if (op === 0x18 && i + 1 >= fn.count)
          fail(`${what} is an ld_imm64 cut off by the end of its function`);
        const k = (e as ObjectExtern).kconfig;
        if (op === 0x85 && !(e as ObjectExtern).func)
          fail(`${what} calls '${sym.name}', which is declared as a variable, not a function`);
        if (k) {
          code[i * 8 + 1] = ((code[i * 8 + 1] as number) & 0x0f) | (BPF_PSEUDO_MAP_VALUE << 4);
          v.setInt32(i * 8 + 4, 0, true);
          references.push({ insn: start + i, map: externs.kconfigMap, offset: k.offset });
        } else externReferences.push({ insn: start + i, extern: sym.name, call: op === 0x85 });
      } else if (op === 0x85 && src === BPF_PSEUDO_CALL) {
        let tsec = fn.section;
        let tslot = fn.start + i + imm + 1;
        if (reloc) {
          const sym = elf.symbols[reloc.symbol] as ElfSymbol;
          tsec = sym.section;
          tslot = sym.value / 8 + imm + 1;
        }
        v.setInt32(i * 8 + 4, placeAt(funcAt(tsec, tslot, what), tslot, i), true);
      } else if (op === 0x18 && reloc) {
        if (i + 1 >= fn.count) fail(`${what} is an ld_imm64 cut off by the end of its function`);
        const sym = elf.symbols[reloc.symbol] as ElfSymbol;
        const target = elf.sections[sym.section];
        if (target === undefined) fail(`${what} refers to a symbol in no section`);
        const tsec = target as ElfSection;
        if ((tsec.flags & SHF_EXECINSTR) !== 0) {
          if ((sym.value + imm) % 8 !== 0) fail(`${what} takes the address of code not on an instruction`);
          const tslot = (sym.value + imm) / 8;
          code[i * 8 + 1] = ((code[i * 8 + 1] as number) & 0x0f) | (BPF_PSEUDO_FUNC << 4);
          v.setInt32(i * 8 + 4, placeAt(funcAt(sym.section, tslot, what), tslot, i), true);
        } else {
          const fdMap = mapBySymbol.get(`${sym.section}:${sym.value}`);
          const dataMap = mapBySymbol.get(`${sym.section}`);
          if (fdMap !== undefined && sym.type !== STT_SECTION) {
            code[i * 8 + 1] = ((code[i * 8 + 1] as number) & 0x0f) | (BPF_PSEUDO_MAP_FD << 4);
            v.setInt32(i * 8 + 4, 0, true);
            references.push({ insn: start + i, map: fdMap, offset: undefined });
          } else if (dataMap !== undefined) {
            code[i * 8 + 1] = ((code[i * 8 + 1] as number) & 0x0f) | (BPF_PSEUDO_MAP_VALUE << 4);
            references.push({ insn: start + i, map: dataMap, offset: sym.value + imm });
            v.setInt32(i * 8 + 4, 0, true);
          } else {
            fail(
              `${what} refers to '${sym.name || tsec.name}' in section ${tsec.name}, which holds no map or global data`,
            );
          }
        }
      }
      if (op === 0x18) i++;
    }
    return start;
  };
  append(main);
  const insns = new Uint8Array(total * 8);
  let at = 0;
  for (const c of chunks) {
    insns.set(c, at);
    at += c.length;
  }
  // (a stable sort: records already in order, as a program without subprograms has them, stay as they are)
  if (!inOrder(funcInfo)) funcInfo.sort((a, b) => a.insnOff - b.insnOff);
  if (!inOrder(lineInfo)) lineInfo.sort((a, b) => a.insnOff - b.insnOff);
  const sec = elf.sections[main.section] as ElfSection;
  return {
    name: main.name,
    section: sec.name,
    def,
    insns,
    references,
    funcInfo,
    lineInfo,
    subprograms,
    externReferences,
    coreRelocations,
  };
}
