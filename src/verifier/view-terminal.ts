/**
 * The terminal view: the program listing with the failing instruction marked, the explanation
 * beneath, and the registers involved. ANSI colours only when asked for (a TTY) and never under
 * NO_COLOR.
 */
import type { Explanation } from "./explain.js";
import { type ListingRow, type ProgramText, programListing } from "./listing.js";
import type { VerifierLog } from "./parse.js";

/** Options of {@link renderTerminal}. */
export interface TerminalOptions {
  /** use ANSI colours (pass `isTTY`; NO_COLOR in `env` always turns them off) */
  color?: boolean;
  /** the environment to read NO_COLOR from (default `process.env` when available) */
  env?: Readonly<Record<string, string | undefined>>;
  /** the program, to list instructions the log does not show */
  insns?: ProgramText;
  /** instructions shown on each side of the failing one (default 6; the whole program when short) */
  context?: number;
}

/** Whether colours should be used: only for a terminal, never when NO_COLOR is set. */
export function useColor(isTTY: boolean, env?: Readonly<Record<string, string | undefined>>): boolean {
  const e = env ?? (typeof process !== "undefined" ? process.env : {});
  const noColor = e["NO_COLOR"];
  return isTTY && (noColor === undefined || noColor === "");
}

const codes = { red: "31", yellow: "33", green: "32", dim: "2", bold: "1", cyan: "36" } as const;
type Paint = (style: keyof typeof codes, s: string) => string;

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

/** Render a log's failure for a terminal. */
export function renderTerminal(
  log: VerifierLog,
  ex: Explanation | undefined,
  opts: TerminalOptions = {},
): string {
  const color = useColor(opts.color ?? false, opts.env);
  const paint: Paint = color ? (style, s) => `\x1b[${codes[style]}m${s}\x1b[0m` : (_style, s) => s;
  const out: string[] = [];
  if (!ex) {
    out.push(paint("green", "the log has no error"));
    if (log.stats)
      out.push(`processed ${log.stats.processedInsns} instructions, ${log.stats.totalStates} states`);
    return `${out.join("\n")}\n`;
  }
  const where = ex.insn !== undefined ? ` (instruction ${ex.insn})` : "";
  out.push(`${paint("red", paint("bold", "error:"))} ${ex.message}${where}`);
  out.push(`  ${paint("bold", ex.summary)}`);
  for (const line of ex.detail) if (line !== ex.message) out.push(paint("dim", `  ${line}`));
  const rows = programListing(log, opts.insns);
  if (rows.length > 0) {
    out.push("");
    const ctx = opts.context ?? 6;
    const at = ex.insn === undefined ? -1 : rows.findIndex((r) => r.index === ex.insn);
    let from = 0;
    let to = rows.length;
    if (rows.length > 2 * ctx + 5 && at >= 0) {
      from = Math.max(0, at - ctx);
      to = Math.min(rows.length, at + ctx + 1);
    }
    const width = String(rows[rows.length - 1]!.index).length;
    if (from > 0) out.push(paint("dim", `    ... ${from} instruction(s) before`));
    for (let i = from; i < to; i++) out.push(formatRow(rows[i]!, i === at, width, paint));
    if (to < rows.length) out.push(paint("dim", `    ... ${rows.length - to} instruction(s) after`));
  }
  if (ex.source) {
    const file = ex.source.file ? ` @ ${ex.source.file}${ex.source.line ? `:${ex.source.line}` : ""}` : "";
    out.push(`  source: ${paint("cyan", ex.source.code)}${file}`);
  }
  if (ex.registers.length > 0) {
    out.push("");
    out.push(paint("bold", ex.insn !== undefined ? `registers at instruction ${ex.insn}:` : "registers:"));
    for (const r of ex.registers) {
      const v = r.state ? `${r.state.precise ? "P" : ""}${r.state.value}` : "-";
      out.push(`  ${r.name.padEnd(5)} ${v}  ${paint("dim", r.description)}`);
    }
  }
  out.push("");
  out.push(`${paint("yellow", "rule:")} ${ex.rule}`);
  if (ex.why) out.push(`${paint("yellow", "why:")}  ${ex.why}`);
  out.push(`${paint("green", "fix:")}  ${ex.fix}`);
  for (const r of ex.related) out.push(paint("dim", `also: ${r.message} — ${r.summary}`));
  return `${out.join("\n")}\n`;
}

function formatRow(r: ListingRow, failing: boolean, width: number, paint: Paint): string {
  const text = `${String(r.index).padStart(width)}: (${hex2(r.opcode)}) ${r.asm}`;
  return failing ? paint("red", `  > ${text}   <- here`) : `    ${text}`;
}
