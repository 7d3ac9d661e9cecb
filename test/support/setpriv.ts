/**
 * Runs a module in a child process with reduced capabilities: root's uid is kept (so the child can
 * read the project wherever it lives, a mode-700 clone under /root included) and only the named
 * capabilities stay in its bounding set (`setpriv --bounding-set=-all,+bpf`).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import type { ChildResult } from "./child.js";

/** Whether setpriv (util-linux) is here; without it the test is skipped, or fails under CI=true. */
export function needsSetpriv(t: TestContext): boolean {
  if (existsSync("/usr/bin/setpriv") || existsSync("/bin/setpriv")) return true;
  if (process.env.CI === "true") throw new Error("setpriv (util-linux) is needed and CI=true");
  t.skip("no setpriv (util-linux)");
  return false;
}

/**
 * Runs `argv` (a command and its arguments) from the project's root with only `caps` (capability
 * names without CAP_, any case: "bpf", "PERFMON", "net_admin") in its bounding set, root's uid kept.
 */
export function runWithCapabilities(caps: readonly string[], argv: readonly string[]): ChildResult {
  const bounding = ["-all", ...caps.map((c) => `+${c.toLowerCase()}`)].join(",");
  const r = spawnSync(
    "setpriv",
    ["--inh-caps=-all", "--ambient-caps=-all", `--bounding-set=${bounding}`, ...argv],
    {
      encoding: "utf8",
      timeout: 120_000,
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
    },
  );
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Runs `code` (an ES module, through tsx, from the project's root) with only `caps` (capability
 * names without CAP_, lower case: "bpf", "perfmon", "net_admin") in its bounding set.
 */
export function withCapabilities(caps: readonly string[], code: string): ChildResult {
  return runWithCapabilities(caps, [process.execPath, "--import", "tsx", "--input-type=module", "-e", code]);
}

/** The absolute path of a source module, as a JSON string for an import in child code. */
export function srcModule(path: string): string {
  return JSON.stringify(fileURLToPath(new URL(`../../src/${path}`, import.meta.url)));
}
