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

/** The verifier's closing message and the instruction it names (or was at), from a log. */
export interface LogVerdict {
  /** the closing message, e.g. `R2 !read_ok` */
  message: string;
  /** the instruction index the message is about, when the log names one */
  insn: number | undefined;
  /** that instruction as the verifier printed it, e.g. `call bpf_strncmp#182` */
  insnText: string | undefined;
}

const TRAILER = /^(verification time|stack depth|processed \d+ insns)/;
const STATE_DUMP = /^(cur state|old state|\s)/;
const INSN_LINE = /^(\d+): \(([0-9a-f]{2})\) (.*?)(\s+;.*)?$/;
const NAMED_INSN = /(?:at insn|insn) (\d+)/;

/** Finds the verifier's verdict at the end of a log. */
export function logVerdict(log: string): LogVerdict {
  const lines = log.trimEnd().split("\n");
  let end = lines.length;
  while (end > 0 && TRAILER.test(lines[end - 1]!)) end--;
  let at = end - 1;
  while (at > 0 && STATE_DUMP.test(lines[at]!)) at--;
  const message = (lines[at] ?? "").trim();
  const named = NAMED_INSN.exec(message);
  for (let i = at - 1; i >= 0; i--) {
    const m = INSN_LINE.exec(lines[i]!);
    if (!m) continue;
    if (named) {
      const n = Number(named[1]);
      const same = lines.find((l) => l.startsWith(`${n}: (`));
      return { message, insn: n, insnText: same ? INSN_LINE.exec(same)?.[3] : undefined };
    }
    return { message, insn: Number(m[1]), insnText: m[3] };
  }
  return { message, insn: named ? Number(named[1]) : undefined, insnText: undefined };
}
