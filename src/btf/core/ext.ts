/**
 * Reading .BTF.ext: the header, then three info sections (func_info, line_info, core_relo), each a
 * record size followed by one block per ELF section: `{ sec_name_off, num_info, records[num_info] }`.
 * Every size is checked against the blob before it is used, so a blob that lies gives a typed
 * error naming the byte, never a read past the end or an allocation the blob does not warrant.
 */
import type { Btf } from "../decode.js";
import { BtfError } from "../errors.js";
import { CoreRelocationError } from "./errors.js";
import { CORE_KIND_MAX } from "./kinds.js";

/** One CO-RE relocation record (`struct bpf_core_relo`), with its access string read from the BTF. */
export interface CoreRelocation {
  /** byte offset of the instruction in its ELF section (a multiple of 8) */
  readonly insnOffset: number;
  /** the local type id (in the object's .BTF) */
  readonly typeId: number;
  /** the access string: "0:1:2" (field), "0" (type), "N" (enumerator index) */
  readonly accessString: string;
  /** `enum bpf_core_relo_kind` ({@link CoreKind}) */
  readonly kind: number;
}

/** The records of one info section for one ELF section. */
export interface BtfExtBlock {
  /** the ELF section name */
  readonly section: string;
  /** the size of one record as the blob says */
  readonly recordSize: number;
  /** number of records */
  readonly count: number;
  /** the records, `count * recordSize` bytes (a view into the blob) */
  readonly records: Uint8Array;
  /** byte offset of the records in the blob */
  readonly offset: number;
}

/** The parsed .BTF.ext header. */
export interface BtfExtHeader {
  readonly hdrLen: number;
  readonly funcInfoOff: number;
  readonly funcInfoLen: number;
  readonly lineInfoOff: number;
  readonly lineInfoLen: number;
  readonly coreReloOff: number;
  readonly coreReloLen: number;
}

const MIN_HEADER = 24;
const CORE_HEADER = 32;
/** smallest record each info section accepts: func_info, line_info, core_relo */
const MIN_RECORD = { func: 8, line: 16, core: 16 } as const;

/** Reads and checks the .BTF.ext header. */
export function readBtfExtHeader(ext: Uint8Array): BtfExtHeader {
  if (ext.length < MIN_HEADER) {
    throw new BtfError(`.BTF.ext of ${ext.length} bytes is shorter than its 24-byte header`);
  }
  const v = new DataView(ext.buffer, ext.byteOffset, ext.length);
  const magic = v.getUint16(0, true);
  if (magic !== 0xeb9f) {
    throw new BtfError(`.BTF.ext has magic 0x${magic.toString(16)}, expected 0xeb9f`, { offset: 0 });
  }
  if (ext[2] !== 1) throw new BtfError(`.BTF.ext version ${ext[2]} is not supported (only 1 exists)`);
  const hdrLen = v.getUint32(4, true);
  if (hdrLen < MIN_HEADER || hdrLen > ext.length) {
    throw new BtfError(`.BTF.ext header length ${hdrLen} is not between 24 and the blob size ${ext.length}`, {
      offset: 4,
    });
  }
  const core = hdrLen >= CORE_HEADER;
  return {
    hdrLen,
    funcInfoOff: v.getUint32(8, true),
    funcInfoLen: v.getUint32(12, true),
    lineInfoOff: v.getUint32(16, true),
    lineInfoLen: v.getUint32(20, true),
    coreReloOff: core ? v.getUint32(24, true) : 0,
    coreReloLen: core ? v.getUint32(28, true) : 0,
  };
}

/**
 * The blocks of one info section of a .BTF.ext (`"func"`, `"line"` or `"core"`), in file order.
 * Section names are read from `btf`'s string table.
 * @throws BtfError when a size, count or name offset does not fit the blob
 */
