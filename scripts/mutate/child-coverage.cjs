// Loaded (NODE_OPTIONS --require, set by scripts/mutate/node during Stryker's initial run only) in
// every node process a test file starts: a child's coverage of the instrumented code (the mutants
// its code reached) is written at its exit to $RAWBPF_MUTATE_CHILDCOV/<pid>.json, and
// scripts/mutate/merge-coverage.cjs adds it to the test file's. Without it, code that only a child
// runs (a test under `ulimit -n`, under setpriv, a garbage-collection test in a fresh process) is
// "no coverage" to Stryker and its mutants are never run, though the child does run them (the
// active mutant is in the environment it inherits).
"use strict";
const { closeSync, mkdirSync, openSync, writeSync } = require("node:fs");
const { join } = require("node:path");

const dir = process.env.RAWBPF_MUTATE_CHILDCOV;
const ns = process.env.STRYKER_NAMESPACE || "__stryker__";
if (dir) {
  // opened now: a child that ends at its descriptor limit (test/sys/descriptors) has none left then
  let fd = -1;
  try {
    mkdirSync(dir, { recursive: true });
    fd = openSync(join(dir, `${process.pid}.json`), "w");
  } catch {
    // no coverage from this child
  }
  if (fd >= 0)
    process.on("exit", () => {
      const coverage = globalThis[ns]?.mutantCoverage;
      if (!coverage) return;
      const hits = { ...coverage.static };
      for (const perTest of Object.values(coverage.perTest ?? {})) Object.assign(hits, perTest);
      writeSync(fd, JSON.stringify(hits));
      closeSync(fd);
    });
}
