/**
 * The API reference: typedoc renders what src/index.ts exports with its validation on (typedoc.json:
 * every export and method documented, every {@link} resolved, warnings are errors), so an export
 * without a comment or a broken link fails `npm test`. `--emit none` checks without writing docs/api.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const typedoc = join(root, "node_modules", "typedoc", "bin", "typedoc");

function run(...args: string[]) {
  return spawnSync(process.execPath, [typedoc, "--emit", "none", ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });
}

test("typedoc renders the public API with no warning (every export documented, every link resolved)", () => {
  const r = run();
  assert.equal(r.status, 0, `typedoc failed:\n${r.stdout}\n${r.stderr}`);
  assert.doesNotMatch(r.stdout + r.stderr, /warning|error/i, r.stdout + r.stderr);
});

test("the same validation refuses an undocumented export and a broken {@link}", () => {
  const fixture = join(root, "test", "fixtures", "docs");
  // typedoc.json there extends the project's, with this folder's entry point and tsconfig
  const r = run("--options", join(fixture, "typedoc.json"));
  const out = r.stdout + r.stderr;
  assert.notEqual(r.status, 0, `typedoc accepted the broken fixture:\n${out}`);
  assert.match(out, /undocumented.*does not have any documentation/, out);
  assert.match(out, /NoSuchThing/, out);
});
