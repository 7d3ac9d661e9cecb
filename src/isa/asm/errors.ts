/**
 * Assembler diagnostics: one {@link AsmError} per problem, each pointing at its file, line and
 * column with the source line and a caret; {@link AsmErrors} carries every problem of one file.
 */

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
  }
}

/** `file:line:col: error: reason`, the source line, and a caret under the column. */
export function formatDiagnostic(reason: string, at: SourcePosition): string {
  const text = at.text.replace(/\t/g, " ");
  const caret = `${" ".repeat(Math.max(0, at.column - 1))}^`;
  return `${at.file}:${at.line}:${at.column}: error: ${reason}\n    ${text}\n    ${caret}`;
}
