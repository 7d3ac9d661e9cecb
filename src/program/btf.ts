/**
 * func_info / line_info for programs with several functions (or with source lines): the BTF
 * layer emits the types and records, this file takes them from whatever the instructions came in.
 */
import {
  FUNC_INFO_SIZE,
  LINE_INFO_SIZE,
  type ProgramFunction,
  programBtf,
  type SourceLine,
} from "../btf/ext.js";
import { loadBtf } from "../btf/load.js";
import { InputError } from "../sys/error.js";
import type { Fd } from "../sys/fd.js";
import { mapFdOf } from "./instructions.js";

/** What a program load needs from BTF. */
export interface EmittedBtf {
  fd: Fd;
  funcInfo: Uint8Array;
  lineInfo: Uint8Array | undefined;
}

interface FunctionLike {
  name?: unknown;
  startSlot?: unknown;
  slot?: unknown;
  callback?: unknown;
  kind?: unknown;
}

interface LineLike {
  slot?: unknown;
  file?: unknown;
  line?: unknown;
  column?: unknown;
  text?: unknown;
}

/** The functions of a built (`startSlot`) or assembled (`slot`) program, when it lists them. */
function functionsOf(input: unknown): ProgramFunction[] {
  const list = (input as { functions?: unknown } | null)?.functions;
  if (!Array.isArray(list)) return [];
  const out: ProgramFunction[] = [];
  for (const f of list as FunctionLike[]) {
    const start = typeof f.startSlot === "number" ? f.startSlot : f.slot;
    if (typeof f.name !== "string" || typeof start !== "number") return [];
    out.push({ name: f.name, start, callback: f.callback === true || f.kind === "callback" });
  }
  return out;
}

/** The source lines of an assembled program, keyed by slot. */
function linesOf(input: unknown): Map<number, SourceLine> | undefined {
  const list = (input as { lineInfo?: unknown } | null)?.lineInfo;
  if (!Array.isArray(list) || list.length === 0) return undefined;
  const lines = new Map<number, SourceLine>();
  for (const l of list as LineLike[]) {
    if (typeof l.slot !== "number" || typeof l.line !== "number") return undefined;
    lines.set(l.slot, {
      file: typeof l.file === "string" ? l.file : "",
      line: l.line,
      text: typeof l.text === "string" ? l.text : "",
      ...(typeof l.column === "number" ? { column: l.column } : {}),
    });
  }
  return lines;
}

/**
 * Emits and loads BTF for the program when it has more than one function or carries source
 * lines; undefined when it needs none. The caller closes `fd` after the program load.
 */
export function emitProgramBtf(input: unknown): EmittedBtf | undefined {
  const functions = functionsOf(input);
  const lines = linesOf(input);
  if (functions.length <= 1 && lines === undefined) return undefined;
  const fns = functions.length > 0 ? functions : [{ name: "main", start: 0 }];
  const emitted = programBtf(fns, lines ? { lines } : {});
  const loaded = loadBtf(emitted.btf);
  return { fd: loaded.fd, funcInfo: emitted.funcInfo, lineInfo: emitted.lineInfo };
}

/** The BTF a program load uses: what `ProgramSpec.btf` may be. */
export type ProgramBtfOption = number | Fd | { readonly fd: number | Fd } | Uint8Array | false;

/** The BTF part of a program load, resolved: a descriptor and the records, or nothing. */
export interface LoadBtf {
  /** the BTF descriptor number, when the load carries BTF */
  fd: number | undefined;
  funcInfo: Uint8Array | undefined;
  lineInfo: Uint8Array | undefined;
  /** whether rawbpf emitted the BTF from the program's functions and lines */
  emitted: boolean;
  /** closes what was loaded for this load only (call after the program load) */
  release(): void;
}

const NOTHING_TO_RELEASE = () => {};

/**
 * Resolves a load's BTF choice:
 * - `btf` undefined: emitted from the program's functions and source lines when it needs it
 *   (several functions, a callback, or source lines), unless `emit` is false or records were given;
 * - `false`: no BTF at all, even when the program needs it (to see what the kernel says);
 * - a descriptor: that BTF, with the given `funcInfo` / `lineInfo`;
 * - a blob (Uint8Array): loaded for this load and closed after it, with the given records.
 * @throws InputError for records without the BTF they point into
 */
export function resolveLoadBtf(
  instructions: unknown,
  btf: unknown,
  options: {
    funcInfo?: Uint8Array | undefined;
    lineInfo?: Uint8Array | undefined;
    emit?: boolean | undefined;
  },
): LoadBtf {
  const { funcInfo, lineInfo } = options;
  for (const [name, v] of [
    ["funcInfo", funcInfo],
    ["lineInfo", lineInfo],
  ] as const) {
    if (v !== undefined && !(v instanceof Uint8Array))
      throw new InputError(`${name} must be a Uint8Array of records, got ${typeof v}`);
  }
  if (funcInfo !== undefined && funcInfo.byteLength % FUNC_INFO_SIZE !== 0)
    throw new InputError(
      `funcInfo must be whole ${FUNC_INFO_SIZE}-byte bpf_func_info records, got ${funcInfo.byteLength} bytes`,
    );
  if (lineInfo !== undefined && lineInfo.byteLength % LINE_INFO_SIZE !== 0)
    throw new InputError(
      `lineInfo must be whole ${LINE_INFO_SIZE}-byte bpf_line_info records, got ${lineInfo.byteLength} bytes`,
    );
  const records = funcInfo !== undefined || lineInfo !== undefined;
  if (btf === false || (btf === undefined && records)) {
    if (records)
      throw new InputError(
        btf === false
          ? "funcInfo/lineInfo were given with btf: false: the records point into a BTF, so pass it as 'btf' (a descriptor or a blob), or drop the records"
          : "funcInfo/lineInfo were given without the BTF they point into: pass it as 'btf' (a descriptor or a blob)",
      );
    return {
      fd: undefined,
      funcInfo: undefined,
      lineInfo: undefined,
      emitted: false,
      release: NOTHING_TO_RELEASE,
    };
  }
  if (btf === undefined) {
    const e = options.emit === false ? undefined : emitProgramBtf(instructions);
    if (!e)
      return {
        fd: undefined,
        funcInfo: undefined,
        lineInfo: undefined,
        emitted: false,
        release: NOTHING_TO_RELEASE,
      };
    return {
      fd: e.fd.value,
      funcInfo: e.funcInfo,
      lineInfo: e.lineInfo,
      emitted: true,
      release: () => e.fd.close(),
    };
  }
  if (btf instanceof Uint8Array) {
    const loaded = loadBtf(btf);
    return { fd: loaded.fd.value, funcInfo, lineInfo, emitted: false, release: () => loaded.fd.close() };
  }
  const fd = mapFdOf(btf);
  if (fd === undefined)
    throw new InputError(
      `btf must be a BTF descriptor (a number, an Fd, an object with 'fd'), a BTF blob (Uint8Array) or false, got ${String(btf)}`,
    );
  return { fd, funcInfo, lineInfo, emitted: false, release: NOTHING_TO_RELEASE };
}
