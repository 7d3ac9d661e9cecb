/**
 * `VerifierError`: a rejected load, with a one-line message (the kernel's error, the instruction,
 * the short explanation), the parsed log, the explanation and renderings for a terminal or a page.
 */
import { INSPECT, printShort, type ShortForm, shortText } from "../util/print.js";
import { type Explanation, explain } from "./explain.js";
import type { ProgramText } from "./listing.js";
import { parseVerifierLog, type VerifierLog } from "./parse.js";
import { type HtmlOptions, renderHtml } from "./view-html.js";
import { renderTerminal, type TerminalOptions } from "./view-terminal.js";

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  7: "E2BIG",
  9: "EBADF",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  22: "EINVAL",
  28: "ENOSPC",
  95: "EOPNOTSUPP",
  524: "ENOTSUPP",
};

/** Options of {@link verifierErrorFromLog}. */
export interface VerifierErrorOptions {
  /** the errno the load failed with */
  errno?: number;
  /** the program that was loaded, to list instructions the log does not show */
  insns?: ProgramText;
}

/** The explanation as a plain object: what `--json` prints under `error`. */
export interface VerifierErrorJson {
  message: string;
  insn: number | null;
  explanation: {
    id: string | null;
    kernel: string;
    summary: string;
    rule: string;
    why: string;
    fix: string;
    instruction: string | null;
    source: { code: string; file?: string; line?: number } | null;
    registers: { name: string; value: string | null; description: string }[];
  } | null;
}

/** The kernel's verifier refused a program. */
export class VerifierError extends Error {
  /** the parsed log */
  readonly log: VerifierLog;
  /** the explanation of the closing error, when the log has one */
  readonly explanation: Explanation | undefined;
  /** the errno of the load, if known */
  readonly errno: number | undefined;
  /** the instruction the verifier failed at, if known */
  readonly insn: number | undefined;
  private readonly insns: ProgramText | undefined;

  constructor(log: VerifierLog, opts: VerifierErrorOptions = {}) {
    const ex = explain(log);
    super(oneLine(ex, opts.errno, log));
    this.name = "VerifierError";
    this.log = log;
    this.explanation = ex;
    this.errno = opts.errno;
    this.insn = ex?.insn;
    this.insns = opts.insns;
    printShort(this, this.shortForm());
  }

  /**
   * What an uncaught or `console.error`ed rejection prints: the summary, the instruction and source
   * line, why and how to fix, and where the rest is (the log, the two renderings), never the
   * parsed log's arrays. (@internal: for subclasses that change the message.)
   */
  protected shortForm(): ShortForm {
    const ex = this.explanation;
    const lines: string[] = [];
    if (ex?.insn !== undefined)
      lines.push(`at instruction ${ex.insn}${ex.insnText ? `: ${ex.insnText}` : ""}`);
    if (ex?.source)
      lines.push(
        `source: ${ex.source.file ? `${ex.source.file}${ex.source.line ? `:${ex.source.line}` : ""}: ` : ""}${ex.source.code}`,
      );
    if (ex) lines.push(`why: ${ex.why}`, `fix: ${ex.fix}`);
    const n = this.log.lineCount;
    return {
      lines,
      more: [
        `err.log.text (the verifier's log, ${n} line${n === 1 ? "" : "s"})`,
        'err.render("terminal")',
        'err.render("html")',
      ],
      bulky: ["log", "explanation", "insns", "errno", "insn"],
    };
  }

  /**
   * `console.error(err)`: on a colour terminal, the terminal rendering (the listing around the
   * failing instruction and the explanation); elsewhere the short form, as when uncaught. Node's
   * console decides (`options.colors`): a terminal, and neither NO_COLOR nor CI set.
   */
  [INSPECT](_depth?: number, options?: { colors?: boolean }): string {
    if (options?.colors !== true) return shortText(this, this.shortForm());
    const form = this.shortForm();
    const more = form.more ? `\n  more: ${form.more.join(", ")}` : "";
    return `${this.name}: ${this.message}\n${this.render("terminal", { color: true }).trimEnd()}${more}`;
  }

  /** Render for a terminal (with the listing and the explanation) or as a self-contained HTML page. */
  render(format: "terminal" | "html", opts: TerminalOptions & HtmlOptions = {}): string {
    const withInsns = this.insns && !opts.insns ? { ...opts, insns: this.insns } : opts;
    return format === "html"
      ? renderHtml(this.log, this.explanation, withInsns)
      : renderTerminal(this.log, this.explanation, withInsns);
  }

  /** The `{ message, insn, explanation }` object `--json` outputs. */
  toJSON(): VerifierErrorJson {
    return errorJson(this.explanation, this.message);
  }
}

/** The JSON form of an explanation (or of a log without one). */
export function errorJson(ex: Explanation | undefined, message: string): VerifierErrorJson {
  return {
    message,
    insn: ex?.insn ?? null,
    explanation: ex
      ? {
          id: ex.id ?? null,
          kernel: ex.message,
          summary: ex.summary,
          rule: ex.rule,
          why: ex.why,
          fix: ex.fix,
          instruction: ex.insnText ?? null,
          source: ex.source ? { ...ex.source } : null,
          registers: ex.registers.map((r) => ({
            name: r.name,
            value: r.state ? `${r.state.precise ? "P" : ""}${r.state.value}` : null,
            description: r.description,
          })),
        }
      : null,
  };
}

function oneLine(ex: Explanation | undefined, errno: number | undefined, log: VerifierLog): string {
  const name = errno !== undefined ? (ERRNO_NAMES[errno] ?? `errno ${errno}`) : undefined;
  if (!ex) {
    const why = name ? ` (${name})` : "";
    if (log.lineCount === 0 || log.text.trim() === "")
      return `the verifier refused the program${why} and left no log; load with logLevel 1 or 2 to see why`;
    return `the verifier refused the program${why}; its log has no closing error (cut off? grow the log buffer)`;
  }
  const at = ex.insn !== undefined ? ` at instruction ${ex.insn}` : "";
  const short = ex.summary !== ex.message ? `: ${ex.summary}` : "";
  return `verifier: ${ex.message}${at}${short}`.replace(/\s+/g, " ");
}

/**
 * Make a {@link VerifierError} from a log's text. The program loader calls this with the log of a
 * rejected load, its errno and the instructions.
 */
export function verifierErrorFromLog(log: string, opts: VerifierErrorOptions = {}): VerifierError {
  return new VerifierError(parseVerifierLog(typeof log === "string" ? log : ""), opts);
}
