/** Skips that become failures under CI=true (the convention of privilege.ts, for tools and kernel answers). */
import { spawnSync } from "node:child_process";
import type { TestContext } from "node:test";

/**
 * Skip the test with `reason` — unless CI=true, where the reason is a failure: CI installs every
 * tool the tests use (.ci/run) and must run every test.
 */
export function skipUnlessCI(t: TestContext, reason: string): void {
  if (process.env.CI === "true") throw new Error(`${reason} (a skip is a failure under CI=true)`);
  t.skip(reason);
}

/** Whether every command is on PATH (`command -v`), without running it. */
export function haveTools(...commands: string[]): boolean {
  return commands.every((c) => spawnSync("sh", ["-c", 'command -v "$1"', "sh", c]).status === 0);
}
