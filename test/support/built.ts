/**
 * The build bin/rawbpf.js runs (dist/src/cli/main.cjs, and compile.cjs for `rawbpf compile`), for the
 * tests of the real command line.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

/**
 * Makes the bundle bin/rawbpf.js runs from tsc's output when the tree has none (`npm run build`
 * was not run): tsc emits even when another part of the tree has a type error mid-edit.
 */
export function ensureBuilt(root: string): void {
  if (["main.cjs", "compile.cjs"].every((f) => existsSync(join(root, "dist/src/cli", f)))) return;
  spawnSync("npx", ["tsc", "-p", "."], { cwd: root, stdio: "pipe" });
  const bundle = spawnSync(process.execPath, [join(root, "scripts/bundle.mjs")], {
    cwd: root,
    encoding: "utf8",
  });
  assert.equal(bundle.status, 0, bundle.stderr);
}
