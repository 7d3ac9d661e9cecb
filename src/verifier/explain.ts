/**
 * Explanations: the closing error of a parsed log matched against the catalog, with the failing
 * instruction, its source line (when line_info annotations exist) and the registers involved.
 */
import { CATALOG, type CatalogEntry } from "./catalog.js";
import { parseVerifierLog, type VerifierLog } from "./parse.js";
import { LineKind } from "./records.js";
import { describeSlot, type SlotState } from "./state.js";

/** A register (or stack slot) the failure involves, with the state the verifier had. */
export interface RegisterNote {
  /** `R1`, `fp-8` */
  readonly name: string;
  /** the state as parsed from the log, when it printed one */
  readonly state?: SlotState;
  /** a short phrase: `a number in [0, 255]`, `not initialized (clobbered by the call at 4)` */
  readonly description: string;
}

/** What went wrong, in words, with where and the state there. */
export interface Explanation {
  /** the catalog id, or undefined for a message the catalog does not know */
  readonly id: string | undefined;
  /** the kernel's message line */
  readonly message: string;
  /** all lines of the kernel's error block */
  readonly detail: readonly string[];
  /** one line: what happened */
  readonly summary: string;
  /** the rule, in plain words */
  readonly rule: string;
  /** why the kernel enforces it */
  readonly why: string;
  /** how to fix it with rawbpf */
  readonly fix: string;
  /** the instruction the verifier failed at (or the message names), if known */
  readonly insn: number | undefined;
  /** that instruction's text as the verifier printed it */
  readonly insnText: string | undefined;
  /** the log line number of that instruction, or -1 */
  readonly line: number;
  /** the source line in effect there (from line_info), if the log shows one */
  readonly source: { readonly code: string; readonly file?: string; readonly line?: number } | undefined;
  /** the registers involved, with their states */
  readonly registers: readonly RegisterNote[];
  /** other catalog entries matched by later lines of the error block */
  readonly related: readonly { readonly id: string; readonly message: string; readonly summary: string }[];
  /** the program's shape is wrong (found before any instruction was simulated) */
  readonly structural: boolean;
}

function match(
  line: string,
  asm: string | undefined,
): { entry: CatalogEntry; m: RegExpExecArray } | undefined {
  const text = line.trim();
  for (const entry of CATALOG) {
    const m = entry.pattern.exec(text);
    if (m && (!entry.when || entry.when(asm))) return { entry, m };
  }
  return undefined;
}

const REG_IN_ASM = /\br(\d+)\b/g;

/** Explain a log's closing error; undefined when the log has none. */
export function explain(input: VerifierLog | string): Explanation | undefined {
  const log = typeof input === "string" ? parseVerifierLog(input) : input;
  const error = log.error;
  if (!error) return undefined;
  let primary: { entry: CatalogEntry; m: RegExpExecArray; line: string } | undefined;
  const related: { id: string; message: string; summary: string }[] = [];
  const lastLine = log.failingLine;
  const lastRec = lastLine >= 0 ? log.record(lastLine) : undefined;
  const lastAsm = lastRec?.kind === "insn" ? lastRec.asm : undefined;
  for (const line of error.lines) {
    const found = match(line, lastAsm);
    if (!found) continue;
    if (!primary) primary = { ...found, line };
    else if (found.entry.id !== primary.entry.id)
      related.push({ id: found.entry.id, message: line, summary: found.entry.summary(found.m) });
  }
  const message = primary?.line ?? error.message;
  const entry = primary?.entry;

  // where: the instruction the message names, else the last one the verifier was at
  let line = -1;
  let insn: number | undefined;
  const named = primary && entry?.insn ? entry.insn(primary.m) : undefined;
  if (named !== undefined && Number.isFinite(named)) {
    insn = named;
    for (let i = 0; i < log.lineCount; i++) {
      const k = log.kind(i);
      if ((k === LineKind.insn || k === LineKind.live) && log.insnIndex(i) === named) {
        line = i;
        if (k === LineKind.insn) break;
      }
    }
  } else {
    line = log.failingLine;
    // a structural check names no instruction; it still has one when the verifier printed the
    // instruction it was at right before the error (e.g. "missing btf func_info" at a ld_imm64)
    if (entry?.structural && !(line >= 0 && error.line === line + 1)) line = -1;
    if (line >= 0) insn = log.insnIndex(line);
  }
  let insnText: string | undefined;
  if (line >= 0) {
    const r = log.record(line);
    if (r.kind === "insn" || r.kind === "live") insnText = r.asm;
  }
  const src = line >= 0 && log.kind(line) === LineKind.insn ? log.sourceAt(line) : undefined;

  // which registers: those the message names and those the instruction uses
  const names = new Set<string>();
  if (primary && entry?.registers) for (const r of entry.registers(primary.m)) names.add(`R${r}`);
  if (insnText && names.size === 0) for (const m of insnText.matchAll(REG_IN_ASM)) names.add(`R${m[1]}`);
  const registers: RegisterNote[] = [];
  if (line >= 0 && log.kind(line) === LineKind.insn) {
    const state = log.stateAt(line);
    for (const name of names) {
      const s = state.slots.get(name);
      const clobbered = state.clobbered.get(name);
      if (s) registers.push({ name, state: s, description: describeSlot(s) });
      else if (clobbered !== undefined)
        registers.push({ name, description: `not initialized (clobbered by the call at ${clobbered})` });
      else registers.push({ name, description: "not initialized on this path" });
    }
  }
  return {
    id: entry?.id,
    message,
    detail: error.lines,
    summary: entry && primary ? entry.summary(primary.m) : message,
    rule: entry?.rule ?? "The catalog has no entry for this message; the kernel's words above are the rule.",
    why: entry?.why ?? "",
    fix:
      entry?.fix ??
      "Look at the failing instruction and the register states before it; load with logLevel 2 to see every state.",
    insn,
    insnText,
    line,
    source: src
      ? {
          code: src.code,
          ...(src.file ? { file: src.file } : {}),
          ...(src.lineNumber ? { line: src.lineNumber } : {}),
        }
      : undefined,
    registers,
    related,
    structural: entry?.structural ?? false,
  };
}
