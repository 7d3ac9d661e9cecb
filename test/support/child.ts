import { spawnSync } from "node:child_process";

/** What a child process did. */
export interface ChildResult {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `code` (an ES module, through tsx) in a child Node process that must exit by itself. The
 * timeout only turns a regression (a handle that keeps the child alive) into a failure instead
 * of a hang.
 */
export function runModule(code: string): ChildResult {
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    encoding: "utf8",
    timeout: 120_000,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}
