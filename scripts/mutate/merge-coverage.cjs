// node merge-coverage.cjs OUTPUT.json DIR: adds the mutant hits the test file's child processes
// wrote into DIR (scripts/mutate/child-coverage.cjs) to the static coverage of the test process's
// Stryker output (the tap runner counts a test file's static coverage as that file's), then
// removes DIR.
"use strict";
const { readdirSync, readFileSync, rmSync, writeFileSync } = require("node:fs");
const { join } = require("node:path");

const [output, dir] = process.argv.slice(2);
let files = [];
try {
  files = readdirSync(dir).filter((f) => f.endsWith(".json"));
} catch {
  process.exit(0); // no child wrote anything
}
const out = JSON.parse(readFileSync(output, "utf8"));
out.mutantCoverage ??= { static: {}, perTest: {} };
out.mutantCoverage.static ??= {};
const hits = out.mutantCoverage.static;
let added = 0;
for (const f of files) {
  let child;
  try {
    child = JSON.parse(readFileSync(join(dir, f), "utf8"));
  } catch {
    continue; // empty or cut short (the child was killed before or while writing)
  }
  for (const [id, n] of Object.entries(child)) {
    if (!(id in hits)) added++;
    hits[id] = (hits[id] ?? 0) + n;
  }
}
writeFileSync(output, JSON.stringify(out));
rmSync(dir, { recursive: true, force: true });
if (process.env.RAWBPF_MUTATE_CHILDCOV_LOG)
  require("node:fs").appendFileSync(
    process.env.RAWBPF_MUTATE_CHILDCOV_LOG,
    `${added} mutants reached only by child processes of ${process.argv[4] ?? "?"} (${files.length} children)\n`,
  );
