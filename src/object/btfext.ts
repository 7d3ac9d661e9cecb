/**
 * `.BTF.ext` of a clang object: per-section func_info and line_info (instruction offsets in
 * bytes, as the compiler writes them) and where the CO-RE relocation records are. Every size is
 * checked against the section's bytes, so a lying header is an {@link ObjectFormatError}.
 */
import type { FuncInfo, LineInfo } from "../btf/ext.js";
import { ObjectFormatError } from "./errors.js";

/** The records of `.BTF.ext`, by the name of the code section they describe. */
export interface BtfExt {
  readonly funcInfo: ReadonlyMap<string, readonly FuncInfo[]>;
  readonly lineInfo: ReadonlyMap<string, readonly LineInfo[]>;
  /** the CO-RE relocation records' bytes (record size first), empty when there are none */
  readonly coreRelos: Uint8Array;
}

/**
 * Parses `.BTF.ext`; `name(offset)` reads a section name from the object's BTF strings.
 * Instruction offsets are turned from bytes into instruction slots.
 */
export function parseBtfExt(bytes: Uint8Array, name: (offset: number) => string, file: string): BtfExt {
  const fail = (why: string, at?: number): never => {
    throw new ObjectFormatError(
      file,
      `its .BTF.ext ${why}${at === undefined ? "" : ` (at byte ${at} of .BTF.ext)`}`,
      {
        section: ".BTF.ext",
        ...(at === undefined ? {} : { offset: at }),
      },
    );
  };
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 24) fail(`is ${bytes.length} bytes, shorter than its 24-byte header`);
  if (v.getUint16(0, true) !== 0xeb9f) fail(`does not start with the BTF magic 0xeb9f`, 0);
  if (v.getUint8(2) !== 1) fail(`has version ${v.getUint8(2)}, not 1`, 2);
  const hdrLen = v.getUint32(4, true);
  if (hdrLen < 24 || hdrLen > bytes.length) fail(`header length ${hdrLen} is outside the section`, 4);
  const part = (offAt: number) => {
    if (offAt + 8 > hdrLen) return new Uint8Array(0);
    const off = v.getUint32(offAt, true);
    const len = v.getUint32(offAt + 4, true);
    if (hdrLen + off + len > bytes.length)
      fail(
        `says a part of ${len} bytes starts at ${hdrLen + off}, past its end (${bytes.length} bytes)`,
        offAt,
      );
    return bytes.subarray(hdrLen + off, hdrLen + off + len);
  };
  const blocks = <T>(b: Uint8Array, min: number, what: string, record: (d: DataView, at: number) => T) => {
    const out = new Map<string, T[]>();
    if (b.length === 0) return out;
    const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
    if (b.length < 4) fail(`${what} is too short for its record size`);
    const size = d.getUint32(0, true);
    if (size < min || size % 4 !== 0) fail(`${what} records are ${size} bytes, not at least ${min}`);
    let at = 4;
    while (at < b.length) {
      if (at + 8 > b.length) fail(`${what} ends inside a section header`);
      const sec = name(d.getUint32(at, true));
      const n = d.getUint32(at + 4, true);
      at += 8;
      if (n * size > b.length - at) fail(`${what} for '${sec}' says ${n} records, more than its bytes hold`);
      const list = out.get(sec) ?? [];
      for (let i = 0; i < n; i++, at += size) list.push(record(d, at));
      out.set(sec, list);
    }
    return out;
  };
  const funcInfo = blocks(part(8), 8, "func_info", (d, at) => ({
    insnOff: d.getUint32(at, true) / 8,
    typeId: d.getUint32(at + 4, true),
  }));
  const lineInfo = blocks(part(16), 16, "line_info", (d, at) => {
    const lc = d.getUint32(at + 12, true);
    return {
      insnOff: d.getUint32(at, true) / 8,
      fileNameOff: d.getUint32(at + 4, true),
      lineOff: d.getUint32(at + 8, true),
      line: lc >>> 10,
      column: lc & 0x3ff,
    };
  });
  return { funcInfo, lineInfo, coreRelos: part(24) };
}
