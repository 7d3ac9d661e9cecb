/**
 * func_info and line_info: the records that tie a program's instructions to BTF functions and
 * source lines (`struct bpf_func_info`, `struct bpf_line_info` in include/uapi/linux/bpf.h).
 *
 * The kernel's rules (check_btf_func, check_btf_line in kernel/bpf/verifier.c): one func_info per
 * subprogram, in order, the first at instruction 0, each `insn_off` the start of a subprogram and
 * each `type_id` a FUNC; line_info `insn_off`s strictly increasing, one at the start of every
 * subprogram, and the string offsets inside the BTF's string table. Offsets count 8-byte slots.
 */
import { BtfBuilder } from "./builder.js";
import { BtfError } from "./errors.js";

/** Size of `struct bpf_func_info`. */
export const FUNC_INFO_SIZE = 8;
/** Size of `struct bpf_line_info`. */
export const LINE_INFO_SIZE = 16;

/** One `bpf_func_info`. */
export interface FuncInfo {
  /** instruction (slot) index where the function starts */
  readonly insnOff: number;
  /** id of its BTF FUNC */
  readonly typeId: number;
}

/** One `bpf_line_info`. */
export interface LineInfo {
  readonly insnOff: number;
  /** string offset of the file name */
  readonly fileNameOff: number;
  /** string offset of the source line's text */
  readonly lineOff: number;
  readonly line: number;
  readonly column: number;
}

/** Encodes func_info records (8 bytes each). */
export function encodeFuncInfo(records: readonly FuncInfo[]): Uint8Array {
  // words in host order: BTF is read and written on little-endian hosts only (as the decoder's type words)
  const w = new Uint32Array(records.length * 2);
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    w[2 * i] = r.insnOff;
    w[2 * i + 1] = r.typeId;
  }
  return new Uint8Array(w.buffer);
}

/** Decodes func_info records of `recordSize` bytes (8, or more from a newer kernel). */
export function decodeFuncInfo(bytes: Uint8Array, recordSize = FUNC_INFO_SIZE): FuncInfo[] {
  if (recordSize < FUNC_INFO_SIZE || bytes.length % recordSize !== 0) {
    throw new BtfError(
      `func_info of ${bytes.length} bytes is not a whole number of ${recordSize}-byte records`,
    );
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const out: FuncInfo[] = [];
  for (let at = 0; at < bytes.length; at += recordSize) {
    out.push({ insnOff: v.getUint32(at, true), typeId: v.getUint32(at + 4, true) });
  }
  return out;
}

/** The largest line number line_col can hold (22 bits) and the largest column (10 bits). */
export const MAX_LINE = (1 << 22) - 1;
export const MAX_COLUMN = (1 << 10) - 1;

/** Encodes line_info records (16 bytes each); line_col is `line << 10 | column`. */
export function encodeLineInfo(records: readonly LineInfo[]): Uint8Array {
  // words in host order, as encodeFuncInfo
  const w = new Uint32Array(records.length * 4);
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    if (r.line < 0 || r.line > MAX_LINE || r.column < 0 || r.column > MAX_COLUMN) {
      throw new BtfError(`line ${r.line} column ${r.column} does not fit line_col (22 + 10 bits)`);
    }
    w[4 * i] = r.insnOff;
    w[4 * i + 1] = r.fileNameOff;
    w[4 * i + 2] = r.lineOff;
    w[4 * i + 3] = ((r.line << 10) | r.column) >>> 0;
  }
  return new Uint8Array(w.buffer);
}

