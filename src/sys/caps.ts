/** Capabilities of this process, and which one a refused bpf() operation needed. */
import { readFileSync } from "node:fs";

/** Capability bit numbers (linux/capability.h). */
export const Capability = {
  CAP_SETPCAP: 8,
  CAP_NET_ADMIN: 12,
  CAP_SYS_ADMIN: 21,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
} as const;
export type CapabilityName = keyof typeof Capability;

/** The effective capability set of this process, read from /proc/self/status. */
export function effectiveCapabilities(): bigint {
  try {
    const status = readFileSync("/proc/self/status", "latin1");
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
    return m ? BigInt(`0x${m[1]}`) : 0n;
  } catch {
    return 0n;
  }
}

/** Whether this process has `cap` in its effective set. */
export function hasCapability(cap: CapabilityName, eff: bigint = effectiveCapabilities()): boolean {
  return ((eff >> BigInt(Capability[cap])) & 1n) === 1n;
}

/** kernel.unprivileged_bpf_disabled (0, 1 or 2), or undefined when it cannot be read. */
export function unprivilegedBpfDisabled(): number | undefined {
  try {
    return Number.parseInt(readFileSync("/proc/sys/kernel/unprivileged_bpf_disabled", "latin1"), 10);
    // Stryker disable next-line BlockStatement: an empty catch returns undefined too
  } catch {
    return undefined;
  }
}

/**
 * What an operation may need beyond plain bpf() access: `"admin"` is CAP_SYS_ADMIN itself, which
 * walking and opening objects by id (BPF_*_GET_NEXT_ID, BPF_*_GET_FD_BY_ID) need; CAP_BPF is not enough.
 */
export type PrivilegeKind = "bpf" | "net" | "perfmon" | "admin";

/**
 * The capability whose absence explains an EPERM for an operation of `kind`, or undefined when
 * the process has everything such an operation needs (then EPERM has another cause).
 * CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON, as in the kernel.
 */
export function missingCapability(
  kind: PrivilegeKind,
  eff: bigint = effectiveCapabilities(),
): string | undefined {
  const admin = hasCapability("CAP_SYS_ADMIN", eff);
  if (kind === "admin") return admin ? undefined : "CAP_SYS_ADMIN";
  const bpf = admin || hasCapability("CAP_BPF", eff);
  if (!bpf) return "CAP_BPF";
  if (kind === "net" && !hasCapability("CAP_NET_ADMIN", eff)) return "CAP_NET_ADMIN";
  if (kind === "perfmon" && !(admin || hasCapability("CAP_PERFMON", eff))) return "CAP_PERFMON";
  return undefined;
}
