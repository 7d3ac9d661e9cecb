/**
 * Preloaded (`--import`) by `npm test` and `npm run test:one`, in the test runner and in each test
 * file's process: the command line the tests run (bin/rawbpf.js) keeps its V8 code cache in a
 * folder of the run's own, removed when the run ends, instead of the user's ~/.cache/rawbpf. The
 * runner makes the folder; the test processes it starts inherit the variable and leave it be. A
 * RAWBPF_CACHE_DIR already set (a test of the cache sets its own) is kept.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

if (process.env.RAWBPF_CACHE_DIR === undefined) {
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-test-cache-"));
  process.env.RAWBPF_CACHE_DIR = dir;
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
}
