/**
 * A program the verifier refused: a {@link VerifierError} (one-line message, the parsed log, the
 * explanation, the terminal and HTML views) that also carries what the kernel's refusal said —
 * the command, errno and its name, the hint, the missing capability — with the `BpfError` of the
 * load as its `cause`.
 */

import type { BpfError } from "../sys/error.js";
import { printShort, type ShortForm } from "../util/print.js";
import { VerifierError } from "../verifier/error.js";
import type { ProgramText } from "../verifier/listing.js";
import { parseVerifierLog } from "../verifier/parse.js";

/**
 * The verifier refused the program. `log` is the parsed log (`log.text` is the complete text),
 * `explanation` says what rule was broken, why, and how to fix it; `cause` is the `BpfError` of
 * the load.
 */
export class ProgramRejectedError extends VerifierError {
  /** the bpf() command that failed, "BPF_PROG_LOAD" */
  readonly command: string;
  /** the errno name, e.g. "EACCES" */
  readonly errnoName: string;
  /** what the errno usually means, in plain words */
  readonly hint: string;
  /** the capability whose absence explains the refusal, if any */
  readonly capability: string | undefined;
  /** the BpfError of the load */
  override readonly cause: BpfError;

  constructor(error: BpfError, what: string, insns?: ProgramText) {
    super(parseVerifierLog(error.log ?? ""), { errno: error.errno, ...(insns ? { insns } : {}) });
    this.name = "ProgramRejectedError";
    this.cause = error;
    this.command = error.command;
    this.errnoName = error.errnoName;
    this.hint = error.hint;
    this.capability = error.capability;
    const said = this.message.replace(/^verifier: /, "");
    const cap = error.capability ? ` — needs ${error.capability}: ${error.hint}` : "";
    this.message = `${what} refused by the verifier (${error.errnoName}): ${said}${cap}`;
    printShort(this, this.shortForm());
    // printed under this error as its [cause]: one line, the frames and the log are this error's
    printShort(error, { frames: false, bulky: Object.keys(error) });
  }

  protected override shortForm(): ShortForm {
    const form = super.shortForm();
    return { ...form, bulky: [...(form.bulky ?? []), "command", "errnoName", "hint", "capability"] };
  }
}

/** Whether a failed load's error is the verifier's (its log names an error), not an earlier refusal. */
export function isVerifierRejection(error: BpfError): boolean {
  // EAGAIN: a signal stopped the verifier part-way; its log ends anywhere, nothing was refused
  if (error.command !== "BPF_PROG_LOAD" || !error.log || error.errnoName === "EAGAIN") return false;
  return parseVerifierLog(error.log).error !== undefined;
}

/** The complete verifier log of a refused load, whichever error carries it; undefined for other errors. */
export function refusalLog(e: unknown): string | undefined {
  if (e instanceof ProgramRejectedError) return e.log.text;
  const log = (e as { command?: unknown; log?: unknown } | null)?.log;
  return typeof log === "string" ? log : undefined;
}
