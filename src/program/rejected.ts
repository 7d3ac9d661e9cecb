/**
 * A program the verifier refused: the `BpfError` of the load (command, errno name, hint,
 * capability, the complete log as text in `log`) with the verifier layer's reading of that log —
 * the {@link VerifierError} in `verifier` (parsed log, explanation, terminal and HTML views) —
 * and its one-line explanation as the message.
 */
import { BpfError } from "../sys/error.js";
import { VerifierError } from "../verifier/error.js";
import type { Explanation } from "../verifier/explain.js";
import type { ProgramText } from "../verifier/listing.js";
import { parseVerifierLog } from "../verifier/parse.js";
import type { HtmlOptions } from "../verifier/view-html.js";
import type { TerminalOptions } from "../verifier/view-terminal.js";

/**
 * The verifier refused the program. Still a `BpfError` (`errnoName`, `hint`, `capability`, and
 * `log`, the complete log as text); `verifier` is the `VerifierError` made from that log, and
 * `explanation` says what rule was broken, why, and how to fix it.
 */
export class ProgramRejectedError extends BpfError {
  /** the verifier layer's error: the parsed log (`verifier.log`), the explanation, the views */
  readonly verifier: VerifierError;
  /** the explanation of the verifier's closing message, when the catalog knows it */
  readonly explanation: Explanation | undefined;
  /** the instruction the verifier stopped at, when known */
  readonly insn: number | undefined;

  constructor(error: BpfError, what: string, insns?: ProgramText) {
    const text = error.log ?? "";
    super(
      error.command,
      error.errno,
      {
        log: text,
        hint: error.hint,
        ...(error.capability ? { capability: error.capability } : {}),
      },
      what,
    );
    this.name = "ProgramRejectedError";
    this.verifier = new VerifierError(parseVerifierLog(text), {
      errno: error.errno,
      ...(insns ? { insns } : {}),
    });
    this.explanation = this.verifier.explanation;
    this.insn = this.verifier.insn;
    const said = this.verifier.message.replace(/^verifier: /, "");
    const cap = error.capability ? ` — needs ${error.capability}: ${error.hint}` : "";
    this.message = `${what} refused by the verifier (${error.errnoName}): ${said}${cap}`;
  }

  /** The listing with the failing instruction marked and the explanation, for a terminal or a page. */
  render(format: "terminal" | "html", options: TerminalOptions & HtmlOptions = {}): string {
    return this.verifier.render(format, options);
  }
}

/** Whether a failed load's error is the verifier's (its log names an error), not an earlier refusal. */
export function isVerifierRejection(error: BpfError): boolean {
  if (error.command !== "BPF_PROG_LOAD" || !error.log) return false;
  return parseVerifierLog(error.log).error !== undefined;
}