/** Decodes line_info records of `recordSize` bytes. */
export function decodeLineInfo(bytes: Uint8Array, recordSize = LINE_INFO_SIZE): LineInfo[] {
  if (recordSize < LINE_INFO_SIZE || bytes.length % recordSize !== 0) {
    throw new BtfError(
      `line_info of ${bytes.length} bytes is not a whole number of ${recordSize}-byte records`,
    );
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const out: LineInfo[] = [];
  for (let at = 0; at < bytes.length; at += recordSize) {
    const lc = v.getUint32(at + 12, true);
    out.push({
      insnOff: v.getUint32(at, true),
      fileNameOff: v.getUint32(at + 4, true),
      lineOff: v.getUint32(at + 8, true),
      line: lc >>> 10,
      column: lc & 0x3ff,
    });
  }
  return out;
}

/** A function of a program, as the program builder lists them (main first, at 0). */
export interface ProgramFunction {
  readonly name: string;
  /** first instruction slot */
  readonly start: number;
  /** passed to a helper (bpf_loop, ...) rather than called */
  readonly callback?: boolean;
  /** number of scalar arguments (0..5); they are typed `long` */
  readonly args?: number;
}

/** A source line for one instruction. */
export interface SourceLine {
  readonly file: string;
  readonly line: number;
  readonly column?: number;
  readonly text: string;
}

/** What {@link programBtf} produces: the BTF blob and the records that point into it. */
export interface ProgramBtf {
  readonly btf: Uint8Array;
  readonly funcInfo: Uint8Array;
  readonly lineInfo: Uint8Array | undefined;
  /** FUNC type id per function, in the order given */
  readonly funcIds: readonly number[];
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Emits BTF for a program's functions and returns it with func_info (and line_info).
 *
 * Each function gets a FUNC_PROTO returning `int`; the main program takes `void *ctx` and is
 * `global`, subprograms and callbacks take `long` arguments and are `static` (so the verifier
 * checks them in their caller's context). When `lines` are given (instruction index → source
 * line), every function start gets a line, made from the function's name if none is given there.
 * Types already in `builder` (map values, say) are kept.
 */
export function programBtf(
  functions: readonly ProgramFunction[],
  options: { lines?: ReadonlyMap<number, SourceLine>; builder?: BtfBuilder } = {},
): ProgramBtf {
  if (functions.length === 0) throw new BtfError("a program has at least one function (its main program)");
  const b = options.builder ?? new BtfBuilder();
  let prev = -1;
  for (const [i, f] of functions.entries()) {
    if (!IDENTIFIER.test(f.name)) {
      throw new BtfError(
        `function name ${JSON.stringify(f.name)} is not a C identifier (the kernel requires one)`,
      );
    }
    if (i === 0 && f.start !== 0)
      throw new BtfError(`the main program ${f.name} must start at instruction 0`);
    if (!Number.isInteger(f.start) || f.start <= prev) {
      throw new BtfError(
        `function ${f.name} starts at ${f.start}, not after the previous function (${prev})`,
      );
    }
    const args = f.args ?? 0;
    if (!Number.isInteger(args) || args < 0 || args > 5) {
      throw new BtfError(`function ${f.name} has ${args} arguments; BPF functions take 0 to 5`);
    }
    prev = f.start;
  }
  const int = b.int("int", 4, { signed: true });
  const long = b.int("long", 8, { signed: true });
  const voidPtr = b.ptr(0);
  const mainProto = b.funcProto(int, [{ name: "ctx", type: voidPtr }]);
  const protos = new Map<number, number>();
  const funcIds: number[] = [];
  const records: FuncInfo[] = [];
  for (const [i, f] of functions.entries()) {
    let proto = mainProto;
    if (i > 0) {
      const n = f.args ?? 0;
      let p = protos.get(n);
      if (p === undefined) {
        p = b.funcProto(
          int,
          Array.from({ length: n }, (_, k) => ({ name: `arg${k + 1}`, type: long })),
        );
        protos.set(n, p);
      }
      proto = p;
    }
    const id = b.func(f.name, proto, i === 0 ? "global" : "static");
    funcIds.push(id);
    records.push({ insnOff: f.start, typeId: id });
  }
  let lineInfo: Uint8Array | undefined;
  if (options.lines) {
    const lines = new Map(options.lines);
    const firstFile = lines.size > 0 ? [...lines.values()][0]!.file : "";
    for (const f of functions) {
      if (!lines.has(f.start)) lines.set(f.start, { file: firstFile, line: 0, text: `${f.name}()` });
    }
    const recs: LineInfo[] = [...lines.entries()]
      .sort((x, y) => x[0] - y[0])
      .map(([insnOff, l]) => {
        if (!Number.isInteger(insnOff) || insnOff < 0) throw new BtfError(`line at instruction ${insnOff}?`);
        return {
          insnOff,
          fileNameOff: b.strings.add(l.file),
          lineOff: b.strings.add(l.text),
          line: l.line,
          column: l.column ?? 0,
        };
      });
    lineInfo = encodeLineInfo(recs);
  }
  return { btf: b.build(), funcInfo: encodeFuncInfo(records), lineInfo, funcIds };
}
