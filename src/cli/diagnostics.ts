/** Assembler diagnostics as the command line prints them: capped, as text or as JSON records. */
import type { AsmErrors } from "../isa/asm/errors.js";

/** At most this many diagnostics are printed; the rest are counted. */
export const MAX_DIAGNOSTICS = 20;

/** The errors of a source, the first {@link MAX_DIAGNOSTICS} of them in full and the rest counted. */
export function diagnostics(e: AsmErrors): string {
  if (e.errors.length <= MAX_DIAGNOSTICS) return `${e.message}\n`;
  const shown = e.errors.slice(0, MAX_DIAGNOSTICS).map((x) => x.message);
  const rest = e.errors.length - MAX_DIAGNOSTICS;
  return `${e.errors.length} errors in ${e.errors[0]!.file}\n${shown.join("\n")}\n... and ${rest} more error${rest === 1 ? "" : "s"}\n`;
}

/** One diagnostic as `--json` prints it. */
export interface DiagnosticJson {
  file: string;
  line: number;
  column: number;
  /** the problem in plain words, without the position */
  message: string;
  /** the source line the problem is on */
  source: string;
}

/**
 * The fields a `--json` failure adds for assembler errors: the summary line as the message, the
 * first {@link MAX_DIAGNOSTICS} diagnostics, and how many more there were.
 */
export function diagnosticsJson(e: AsmErrors): {
  message: string;
  diagnostics: DiagnosticJson[];
  more: number;
} {
  const n = e.errors.length;
  return {
    message: `${n} error${n === 1 ? "" : "s"} in ${e.errors[0]?.file ?? "<input>"}`,
    diagnostics: e.errors.slice(0, MAX_DIAGNOSTICS).map((x) => ({
      file: x.file,
      line: x.line,
      column: x.column,
      message: x.reason,
      source: x.sourceLine,
    })),
    more: Math.max(0, n - MAX_DIAGNOSTICS),
  };
}
