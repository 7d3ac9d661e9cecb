/**
 * How an error prints in a script: a short text (the one-line summary, where, what it means and
 * where to look for more, then the stack frames) instead of every field and typed array it carries.
 *
 * Two paths print an error, and both are covered:
 * - `console.error(err)`, `util.inspect(err)`: the error's `[Symbol.for("nodejs.util.inspect.custom")]`
 *   method, which returns {@link shortText}.
 * - an uncaught error: Node prints `err.stack` and the error's enumerable fields with custom
 *   inspection turned off, so {@link printShort} also puts the short text in `stack` and makes the
 *   bulky fields non-enumerable (still there, still typed: `err.log`, `err.errors`...).
 *
 * Pure: `Symbol.for` names the same symbol as `util.inspect.custom` without importing node:util.
 * A leaf module (`src/util/`): it imports nothing, so every layer may import it, `src/sys` included.
 */

/** `util.inspect.custom`, the method `console.log` and `util.inspect` call to print an object. */
export const INSPECT: unique symbol = Symbol.for("nodejs.util.inspect.custom") as never;

/** What an error adds to its summary line when printed. */
export interface ShortForm {
  /** the summary line, when not the whole message (a message that lists every problem) */
  summary?: string;
  /** lines under the summary: where, what it means, what to do (each printed indented) */
  lines?: readonly string[];
  /** where to look for more, e.g. `err.log (57 lines)`, `err.render("terminal")` */
  more?: readonly string[];
  /** whether to keep the stack frames (default true; a `cause` already printed under its error: false) */
  frames?: boolean;
  /**
   * fields not to print when uncaught (typed arrays, logs, lists of errors, fields the printed
   * lines already say): made non-enumerable, so still there and typed, just not listed
   */
  bulky?: readonly string[];
}

/** The stack frames (`    at ...` lines) of an error's current stack. */
function frames(err: Error): string[] {
  const stack = typeof err.stack === "string" ? err.stack : "";
  // V8 indents frames by four spaces; the lines of the short form are indented by two
  return stack.split("\n").filter((l) => /^ {4}(at |\.\.\. \d+ lines? matching)/.test(l));
}

/** `Name: message`, the form's lines, `more: ...`, then the frames. */
export function shortText(err: Error, form: ShortForm): string {
  const out = [`${err.name}: ${form.summary ?? err.message}`];
  for (const l of form.lines ?? []) out.push(`  ${l}`);
  if (form.more && form.more.length > 0) out.push(`  more: ${form.more.join(", ")}`);
  if (form.frames !== false) out.push(...frames(err));
  return out.join("\n");
}

/**
 * Makes `err` print as its short form when uncaught: `stack` becomes {@link shortText} (frames
 * kept), and the bulky fields are made non-enumerable. Call it last in a constructor (again in a
 * subclass that changes the message or adds bulky fields).
 */
export function printShort(err: Error, form: ShortForm): void {
  for (const key of form.bulky ?? []) {
    const d = Object.getOwnPropertyDescriptor(err, key);
    if (d?.enumerable) Object.defineProperty(err, key, { ...d, enumerable: false });
  }
  Object.defineProperty(err, "stack", {
    value: shortText(err, form),
    writable: true,
    configurable: true,
    enumerable: false,
  });
}

/** At most `max` lines of `text`, then "... and N more lines (where)". */
export function capLines(text: string, max: number, where: string): string[] {
  const lines = text.split("\n");
  if (lines.length <= max) return lines;
  return [...lines.slice(0, max), `... and ${lines.length - max} more lines (${where})`];
}
