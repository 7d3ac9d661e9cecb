/**
 * func_info / line_info for programs with several functions (or with source lines): the BTF
 * layer emits the types and records, this file takes them from whatever the instructions came in.
 */
import { type ProgramFunction, programBtf, type SourceLine } from "../btf/ext.js";
import { loadBtf } from "../btf/load.js";
import type { Fd } from "../sys/fd.js";

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
