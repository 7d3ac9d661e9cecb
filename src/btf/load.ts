/** Loading a BTF blob into the kernel (BPF_BTF_LOAD). */

import { BpfError, btfLoad, Fd } from "../sys/index.js";
import { INSPECT, printShort, type ShortForm, shortText } from "../util/print.js";
import { BtfError } from "./errors.js";

/** The kernel's BTF verifier rejected a blob; `log` is its complete log. */
export class BtfLoadError extends BtfError {
  /** the BTF verifier's log */
  readonly log: string;
  /** the errno name (EINVAL, EPERM, ...) */
  readonly errnoName: string;

  constructor(cause: BpfError) {
    const log = cause.log ?? "";
    const last = log.trimEnd().split("\n").pop() ?? "";
    super(
      `the kernel rejected the BTF (${cause.errnoName}${last ? `: ${last.trim()}` : ""}); see .log for the BTF verifier's log`,
    );
    this.name = "BtfLoadError";
    this.log = log;
    this.errnoName = cause.errnoName;
    this.cause = cause;
    printShort(this, btfLoadForm(log));
    printShort(cause, { frames: false, bulky: Object.keys(cause) });
  }

  override [INSPECT](): string {
    return shortText(this, btfLoadForm(this.log));
  }
}

/** The BTF verifier's log is not printed: only where it is. */
function btfLoadForm(log: string): ShortForm {
  const n = log.trimEnd() === "" ? 0 : log.trimEnd().split("\n").length;
  return {
    more: [`err.log (the BTF verifier's log, ${n} line${n === 1 ? "" : "s"})`],
    bulky: ["log", "errnoName"],
  };
}

/** A BTF object loaded into the kernel; owns its descriptor. */
export interface LoadedBtf {
  /** the descriptor (close it, or `using` it, when done) */
  readonly fd: Fd;
  /** the BTF verifier's log (empty unless `logLevel` was set) */
  readonly log: string;
}

/**
 * Loads a blob with BPF_BTF_LOAD.
 * @throws BtfLoadError with the BTF verifier's complete log when the kernel rejects it
 */
export function loadBtf(blob: Uint8Array, options: { logLevel?: number } = {}): LoadedBtf {
  try {
    const r = btfLoad(options.logLevel === undefined ? { blob } : { blob, logLevel: options.logLevel });
    return { fd: new Fd(r.fd, "BTF object"), log: r.log };
  } catch (e) {
    if (e instanceof BpfError && e.errnoName !== "EPERM") throw new BtfLoadError(e);
    throw e;
  }
}
