/**
 * The one error the TypeScript-subset compiler throws: where (file, line, column), what, and
 * the source line with a caret under the column, as esbuild and tsc show them.
 */

/** A position in the program's source: 1-based line, 0-based column (as Babel counts). */
export interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

/** A program outside the compiled subset, or one the compiler cannot prove safe. */
export class CompileError extends Error {
  override readonly name = "CompileError";
  /** the file name given to the compiler */
  readonly file: string;
  /** 1-based line */
  readonly line: number;
  /** 1-based column */
  readonly column: number;
  /** the reason alone, without position or source */
  readonly reason: string;
  /** the offending source line with a caret under the column */
  readonly frame: string;

  constructor(reason: string, file: string, source: string, at: SourcePosition | undefined) {
    const line = at?.line ?? 1;
    const column = (at?.column ?? 0) + 1;
    const text = source.split("\n")[line - 1] ?? "";
    const gutter = `${line} | `;
    const frame = `${gutter}${text}\n${" ".repeat(gutter.length + column - 1)}^`;
    super(`${file}:${line}:${column}: error: ${reason}\n${frame}`);
    this.file = file;
    this.line = line;
    this.column = column;
    this.reason = reason;
    this.frame = frame;
  }
}
