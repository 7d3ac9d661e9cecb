/** Typed errors of the native edge. */

import { INSPECT, printShort, shortText } from "../util/print.js";
import { errnoHint, errnoName } from "./errno.js";

/** Base of every error rawbpf throws on purpose. `code` is stable and machine-readable. */
export class RawbpfError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  /** `console.log`/`util.inspect` print the message and the stack frames, not every field. */
  [INSPECT](): string {
    return shortText(this, {});
  }
}

/** Bad input caught before the kernel was asked: a wrong size, an unknown name, a number out of range. */
export class InputError extends RawbpfError {
  constructor(message: string, options?: ErrorOptions) {
    super("EINPUT", message, options);
  }
}

/**
 * The native part rawbpf calls the kernel through (koffi and its binary for this platform) could
 * not be loaded. Only the kernel back end needs it: `backend: "memory"` works without it.
 */
export class NativeUnavailableError extends RawbpfError {
  constructor(cause: unknown) {
    const why = cause instanceof Error ? cause.message.split("\n")[0] : String(cause);
    super(
      "ENATIVE",
      `the native part is missing: koffi could not be loaded (${why}); the kernel back end needs it ` +
        `(npm install koffi on a platform it ships a binary for), while backend: "memory" works without it`,
      { cause },
    );
  }
}

/** A descriptor-owning object was used after close(). */
export class ClosedError extends RawbpfError {
  constructor(what: string) {
    super("ECLOSED", `${what} is closed: it was used after close() (create or open it again)`);
  }
}

/** Details a BpfError may carry. */
export interface BpfErrorDetails {
  /** the capability whose absence explains an EPERM, e.g. "CAP_BPF" */
  capability?: string;
  /** the complete verifier log, for loads */
  log?: string;
  /** a more specific hint than the errno's */
  hint?: string;
}

/**
 * The kernel refused a bpf() command (or a related system call). Carries the command, the errno
 * and its name, a plain-words hint, and for loads the verifier log.
 */
export class BpfError extends RawbpfError {
  /** the bpf() command or system call, e.g. "BPF_MAP_CREATE" */
  readonly command: string;
  /** the errno number */
  readonly errno: number;
  /** the errno name, e.g. "EPERM" */
  readonly errnoName: string;
  /** what it usually means, in plain words */
  readonly hint: string;
  /** the capability that was missing, when that explains the refusal */
  readonly capability: string | undefined;
  /** the verifier log, for loads */
  readonly log: string | undefined;

  constructor(command: string, errno: number, details: BpfErrorDetails = {}, what?: string) {
    const name = errnoName(errno);
    const hint = details.hint ?? errnoHint(errno);
    const cap = details.capability ? ` (needs ${details.capability})` : "";
    super(name, `${command}${what ? ` ${what}` : ""} failed: ${name}${cap}: ${hint}`);
    this.command = command;
    this.errno = errno;
    this.errnoName = name;
    this.hint = hint;
    this.capability = details.capability;
    this.log = details.log;
    if (this.log) printShort(this, bpfErrorForm(this.log));
  }

  override [INSPECT](): string {
    return shortText(this, this.log ? bpfErrorForm(this.log) : {});
  }
}

/**
 * A batch command the kernel stopped part-way: the first `count` elements were processed before
 * the error (BPF_MAP_UPDATE_BATCH stores elements in order and stops at the first failure).
 */
export class BatchError extends BpfError {
  /** elements processed before the kernel stopped */
  readonly count: number;

  constructor(error: BpfError, count: number) {
    super(error.command, error.errno, {
      ...(error.capability ? { capability: error.capability } : {}),
      hint: error.hint,
    });
    this.message = `${error.message} (after ${count} element${count === 1 ? "" : "s"})`;
    this.count = count;
    printShort(this, {});
  }
}

/** A BpfError's log is not printed (it can be megabytes): only where it is. */
function bpfErrorForm(log: string) {
  const lines = log.trimEnd().split("\n").length;
  return { more: [`err.log (the kernel's log, ${lines} line${lines === 1 ? "" : "s"})`], bulky: ["log"] };
}
