/**
 * The user's code cache of bin/rawbpf.js (V8's cache of the bundle's functions a command ran, and
 * of Babel's parser): written by a command's first run, accepted by V8 on the next (V8's own
 * `cachedDataRejected`, through `--check-code-cache`, is the oracle), never changing what a
 * command prints, and not used from a folder someone else could write to. Needs the build
 * (`npm run build`); made here from tsc's output when it is missing.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ensureBuilt } from "../support/built.js";

const root = new URL("../../", import.meta.url).pathname;
const bin = join(root, "bin", "rawbpf.js");

const PROGRAM = `import { atomicAdd, map, program, u32, u64, XDP_DROP, XDP_PASS } from "rawbpf";
const counts = map("hash", { key: u32, value: u64, maxEntries: 16 });
export const count = program("xdp", (ctx) => {
  const proto = ctx.u8(23);
  if (proto === null) return XDP_PASS;
  const c = counts.lookup(proto);
  if (c === null) {
    counts.update(proto, 1);
    return XDP_PASS;
  }
  atomicAdd(c.value, 1);
  return c.value > 100 ? XDP_DROP : XDP_PASS;
});
`;

/** bin/rawbpf.js with the user's cache in `cacheDir` ("off": none). */
function rawbpf(argv: string[], cacheDir: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, RAWBPF_CACHE_DIR: cacheDir };
  delete env.NODE_EXTRA_CA_CERTS;
  const r = spawnSync(process.execPath, [bin, ...argv], { encoding: "utf8", env });
  assert.equal(r.status, 0, `rawbpf ${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** The cache files under `base` (one folder per build), by name, with their bytes. */
function entries(base: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const key of existsSync(base) ? readdirSync(base) : []) {
    for (const f of readdirSync(join(base, key))) out.set(join(key, f), readFileSync(join(base, key, f)));
  }
  return out;
}

test("bin/rawbpf.js: the user's code cache is written once, accepted by V8, and changes no output", () => {
  ensureBuilt(root);
  const work = mkdtempSync(join(tmpdir(), "rawbpf-code-cache-"));
  try {
    const file = join(work, "count.ts");
    writeFileSync(file, PROGRAM);
    const argv = ["compile", file, "--format", "json"];
    const expected = rawbpf(argv, "off");
    assert.match(expected, /"insns": "[0-9a-f]+"/, "the compile without a cache printed a program");

    // first run: writes the bundle's cache for `compile` and Babel's, private to the user
    const base = join(work, "cache");
    assert.equal(rawbpf(argv, base), expected, "output with a cache being written");
    const first = entries(base);
    const names = [...first.keys()].map((k) => k.replace(/^[^/]+\//, "")).sort();
    assert.equal(names.length, 2, `cache files: ${names.join(", ")}`);
    assert.equal(
      names[0],
      `+babel+parser-${
        JSON.parse(readFileSync(join(root, "node_modules/@babel/parser/package.json"), "utf8")).version
      }-${readFileSync(join(root, "node_modules/@babel/parser/lib/index.js"), "utf8").length}.module`,
    );
    assert.equal(names[1], "compile.bundle");
    const [key] = readdirSync(base);
    assert.match(
      key ?? "",
      new RegExp(`^${process.version}-${process.arch}-[0-9a-f]{16}$`),
      "one folder per build",
    );
    assert.equal(statSync(join(base, key!)).mode & 0o777, 0o700, "the folder is the user's alone");
    for (const name of names) assert.equal(statSync(join(base, key!, name)).mode & 0o777, 0o600, name);

    // V8 accepts both, and the next runs read them without writing them again
    const check = JSON.parse(rawbpf(["--check-code-cache"], base)) as Record<string, boolean>;
    for (const name of names) assert.equal(check[join(base, key!, name)], false, `V8 accepts ${name}`);
    assert.equal(rawbpf(argv, base), expected, "output from the cache");
    assert.equal(rawbpf([...argv.slice(0, 2), "--format", "s"], base), rawbpf([...argv.slice(0, 2)], "off"));
    assert.deepEqual(entries(base), first, "an accepted cache is not written again");

    // a damaged cache: V8 refuses it, the command works, and the cache is written anew
    writeFileSync(join(base, key!, "compile.bundle"), Buffer.alloc(4096, 0x5a));
    assert.equal(rawbpf(argv, base), expected, "output with a refused cache");
    const again = JSON.parse(rawbpf(["--check-code-cache"], base)) as Record<string, boolean>;
    assert.equal(again[join(base, key!, "compile.bundle")], false, "the refused cache was replaced");

    // the folders of older builds beyond the newest four are removed when a new build's is made
    rmSync(join(base, key!), { recursive: true });
    for (let i = 0; i < 5; i++) {
      mkdirSync(join(base, `old-${i}`));
      utimesSync(join(base, `old-${i}`), 1000 + i, 1000 + i);
    }
    rawbpf(argv, base);
    assert.deepEqual(readdirSync(base).sort(), [key, "old-2", "old-3", "old-4"].sort());
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test("bin/rawbpf.js: no code cache from a folder others can write to, or one that cannot be made", () => {
  ensureBuilt(root);
  const work = mkdtempSync(join(tmpdir(), "rawbpf-code-cache-"));
  try {
    const file = join(work, "count.ts");
    writeFileSync(file, PROGRAM);
    const argv = ["compile", file, "--format", "json"];
    const expected = rawbpf(argv, "off");
    const open = join(work, "open");
    mkdirSync(open);
    chmodSync(open, 0o777);
    assert.equal(rawbpf(argv, open), expected);
    assert.deepEqual(readdirSync(open), [], "nothing read or written in a world-writable folder");
    // a command that fails (a mistyped name) writes no cache
    const mistyped = join(work, "mistyped");
    const env: NodeJS.ProcessEnv = { ...process.env, RAWBPF_CACHE_DIR: mistyped };
    delete env.NODE_EXTRA_CA_CERTS;
    const typo = spawnSync(process.execPath, [bin, "compil", file], { encoding: "utf8", env });
    assert.notEqual(typo.status, 0, "an unknown command fails");
    assert.deepEqual(entries(mistyped), new Map(), "and leaves no cache");
    // a path under a file: no folder can be made there, and the command does not mind
    assert.equal(rawbpf(argv, join(file, "cache")), expected);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
