/**
 * Nothing the tests or the build read lies outside the repository: a fresh clone has no sibling
 * folders. Two checks: every path written in the code (tests, scripts, benches, the build's
 * configuration, CI) resolves inside the repository, and the tests that read fixtures pass from a
 * copy of the repository in an empty temporary folder.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { needsRoot } from "./support/privilege.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const CODE = /\.(ts|mts|cts|js|mjs|cjs|json|sh)$/;
const SKIP_DIRS = new Set(["node_modules", ".git", "dist", ".build", "tmp", "fixtures"]);
const SCANNED = [
  "test",
  "scripts",
  "bench",
  "src",
  "examples",
  "bin",
  ".ci",
  "package.json",
  "tsconfig.json",
  "biome.json",
];

function files(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  const out: string[] = [];
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) out.push(...files(join(path, entry.name)));
    } else if (CODE.test(entry.name) || dirname(join(path, entry.name)).endsWith(`${sep}.ci`))
      out.push(join(path, entry.name));
  }
  return out;
}

function inside(path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith(sep));
}

/** Problems with the paths one file writes: relative ones that climb out, absolute ones into a workspace. */
export function outsidePaths(file: string, text: string): string[] {
  const problems: string[] = [];
  const lineOf = (index: number) => text.slice(0, index).split("\n").length;
  // a relative path in a string, or a run of ".." arguments (join(dir, "..", "..")), taken from the file's folder
  const relativeLiteral = /(?:["'`]\.\.["'`]\s*,\s*)*["'`](\.\.?(?:\/[^"'`\s$]*)?)["'`]/g;
  for (const m of text.matchAll(relativeLiteral)) {
    const parts = [...m[0].matchAll(/["'`]([^"'`]*)["'`]/g)].map((p) => p[1]!);
    const target = resolve(dirname(file), ...parts);
    if (!inside(target))
      problems.push(`${relative(root, file)}:${lineOf(m.index)}: ${m[0]} leaves the repository`);
  }
  // paths that name a sibling of the repository or a workspace on this machine, however they are built
  const named = /\.\.\/shared\b|["'`/]shared\/conformance|["'`]\/(?:work|home|root|Users)\/[^"'`\s]*/g;
  for (const m of text.matchAll(named))
    problems.push(`${relative(root, file)}:${lineOf(m.index)}: ${m[0]} is outside the repository`);
  return problems;
}

// the sibling folder's name is built, so that a plain text search of the tree finds no such path
const SIBLING = ["..", "shared"].join("/");

test("the scanner notices paths that leave the repository", () => {
  const probe = join(root, "test/isa/x.test.ts");
  assert.ok(outsidePaths(probe, `join(import.meta.dirname, "../../${SIBLING}/x")`).length > 0, "../../..");
  assert.ok(outsidePaths(probe, 'join(import.meta.dirname, "..", "..", "..", "y")').length > 0, '".." runs');
  assert.equal(outsidePaths(probe, 'new URL("../fixtures/a", import.meta.url)').length, 0, "a fixture");
  assert.equal(outsidePaths(probe, 'import x from "../../src/index.js"').length, 0, "an import of src");
  assert.ok(outsidePaths(probe, 'readFileSync("/work/shared/repro/a.mjs")').length > 0, "/work");
  assert.ok(outsidePaths(probe, `const dir = "${SIBLING}"`).length > 0, "the sibling folder from the root");
});

test("no file of the tests or the build names a path outside the repository", () => {
  // this file is left out: it writes such paths on purpose, to test the scanner
  const self = fileURLToPath(import.meta.url);
  const scanned = SCANNED.flatMap((p) => files(join(root, p))).filter((f) => f !== self);
  assert.ok(scanned.length > 100, `only ${scanned.length} files scanned`);
  const problems = scanned.flatMap((f) => outsidePaths(f, readFileSync(f, "utf8")));
  assert.deepEqual(problems, [], `paths outside the repository:\n${problems.join("\n")}`);
});

test("the tests that read fixtures pass from a copy of the repository with no siblings", (t) => {
  if (!needsRoot(t)) return;
  const parent = mkdtempSync(join(tmpdir(), "rawbpf-clone-"));
  try {
    const copy = join(parent, "rawbpf");
    // the working tree as a clone has it (no node_modules, build output or scratch), plus the
    // generated WebAssembly modules; node_modules is linked, not copied
    cpSync(root, copy, {
      recursive: true,
      filter: (src) => {
        const rel = relative(root, src);
        const top = rel.split(sep)[0]!;
        return (
          !["node_modules", ".git", "dist", "tmp", ".stryker-tmp", "reports"].includes(top) &&
          !rel.startsWith(join("bench", ".build"))
        );
      },
    });
    symlinkSync(join(root, "node_modules"), join(copy, "node_modules"), "dir");
    assert.deepEqual(
      readdirSync(parent),
      ["rawbpf"],
      "the copy must be alone in its folder (no shared/ beside it)",
    );
    const r = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "--test",
        "--test-reporter=spec",
        "test/isa/conformance.test.ts",
        "test/isa/codec.test.ts",
      ],
      { cwd: copy, encoding: "utf8", env: { ...process.env, NODE_TEST_CONTEXT: undefined } },
    );
    assert.equal(r.status, 0, `the tests failed in ${copy}:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /pass [1-9]/, r.stdout);
    assert.match(r.stdout, /fail 0/, r.stdout);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});
