/**
 * `rawbpf compile` runs a bundle of its own (dist/src/cli/compile.cjs, src/cli/compile-main.ts),
 * not the whole command line's. The oracle is the whole command line itself (src/cli/main.ts, in
 * process): for programs, output formats and every kind of failure (a usage error, a missing file,
 * a compile error with its caret, `--json`), the bundle prints the same bytes, on the same stream,
 * with the same exit status. Needs the build (`npm run build`); made here when it is missing.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { main } from "../../src/cli/main.js";
import { ensureBuilt } from "../support/built.js";

const root = new URL("../../", import.meta.url).pathname;
const bin = join(root, "bin", "rawbpf.js");

const PROGRAM = `import { map, program, u32, u64, XDP_DROP, XDP_PASS } from "rawbpf";
const seen = map("array", { key: u32, value: u64, maxEntries: 4 });
export const first = program("xdp", (ctx) => {
  const b = ctx.u8(0);
  if (b === null) return XDP_PASS;
  const v = seen.lookup(b & 3);
  if (v !== null) v.value += 1;
  return b > 200 ? XDP_DROP : XDP_PASS;
});
export const second = program("socket_filter", (ctx) => 0);
`;

/** The whole command line's answer, in process. */
async function wholeCli(argv: string[]) {
  const stdout: Buffer[] = [];
  let stderr = "";
  const status = await main(argv, {
    stdout: (s: string) => stdout.push(Buffer.from(s)),
    stdoutBytes: (b: Uint8Array) => stdout.push(Buffer.from(b)),
    stderr: (s: string) => {
      stderr += s;
    },
    stdin: async () => Buffer.alloc(0),
    isTTY: false,
  });
  return { status, stdout: Buffer.concat(stdout), stderr };
}

test("rawbpf compile's own bundle answers as the whole command line does", async () => {
  ensureBuilt(root);
  const work = mkdtempSync(join(tmpdir(), "rawbpf-compile-bundle-"));
  try {
    const good = join(work, "good.ts");
    writeFileSync(good, PROGRAM);
    const bad = join(work, "bad.ts");
    writeFileSync(
      bad,
      `import { program, XDP_PASS } from "rawbpf";\nexport const p = program("xdp", (ctx) => {\n  const x = 1.5;\n  return XDP_PASS;\n});\n`,
    );
    const out = join(work, "out.bin");
    const cases: string[][] = [
      ["compile", good, "--format", "json"],
      ["compile", good, "--program", "first"],
      ["compile", good, "--program", "second", "--format", "bin", "-o", out],
      ["compile", good, "--format", "bin"],
      ["compile", good, "--program", "third"],
      ["compile", bad],
      ["compile", bad, "--json"],
      ["compile", join(work, "missing.ts")],
      ["compile", "--bogus"],
      ["compile", "--help"],
      ["compile"],
    ];
    for (const argv of cases) {
      const expected = await wholeCli(argv);
      const bundleOut = argv.includes(out) ? readFileSync(out) : undefined;
      const r = spawnSync(process.execPath, [bin, ...argv]);
      const what = `rawbpf ${argv.join(" ")}`;
      assert.equal(r.status, expected.status, `${what}: status (${r.stderr})`);
      assert.deepEqual(r.stdout, expected.stdout, `${what}: stdout`);
      assert.equal(r.stderr.toString(), expected.stderr, `${what}: stderr`);
      if (bundleOut !== undefined) assert.deepEqual(readFileSync(out), bundleOut, `${what}: -o file`);
    }
    // the failures above were failures, each of its own kind
    assert.match((await wholeCli(["compile", bad])).stderr, /float|1\.5/);
    assert.equal((await wholeCli(["compile", "--bogus"])).status, 2);
    assert.match((await wholeCli(["compile", bad, "--json"])).stdout.toString(), /^\{"error":\{"message":/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
