/**
 * Pinning this process's main thread to one CPU (taskset -p), so that a BPF_PROG_TEST_RUN made
 * from it runs there and bpf_perf_event_output(BPF_F_CURRENT_CPU) writes to that CPU's ring.
 */
import { execFileSync, spawnSync } from "node:child_process";

/** Whether taskset (util-linux) is installed. */
export const hasTaskset = spawnSync("taskset", ["--version"]).status === 0;

/**
 * Runs `body` with the main thread pinned to `cpu` (when taskset is installed; else unpinned)
 * and restores the thread's CPU list after.
 */
export function onCpu<T>(cpu: number, body: () => T): T {
  // under CI a missing tool fails instead of thinning the test (test/support/privilege.ts's rule)
  if (!hasTaskset && process.env.CI === "true") throw new Error("taskset (util-linux) is needed under CI");
  if (!hasTaskset) return body();
  const pid = String(process.pid);
  const before = /: (\S+)\s*$/.exec(execFileSync("taskset", ["-pc", pid], { encoding: "utf8" }))?.[1];
  execFileSync("taskset", ["-pc", String(cpu), pid], { stdio: "ignore" });
  try {
    return body();
  } finally {
    if (before !== undefined) execFileSync("taskset", ["-pc", before, pid], { stdio: "ignore" });
  }
}
