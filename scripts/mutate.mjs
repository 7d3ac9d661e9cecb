#!/usr/bin/env node
/**
 * `npm run mutate [-- FOLDER_OR_FILE ...]`: mutation testing with StrykerJS over the kernel edge
 * and the live objects that sit closest to it (default: src/sys, src/map, src/ringbuf, src/perf),
 * then the score and every surviving mutant printed.
 *
 * The tests run against the real kernel, so: one test file at a time (concurrency 1), each under
 * the kernel lock, through scripts/mutate/node (which also turns a crashed test process into a
 * failing test: a mutant that crashes the process is killed). Coverage is per test file (the tap
 * runner), so a mutant runs only the test files that reach it, and stops at the first that fails.
 * Only the test folders listed for a source folder below run (the dry run runs each once).
 *
 * The full JSON report goes to reports/mutation/mutation.json; `node scripts/mutate.mjs --report`
 * prints the score of the last run again.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);

/** The test folders whose files exercise each source folder. */
const TESTS = {
  "src/sys": [
    "test/sys",
    "test/map",
    "test/program",
    "test/ringbuf",
    "test/perf",
    "test/link",
    "test/socket",
  ],
  "src/map": ["test/map", "test/codec"],
  "src/ringbuf": ["test/ringbuf"],
  "src/perf": ["test/perf"],
};
const REPORT = "reports/mutation/mutation.json";
const GOAL = 80;

function folderOf(target) {
  const t = target.replace(/\/+$/, "");
  const key = Object.keys(TESTS).find((k) => t === k || t.startsWith(`${k}/`));
  if (!key) {
    console.error(`mutate: ${target} is not under ${Object.keys(TESTS).join(", ")}`);
    process.exit(2);
  }
  return { key, glob: t.endsWith(".ts") ? t : `${t}/**/*.ts` };
}

/** Score and survivors from a Stryker JSON report (mutation-testing-report-schema). */
export function summarise(report) {
  const byFile = [];
  const totals = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, errors: 0, ignored: 0 };
  const survivors = [];
  for (const [file, { mutants }] of Object.entries(report.files)) {
    const f = { file, killed: 0, detected: 0, undetected: 0 };
    for (const m of mutants) {
      const where = `${file}:${m.location.start.line}:${m.location.start.column}`;
      switch (m.status) {
        case "Killed":
          totals.killed++;
          f.detected++;
          break;
        case "Timeout":
          totals.timeout++;
          f.detected++;
          break;
        case "Survived":
          totals.survived++;
          f.undetected++;
          survivors.push(`${where} ${m.mutatorName}: ${m.replacement ?? ""}`.trim());
          break;
        case "NoCoverage":
          totals.noCoverage++;
          f.undetected++;
          survivors.push(`${where} ${m.mutatorName} (no test reaches it): ${m.replacement ?? ""}`.trim());
          break;
        case "Ignored":
          totals.ignored++;
          break;
        default:
          totals.errors++; // RuntimeError, CompileError: not a verdict on the tests
      }
    }
    byFile.push(f);
  }
  const detected = totals.killed + totals.timeout;
  const valid = detected + totals.survived + totals.noCoverage;
  const score = valid === 0 ? 100 : (100 * detected) / valid;
  return { score, totals, byFile, survivors, valid, detected };
}

function print(report) {
  const s = summarise(report);
  console.log("\nmutation score by file (killed / all valid mutants):");
  for (const f of s.byFile.sort((a, b) => a.file.localeCompare(b.file))) {
    const all = f.detected + f.undetected;
    if (all > 0)
      console.log(`  ${((100 * f.detected) / all).toFixed(1).padStart(5)}%  ${f.detected}/${all}  ${f.file}`);
  }
  console.log(`\nsurvivors (${s.survivors.length}):`);
  for (const line of s.survivors) console.log(`  ${line}`);
  const t = s.totals;
  console.log(
    `\nmutation score: ${s.score.toFixed(1)}% (${s.detected} of ${s.valid} killed: ${t.killed} by a failing test, ${t.timeout} by a timeout; ${t.survived} survived, ${t.noCoverage} not reached; ${t.errors} mutants did not run)`,
  );
  console.log(s.score >= GOAL ? `goal (${GOAL}%) met` : `goal: ${GOAL}%`);
  return s;
}

const args = process.argv.slice(2);
if (args[0] === "--report") {
  if (!existsSync(REPORT)) {
    console.error(`mutate: no report yet (${REPORT}): run npm run mutate first`);
    process.exit(2);
  }
  print(JSON.parse(readFileSync(REPORT, "utf8")));
  process.exit(0);
}

// --exclude=test/x/y.test.ts leaves a test file out (one that fails here for reasons of its own:
// the initial run must be green)
const excluded = new Set(args.filter((a) => a.startsWith("--exclude=")).map((a) => a.slice(10)));
const folders = args.filter((a) => !a.startsWith("--"));
const targets = (folders.length > 0 ? folders : Object.keys(TESTS)).map(folderOf);
const testFolders = [...new Set(targets.flatMap((t) => TESTS[t.key]))];
const testFiles = testFolders
  .flatMap((d) =>
    readdirSync(d)
      .filter((f) => f.endsWith(".test.ts"))
      .map((f) => `${d}/${f}`),
  )
  .filter((f) => !excluded.has(f));
const mutate = [
  ...targets.map((t) => t.glob),
  "!src/**/index.ts", // re-exports only
  "!src/sys/layout.ts", // attr layouts as data, checked against the kernel's BTF field by field
];

// the tap runner starts `node` from PATH: ours takes the kernel lock and reports crashes
process.env.RAWBPF_REAL_NODE = process.execPath;
process.env.PATH = `${join(root, "scripts/mutate")}:${process.env.PATH}`;

const { Stryker } = await import("@stryker-mutator/core");
const stryker = new Stryker({
  mutate,
  testRunner: "tap",
  plugins: ["@stryker-mutator/tap-runner"],
  tap: {
    testFiles,
    nodeArgs: ["-r", "{{hookFile}}", "--import", "tsx", "--test-reporter=tap", "{{testFile}}"],
    forceBail: true,
  },
  coverageAnalysis: "perTest",
  concurrency: 1,
  // a test file's baseline is seconds; a mutant that makes a wait endless is a timeout (killed)
  timeoutMS: 10_000,
  timeoutFactor: 2,
  // the initial run waits for the kernel lock between files: on a shared machine that takes a while
  dryRunTimeoutMinutes: 60,
  // only `Kind` and the like: no mutants in type-only code
  ignoreStatic: true,
  reporters: ["json", "clear-text", "progress-append-only"],
  jsonReporter: { fileName: REPORT },
  clearTextReporter: { reportMutants: false, reportTests: false, allowEmojis: false },
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
  incremental: false,
  thresholds: { high: 90, low: GOAL, break: null },
});
console.log(
  `mutate: ${mutate.join(" ")}\ntests: ${testFiles.length} files of ${testFolders.join(" ")} (one at a time, under the kernel lock)${excluded.size ? `; left out: ${[...excluded].join(" ")}` : ""}`,
);
await stryker.runMutationTest();
const s = print(JSON.parse(readFileSync(REPORT, "utf8")));
process.exitCode = s.score >= GOAL ? 0 : 1;