export function btfExtBlocks(ext: Uint8Array, btf: Btf, which: "func" | "line" | "core"): BtfExtBlock[] {
  const h = readBtfExtHeader(ext);
  const [off, len] =
    which === "func"
      ? [h.funcInfoOff, h.funcInfoLen]
      : which === "line"
        ? [h.lineInfoOff, h.lineInfoLen]
        : [h.coreReloOff, h.coreReloLen];
  const label = `${which === "core" ? "core_relo" : `${which}_info`}`;
  if (len === 0) return [];
  const start = h.hdrLen + off;
  if (off > ext.length - h.hdrLen || len > ext.length - start) {
    throw new BtfError(
      `.BTF.ext ${label} (offset ${off}, ${len} bytes) runs past the blob's end (${ext.length} bytes)`,
      {
        offset: 4,
      },
    );
  }
  if (len < 4)
    throw new BtfError(`.BTF.ext ${label} of ${len} bytes has no room for its record size`, {
      offset: start,
    });
  const v = new DataView(ext.buffer, ext.byteOffset, ext.length);
  const recordSize = v.getUint32(start, true);
  if (recordSize < MIN_RECORD[which] || recordSize % 4 !== 0) {
    throw new BtfError(
      `.BTF.ext ${label} record size ${recordSize} is not a multiple of 4 of at least ${MIN_RECORD[which]}`,
      { offset: start },
    );
  }
  const end = start + len;
  const out: BtfExtBlock[] = [];
  let at = start + 4;
  while (at < end) {
    if (end - at < 8) {
      throw new BtfError(`.BTF.ext ${label} ends in the middle of a section header`, { offset: at });
    }
    const nameOff = v.getUint32(at, true);
    const count = v.getUint32(at + 4, true);
    let section: string;
    try {
      section = btf.string(nameOff);
    } catch {
      throw new BtfError(
        `.BTF.ext ${label} names its section with string offset ${nameOff}, past the BTF's strings`,
        {
          offset: at,
        },
      );
    }
    if (count === 0) {
      throw new BtfError(`.BTF.ext ${label} block of section ${section} has no records`, { offset: at + 4 });
    }
    const bytes = count * recordSize;
    if (bytes > end - at - 8) {
      throw new BtfError(
        `.BTF.ext ${label} says section ${section} has ${count} records of ${recordSize} bytes, more than the ${end - at - 8} bytes left`,
        { offset: at + 4 },
      );
    }
    out.push({ section, recordSize, count, records: ext.subarray(at + 8, at + 8 + bytes), offset: at + 8 });
    at += 8 + bytes;
  }
  return out;
}

/**
 * The CO-RE relocations of a .BTF.ext, by ELF section name, with their access strings read from
 * the object's BTF. Each record is checked: instruction offsets a multiple of 8, type ids that
 * exist, a known kind, a readable access string. An object without relocations gives an empty map.
 * @throws BtfError / CoreRelocationError naming the section, the record and the byte
 */
export function parseCoreRelocations(btfExt: Uint8Array, btf: Btf): Map<string, CoreRelocation[]> {
  const out = new Map<string, CoreRelocation[]>();
  for (const block of btfExtBlocks(btfExt, btf, "core")) {
    const v = new DataView(block.records.buffer, block.records.byteOffset, block.records.length);
    let list = out.get(block.section);
    if (!list) out.set(block.section, (list = []));
    for (let i = 0; i < block.count; i++) {
      const r = i * block.recordSize;
      const where = { section: block.section, relocation: list.length, offset: block.offset + r };
      const insnOffset = v.getUint32(r, true);
      const typeId = v.getUint32(r + 4, true);
      const strOff = v.getUint32(r + 8, true);
      const kind = v.getUint32(r + 12, true);
      if (insnOffset % 8 !== 0) {
        throw new CoreRelocationError(`instruction offset ${insnOffset} is not a multiple of 8`, where);
      }
      if (kind > CORE_KIND_MAX) {
        throw new CoreRelocationError(`unknown relocation kind ${kind} (known: 0..${CORE_KIND_MAX})`, where);
      }
      if (typeId === 0 || typeId >= btf.endId) {
        throw new CoreRelocationError(
          `type id ${typeId} does not exist in the object's BTF (ids go from 1 to ${btf.endId - 1})`,
          where,
        );
      }
      let accessString: string;
      try {
        accessString = btf.string(strOff);
      } catch {
        throw new CoreRelocationError(`access string offset ${strOff} is past the BTF's strings`, where);
      }
      list.push({ insnOffset, typeId, accessString, kind });
    }
  }
  return out;
}

/** Size of `struct bpf_core_relo`, the record BPF_PROG_LOAD's `core_relos` takes. */
export const CORE_RELO_SIZE = 16;

/**
 * Encodes relocations as BPF_PROG_LOAD's `core_relos` records (16 bytes each) for the kernel to
 * apply: instruction offsets relative to the program start (add `insnBase` bytes, where the section
 * starts in the program), access strings as offsets into `btf` (the BTF loaded with the program).
 * @throws CoreRelocationError when an access string is not in `btf`'s string table
 */
export function encodeCoreRelocations(
  relocations: readonly CoreRelocation[],
  btf: Btf,
  insnBase = 0,
): Uint8Array {
  const out = new Uint8Array(relocations.length * CORE_RELO_SIZE);
  const v = new DataView(out.buffer);
  relocations.forEach((r, i) => {
    const off = btf.stringOffset(r.accessString);
    if (off === undefined) {
      throw new CoreRelocationError(
        `access string ${JSON.stringify(r.accessString)} is not in the BTF's strings`,
        {
          relocation: i,
        },
      );
    }
    v.setUint32(i * 16, r.insnOffset + insnBase, true);
    v.setUint32(i * 16 + 4, r.typeId, true);
    v.setUint32(i * 16 + 8, off, true);
    v.setUint32(i * 16 + 12, r.kind, true);
  });
  return out;
}
