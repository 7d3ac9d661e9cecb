/**
 * Assembler diagnostics: one {@link AsmError} per problem, each pointing at its file, line and
 * column with the source line and a caret; {@link AsmErrors} carries every problem of one file.
 */

import { capLines, INSPECT, printShort, type ShortForm, shortText } from "../../util/print.js";

/** Where a problem is, and the source line it is on. */
export interface SourcePosition {
  /** file name as given to the assembler (`<input>` when there is none) */
  readonly file: string;
  /** 1-based line number */
  readonly line: number;
  /** 1-based column */
  readonly column: number;
  /** the whole source line, without its newline */
  readonly text: string;
}

/** One problem in an assembly source, at one place. */
export class AsmError extends Error {
  override readonly name = "AsmError";
  /** the problem in plain words, without the position */
  readonly reason: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** the source line the problem is on */
  readonly sourceLine: string;

  constructor(reason: string, at: SourcePosition) {
    super(formatDiagnostic(reason, at));
    this.reason = reason;
    this.file = at.file;
    this.line = at.line;
    this.column = at.column;
    this.sourceLine = at.text;
  }
  /** `console.log`/`util.inspect` print the message and the stack frames, not every field. */
  [INSPECT](): string {
    return shortText(this, {});
  }
}

/** Every problem found in one source, in line order. `message` lists them all. */
export class AsmErrors extends Error {
  override readonly name = "AsmErrors";
  readonly errors: readonly AsmError[];

  constructor(errors: readonly AsmError[]) {
    const sorted = [...errors].sort((a, b) => a.line - b.line || a.column - b.column);
    const head = `${sorted.length} error${sorted.length === 1 ? "" : "s"} in ${sorted[0]?.file ?? "<input>"}`;
    super(`${head}\n${sorted.map((e) => e.message).join("\n")}`);
    this.errors = sorted;
    // Uncaught, Node prints `err.stack` and then every array named `errors` (as for an
    // AggregateError), enumerable or not: so the stack holds no listing, and each AsmError prints
    // as its one diagnostic line (their frames are the assembler's, not the caller's).
    for (const e of sorted)
      printShort(e, { summary: e.message.split("\n")[0] ?? "", frames: false, bulky: Object.keys(e) });
    printShort(this, this.#shortForm(false));
  }

  /** The first line, the first diagnostics when `listing` (not every one), and where the rest are. */
  #shortForm(listing: boolean): ShortForm {
    const [summary = "", ...rest] = this.message.split("\n");
    const n = this.errors.length;
    return {
      summary,
      lines: listing ? capLines(rest.join("\n"), 30, "err.message has them all") : [],
      more: [`err.errors (${n} AsmError${n === 1 ? "" : "s"}: file, line, column, reason)`],
      bulky: ["errors"],
    };
  }

  /** `console.log`/`util.inspect`: the summary, the first diagnostics and where the rest are. */
  [INSPECT](): string {
    return shortText(this, this.#shortForm(true));
  }
}

/** `file:line:col: error: reason`, the source line, and a caret under the column. */
export function formatDiagnostic(reason: string, at: SourcePosition): string {
  const text = at.text.replace(/\t/g, " ");
  const caret = `${" ".repeat(Math.max(0, at.column - 1))}^`;
  return `${at.file}:${at.line}:${at.column}: error: ${reason}\n    ${text}\n    ${caret}`;
}
