/**
 * Build step: compiles the C programs of examples/ (`*.bpf.c`) into the objects shipped beside them
 * (`*.bpf.o`), when clang-19 is on this machine; without it the shipped objects are used as they
 * are. The output is deterministic (no absolute paths in the debug info), so an unchanged source
 * rebuilds to the same bytes and the tree stays clean.
 *
 *   node scripts/build-bpf.mjs          compile when clang-19 is there
 *   node scripts/build-bpf.mjs --check  fail if an object differs from what its source compiles to
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = join(root, "examples");
const check = process.argv.includes("--check");

if (spawnSync("clang-19", ["--version"], { stdio: "ignore" }).status !== 0) {
  console.log("build-bpf: no clang-19 here, the shipped examples/*.bpf.o are used as they are");
  process.exit(0);
}
let triple = "";
try {
  triple = execFileSync("cc", ["-print-multiarch"], { encoding: "utf8" }).trim();
} catch {}
const tmp = mkdtempSync(join(tmpdir(), "rawbpf-bpf-"));
let stale = 0;
try {
  for (const c of readdirSync(dir).filter((f) => f.endsWith(".bpf.c"))) {
    const o = c.replace(/\.c$/, ".o");
    const out = join(tmp, o);
    execFileSync(
      "clang-19",
      [
        "-target",
        "bpf",
        "-O2",
        "-g",
        ...(triple ? [`-I/usr/include/${triple}`] : []),
        `-fdebug-prefix-map=${dir}=.`,
        "-c",
        c,
        "-o",
        out,
      ],
      { cwd: dir, stdio: ["ignore", "inherit", "inherit"] },
    );
    const fresh = readFileSync(out);
    let old;
    try {
      old = readFileSync(join(dir, o));
    } catch {}
    if (old?.equals(fresh)) continue;
    stale++;
    if (check) console.error(`build-bpf: examples/${o} is not what examples/${c} compiles to`);
    else writeFileSync(join(dir, o), fresh);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
if (check && stale) process.exit(1);
