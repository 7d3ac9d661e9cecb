/** The typed error of a probe whose answer the kernel did not give. */
import { type BpfError, RawbpfError } from "../sys/error.js";

/**
 * What to add to a probe's reason when the kernel's refusal was EPERM: the capability this process
 * lacks (the likely cause), or that it has them all (then a policy or this kernel withholds it).
 */
export function epermNote(error: BpfError): string {
  if (error.errnoName !== "EPERM") return "";
  return error.capability
    ? `; this process lacks ${error.capability}: run as root, or grant ${error.capability}`
    : "; this process has the capabilities it needs, so a security policy or this kernel's build withholds it";
}

/**
 * A probe that could not tell: the kernel refused it for a reason that says nothing about the
 * feature (EPERM before the verifier ran, say), or the feature cannot be probed by a plain load
 * (helpers of `tracing`, `lsm`, `ext` and `struct_ops` programs need an attach target). `cause`
 * is the kernel's `BpfError` when there was one. {@link probeAll} reports these as `"unknown"`.
 */
export class InconclusiveProbeError extends RawbpfError {
  /** what was probed, e.g. `program type lsm` */
  readonly feature: string;
  /** why the answer is unknown, in plain words */
  readonly reason: string;

  constructor(feature: string, reason: string, options?: ErrorOptions) {
    super("EPROBE", `cannot tell whether this kernel supports ${feature}: ${reason}`, options);
    this.feature = feature;
    this.reason = reason;
  }
}
