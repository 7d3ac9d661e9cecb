/** What to throw when the kernel rejects a program: the complete log, and the capability to blame. */
import { type CapabilityName, effectiveCapabilities, hasCapability } from "../sys/caps.js";
import { Errno } from "../sys/errno.js";
import { BpfError } from "../sys/error.js";

/**
 * Verifier messages that only a process without CAP_PERFMON sees: root (or CAP_PERFMON) may read
 * uninitialised stack, leak pointers and do pointer arithmetic that an unprivileged load may not.
 */
const PERFMON_MESSAGES = [
  /invalid (indirect )?read from stack/,
  /leaks addr/,
  /pointer arithmetic .* prohibited/,
  /pointer comparison prohibited/,
];

/** The capability whose absence explains a verifier rejection, when one does. */
export function capabilityForLog(
  log: string,
  eff: bigint = effectiveCapabilities(),
): CapabilityName | undefined {
  const perfmon = hasCapability("CAP_PERFMON", eff) || hasCapability("CAP_SYS_ADMIN", eff);
  if (perfmon) return undefined;
  for (const re of PERFMON_MESSAGES) if (re.test(log)) return "CAP_PERFMON";
  return undefined;
}

/**
 * Adds to a PROG_LOAD BpfError what the log tells: when the rejection is one that CAP_PERFMON
 * lifts and this process lacks it, a new BpfError naming the capability; otherwise the error as is.
 */
export function withCapability(e: BpfError, what = "program"): BpfError {
  if (e.errno !== Errno.EACCES || !e.log || e.capability) return e;
  const cap = capabilityForLog(e.log);
  if (!cap) return e;
  return new BpfError(
    e.command,
    e.errno,
    {
      capability: cap,
      log: e.log,
      hint: `the verifier rejected the program; with ${cap} (root has it) it would have allowed this — grant ${cap}, or initialise the memory the program reads`,
    },
    what,
  );
}
