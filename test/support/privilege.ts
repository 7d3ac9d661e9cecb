/** Privilege checks for tests: skip without root, except under CI=true where a missing privilege fails. */
import type { TestContext } from "node:test";
import { hasCapability } from "../../src/sys/caps.js";

/** True when the process can do everything rawbpf's tests do (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON, CAP_SYS_ADMIN). */
export function privileged(): boolean {
  return (
    hasCapability("CAP_SYS_ADMIN") &&
    hasCapability("CAP_BPF") &&
    hasCapability("CAP_NET_ADMIN") &&
    hasCapability("CAP_PERFMON")
  );
}

/**
 * Call at the start of a test that needs the kernel. Without the privileges, the test is skipped
 * — unless CI=true, where it fails: CI must exercise the kernel.
 */
export function needsRoot(t: TestContext): boolean {
  if (privileged()) return true;
  if (process.env.CI === "true")
    throw new Error("this test needs root (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON, CAP_SYS_ADMIN) and CI=true");
  t.skip("needs root");
  return false;
}

/** The number of open descriptors of this process. */
export { openFdCount } from "./fds.js";
