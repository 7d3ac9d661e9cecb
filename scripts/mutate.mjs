#!/usr/bin/env node
/**
 * `npm run mutate [-- FOLDER_OR_FILE ...]`: mutation testing with StrykerJS over the kernel edge
 * and the live objects that sit closest to it (default: src/sys, src/map, src/ringbuf, src/perf),
 * then the score and every surviving mutant printed.
 *
 * The tests run against the real kernel, so through scripts/mutate/node (which also turns a
 * crashed test process into a failing test: a mutant that crashes the process is killed): two
 * test files at a time (`--concurrency=N`), those that touch what other sessions' tests see
 * (bpffs pins, attachments, sysctls: `needsLock`) under the kernel lock held by a keeper for a
 * slot of consecutive files, the others (their own maps and BPF_PROG_TEST_RUN only) without it. Coverage is per test file (the tap runner), so a mutant runs only the test
 * files that reach it, and stops at the first that fails. Only the test folders listed for a
 * source folder (or file) below run (the dry run runs each once). DEVELOPERS.md, "Mutation
 * testing", has the rest: timeouts, what is not mutated, the scores measured.
 *
 * The JSON report of a run goes to reports/mutation/<targets>.json; `node scripts/mutate.mjs
 * --report` prints the score of every report there again.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);

/** The test folders (or single test files) whose files exercise each source folder. */
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
  // the interpreter's maps of maps and dumpMap's BTF values are tested there
  "src/map": ["test/map", "test/codec", "test/interp/fdmaps.test.ts", "test/program/btf-load.test.ts"],
  // the interpreter's tests read its in-memory rings through the same readers (backend: "memory")
  "src/ringbuf": ["test/ringbuf", "test/interp/ringbuf.test.ts"],
  "src/perf": ["test/perf", "test/interp/perf.test.ts"],
  // narrower sets for the central files of src/sys: the whole list above takes a long dry run, and
  // a mutant that survives runs every test file that reaches it
  // test/sys alone for the descriptor, error and errno modules: on a loaded machine a surviving
  // mutant of theirs runs every test file that reaches it, and test/map reaches nearly all of them
  "src/sys/fd.ts": ["test/sys"],
  "src/sys/error.ts": ["test/sys"],
  "src/sys/errno.ts": ["test/sys"],
  "src/sys/bpf.ts": ["test/sys", "test/map"],
  "src/sys/map.ts": ["test/map", "test/sys"],
  "src/sys/mmap.ts": ["test/object/variables.test.ts", "test/sys"],
  "src/sys/ringbuf.ts": ["test/ringbuf", "test/perf", "test/sys"],
  // the other files of src/sys, each with the few test files that call it (directly or through
  // the one module above it), so that a survivor does not run half the suite
  "src/sys/btf.ts": [
    "test/sys",
    "test/btf/load.test.ts",
    "test/btf/kernel.test.ts",
    "test/program/btf-load.test.ts",
  ],
  "src/sys/caps.ts": ["test/sys"],
  "src/sys/libc.ts": ["test/sys"],
  "src/sys/obj.ts": ["test/sys", "test/map/mutants-list.test.ts", "test/program/program.test.ts"],
  "src/sys/prog.ts": ["test/sys", "test/program"],
  "src/sys/query.ts": [
    "test/sys/mutants-query.test.ts",
    "test/sys/edge.test.ts",
    "test/cli/net-list.test.ts",
    "test/inspect/hooks.test.ts",
  ],
  "src/sys/socket.ts": [
    "test/socket",
    "test/sockets/bad-input.test.ts",
    "test/sys/mutants-caps.test.ts",
    "test/sys/mutants-socket.test.ts",
  ],
  "src/sys/link.ts": ["test/sys/mutants-link.test.ts", "test/link"],
  "src/sys/perf.ts": ["test/perf"],
  // the compiler's far-jump rewrite: its own test runs it in the kernel
  "src/lang/relax.ts": ["test/lang/far-jumps.test.ts"],
};
/**
 * Whether a test file touches what another session's kernel tests can see (an attachment to a
 * hook or a device, a cgroup, a sysctl, a setpriv'd child, a pin at a fixed path under bpffs): such
 * a file runs under the kernel lock. The others only create their own maps and programs, run
 * BPF_PROG_TEST_RUN, and pin (if at all) under a path of their own (mkdtemp, the pid).
 */
const LOCK_WORDS =
  /attach[A-Z(]|\.attach|sysctl|\/proc\/sys|"lo"|setpriv|\/sys\/fs\/cgroup|tracing|\/sys\/fs\/bpf\/[\w.-]+["'`]/;
/** Files whose words above are no such use (checked by reading them). */
const LOCK_FREE = {
  "test/map/ops.test.ts": 'pin("/sys/fs/bpf/x") of a closed map: refused before any system call',
  "test/map/pin.test.ts": "pins under a mkdtemp directory of its own (/sys/fs/bpf/rawbpf-map-XXXXXX)",
  "test/sys/mutants-prog.test.ts":
    "pins under a mkdtemp directory of its own (/sys/fs/bpf/rawbpf-mutants-XXXXXX)",
  "test/sys/mutants-socket.test.ts":
    "attaches filters only to socket pairs of its own; /proc/sys is read, not written",
  "test/sys/mutants-link.test.ts":
    "attaches nothing: every call is refused before the kernel or by its look at a descriptor that is not open",
  "test/sys/mutants-query.test.ts":
    "attaches only to a cgroup it makes under /sys/fs/cgroup/unified and a uprobe on a file of its own no process maps",
  "test/sys/mutants-caps.test.ts":
    'its setpriv\'d children only read their own capabilities and build errors; /proc/sys is read, not written; "lo" is looked up by name',
};
const needsLock = (file) => !(file in LOCK_FREE) && LOCK_WORDS.test(readFileSync(file, "utf8"));
const REPORTS = "reports/mutation";
const GOAL = 80;
/** Where the run of a set of targets writes its report: one file per target set, so runs of different folders do not overwrite each other. */
const reportOf = (targets) => `${REPORTS}/${targets.map((t) => t.name.replace(/[/.]/g, "-")).join("+")}.json`;

function folderOf(target) {
  const t = target.replace(/\/+$/, "");
  // the longest key that names the target or a folder holding it
  const key = Object.keys(TESTS)
    .filter((k) => t === k || t.startsWith(`${k}/`))
    .sort((a, b) => b.length - a.length)[0];
  if (!key) {
    console.error(`mutate: ${target} is not under ${Object.keys(TESTS).join(", ")}`);
    process.exit(2);
  }
  return { key, name: t, glob: t.endsWith(".ts") ? t : `${t}/**/*.ts` };
}

/** Score and survivors from a Stryker JSON report (mutation-testing-report-schema). */
export function summarise(report) {
  const byFile = [];
  const totals = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, errors: 0, ignored: 0 };
  const survivors = [];
  const timeouts = [];
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
          timeouts.push(`${where} ${m.mutatorName}: ${m.replacement ?? ""}`.trim());
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
  // the strict score counts a timeout as not killed: on a shared machine a timeout may be a wait
  // for the kernel lock rather than a mutant that made the code loop
  const strict = valid === 0 ? 100 : (100 * totals.killed) / valid;
  return { score, strict, totals, byFile, survivors, timeouts, valid, detected };
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
  if (s.timeouts.length > 0) {
    console.log(`\ntimeouts (${s.timeouts.length}; \`--retry-timeouts\` runs them again):`);
    for (const line of s.timeouts) console.log(`  ${line}`);
  }
  const t = s.totals;
  console.log(
    `\nmutation score: ${s.score.toFixed(1)}% (${s.detected} of ${s.valid} killed: ${t.killed} by a failing test, ${t.timeout} by a timeout; ${t.survived} survived, ${t.noCoverage} not reached; ${t.errors} mutants did not run)`,
  );
  console.log(
    `without timeouts: ${s.strict.toFixed(1)}% (${t.killed} of ${s.valid} killed by a failing test; the ${t.timeout} timeouts counted as survivors)`,
  );
  console.log(s.score >= GOAL ? `goal (${GOAL}%) met` : `goal: ${GOAL}%`);
  return s;
}

const args = process.argv.slice(2);
if (args[0] === "--report") {
  const files = existsSync(REPORTS)
    ? readdirSync(REPORTS).filter(
        (f) => f.endsWith(".json") && !f.endsWith(".incremental.json") && !f.endsWith(".retry.json"),
      )
    : [];
  if (files.length === 0) {
    console.error(`mutate: no report yet (${REPORTS}/*.json): run npm run mutate first`);
    process.exit(2);
  }
  for (const f of files.sort()) {
    console.log(`\n== ${REPORTS}/${f}`);
    print(JSON.parse(readFileSync(`${REPORTS}/${f}`, "utf8")));
  }
  process.exit(0);
}
if (args[0] === "--partial") {
  // a run stopped before its end: its verdicts so far (scripts/mutate/survivors.mjs) as a report
  const files = {};
  const lines = readFileSync(args[1], "utf8").split("\n").filter(Boolean);
  for (const line of lines) {
    const m = /^(\w+) (.+?):(\d+):(\d+) (\w+): ?(.*)$/.exec(line);
    if (!m) continue;
    const [, status, file, l, c, mutatorName, replacement] = m;
    const loc = { line: Number(l), column: Number(c) };
    (files[file] ??= { mutants: [] }).mutants.push({
      status,
      mutatorName,
      replacement,
      location: { start: loc, end: loc },
    });
  }
  console.log(`${args[1]}: ${lines.length} mutants with a verdict (a run stopped before its end)`);
  print({ files });
  process.exit(0);
}
const option = (name, fallback) => {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? fallback : a.slice(name.length + 3);
};

// --exclude=test/x/y.test.ts leaves a test file out (one that fails here for reasons of its own:
// the initial run must be green)
const excluded = new Set(args.filter((a) => a.startsWith("--exclude=")).map((a) => a.slice(10)));
const folders = args.filter((a) => !a.startsWith("--"));
const targets = (folders.length > 0 ? folders : Object.keys(TESTS).filter((k) => !k.endsWith(".ts"))).map(
  folderOf,
);
const REPORT = reportOf(targets);
// --incremental: reuse the verdicts of the last run of the same targets for mutants whose code and
// tests did not change (reports/mutation/*.incremental.json)
const incremental = args.includes("--incremental");
const testFolders = [...new Set(targets.flatMap((t) => TESTS[t.key]))];
const testFiles = testFolders
  .flatMap((d) =>
    d.endsWith(".test.ts")
      ? [d]
      : readdirSync(d)
          .filter((f) => f.endsWith(".test.ts"))
          .map((f) => `${d}/${f}`),
  )
  .filter((f) => !excluded.has(f));
// --retry-timeouts: run again only the mutants of the last report that ended in a timeout (on a
// busy machine a timeout may be a long wait for the kernel lock), and write their new verdicts
// into that report
const retry = args.includes("--retry-timeouts");
const timedOut = retry ? timeoutRanges(JSON.parse(readFileSync(REPORT, "utf8"))) : [];
if (retry && timedOut.length === 0) {
  console.log(`mutate: no timeout in ${REPORT} to retry`);
  process.exit(0);
}
const RUN = retry ? REPORT.replace(/\.json$/, ".retry.json") : REPORT;
const mutate = retry
  ? timedOut
  : [
      ...targets.map((t) => t.glob),
      "!src/**/index.ts", // re-exports only
      "!src/sys/layout.ts", // attr layouts as data, checked against the kernel's BTF field by field
    ];

/**
 * Stryker mutate ranges (`file:line:column-line:column`, lines from 1, columns from 0) of the
 * mutants that timed out in a report (whose columns count from 1).
 */
function timeoutRanges(report) {
  const ranges = [];
  for (const [file, { mutants }] of Object.entries(report.files))
    for (const { status, location: l } of mutants)
      if (status === "Timeout")
        ranges.push(`${file}:${l.start.line}:${l.start.column - 1}-${l.end.line}:${l.end.column - 1}`);
  return ranges;
}

/** A mutant's identity across two runs: where it is and what it does (ids are per run). */
const mutantKey = (file, m) =>
  `${file}:${m.location.start.line}:${m.location.start.column}:${m.location.end.line}:${m.location.end.column}:${m.mutatorName}:${m.replacement ?? ""}`;

/** Writes the verdicts of the retry run over the timeouts of the report it retried. */
function mergeRetry() {
  const main = JSON.parse(readFileSync(REPORT, "utf8"));
  const again = JSON.parse(readFileSync(RUN, "utf8"));
  const verdicts = new Map();
  for (const [file, { mutants }] of Object.entries(again.files))
    for (const m of mutants) verdicts.set(mutantKey(file, m), m);
  let changed = 0;
  for (const [file, { mutants }] of Object.entries(main.files))
    for (const [i, m] of mutants.entries()) {
      const v = m.status === "Timeout" ? verdicts.get(mutantKey(file, m)) : undefined;
      if (v === undefined || v.status === "Ignored" || v.status === "Pending") continue;
      mutants[i] = { ...m, status: v.status, statusReason: v.statusReason, killedBy: v.killedBy };
      if (v.status !== "Timeout") changed++;
    }
  writeFileSync(REPORT, JSON.stringify(main));
  console.log(
    `\nretry: ${changed} of ${timedOut.length} timeouts got another verdict (written into ${REPORT})`,
  );
}

// test files that run without the kernel lock (scripts/mutate/node)
const lockFree = testFiles.filter((f) => !needsLock(f));
process.env.RAWBPF_MUTATE_NOLOCK = lockFree.join("\n");
const concurrency = Number(option("concurrency", "2"));
// a mutant's run may wait for the kernel lock while another session runs its tests (a whole
// `npm test` holds it for over a minute): where a test file needs the lock, the timeout must
// outlast that wait, or the wait counts as a kill; without the lock, 30 s (plus twice the file's
// own time) is ample on a loaded machine. --timeout=MS changes it.
const timeoutMS = Number(option("timeout", lockFree.length === testFiles.length ? "30000" : "90000"));
// the tap runner starts `node` from PATH: ours takes the kernel lock and reports crashes
process.env.RAWBPF_REAL_NODE = process.execPath;
process.env.PATH = `${join(root, "scripts/mutate")}:${process.env.PATH}`;
// scripts/mutate/node appends each long wait for the lock here (seconds, test file)
process.env.RAWBPF_MUTATE_LOCKLOG = join(root, RUN.replace(/\.json$/, ".lockwait.log"));
mkdirSync(REPORTS, { recursive: true });
// the state of the process that holds the kernel lock for a slot of test files (scripts/mutate/node)
process.env.RAWBPF_MUTATE_KEEPER = join(root, RUN.replace(/\.json$/, ".keeper"));
rmSync(process.env.RAWBPF_MUTATE_KEEPER, { recursive: true, force: true });
writeFileSync(process.env.RAWBPF_MUTATE_LOCKLOG, "");
// what the initial run's child processes added to each test file's coverage (scripts/mutate/node)
process.env.RAWBPF_MUTATE_CHILDCOV_LOG = join(root, RUN.replace(/\.json$/, ".childcov.log"));
writeFileSync(process.env.RAWBPF_MUTATE_CHILDCOV_LOG, "");
// each mutant not killed, as soon as it is tested (scripts/mutate/survivors.mjs)
process.env.RAWBPF_MUTATE_SURVIVORS = join(root, RUN.replace(/\.json$/, ".survivors.log"));
writeFileSync(process.env.RAWBPF_MUTATE_SURVIVORS, "");
// and every verdict (`--partial FILE` prints the score of a run stopped before its end)
process.env.RAWBPF_MUTATE_VERDICTS = join(root, RUN.replace(/\.json$/, ".verdicts.log"));
writeFileSync(process.env.RAWBPF_MUTATE_VERDICTS, "");

const { Stryker } = await import("@stryker-mutator/core");
const stryker = new Stryker({
  mutate,
  testRunner: "tap",
  plugins: [
    "@stryker-mutator/tap-runner",
    join(root, "scripts/mutate/ignore-messages.mjs"),
    join(root, "scripts/mutate/survivors.mjs"),
  ],
  // no mutants in the words of error messages (see scripts/mutate/ignore-messages.mjs)
  ignorers: ["messages"],
  tap: {
    testFiles,
    nodeArgs: ["-r", "{{hookFile}}", "--import", "tsx", "--test-reporter=tap", "{{testFile}}"],
    forceBail: true,
  },
  coverageAnalysis: "perTest",
  concurrency,
  // a test file's baseline is seconds; a mutant that makes a wait endless is a timeout (killed)
  timeoutMS,
  timeoutFactor: 2,
  // the initial run waits for the kernel lock between files: on a shared machine that takes a while
  dryRunTimeoutMinutes: 60,
  // only `Kind` and the like: no mutants in type-only code
  ignoreStatic: true,
  reporters: ["json", "clear-text", "progress-append-only", "survivors"],
  jsonReporter: { fileName: RUN },
  clearTextReporter: { reportMutants: false, reportTests: false, allowEmojis: false },
  tempDirName: ".stryker-tmp",
  // not copied into the sandbox: the reports (and the lock keepers' state) of runs going on at the
  // same time change while it is copied, and the build outputs are not needed
  ignorePatterns: ["/reports", "/dist", "/bench/.build", "/docs/api", "/.stryker-tmp*"],
  cleanTempDir: "always",
  incremental: incremental && !retry,
  incrementalFile: REPORT.replace(/\.json$/, ".incremental.json"),
  thresholds: { high: 90, low: GOAL, break: null },
});
console.log(
  `mutate: ${mutate.join(" ")}\ntests: ${testFiles.length} files of ${testFolders.join(" ")} (${concurrency} at a time; ${testFiles.length - lockFree.length} under the kernel lock: ${testFiles.filter((f) => !lockFree.includes(f)).join(" ") || "none"})${excluded.size ? `; left out: ${[...excluded].join(" ")}` : ""}`,
);
await stryker.runMutationTest();
if (retry) mergeRetry();
const s = print(JSON.parse(readFileSync(REPORT, "utf8")));
const waits = readFileSync(process.env.RAWBPF_MUTATE_LOCKLOG, "utf8").trim().split("\n").filter(Boolean);
const waited = waits.map((l) => Number(l.split(" ")[0]));
console.log(
  `kernel lock: ${waits.length} test runs waited over 5 s for it (longest ${Math.max(0, ...waited)} s; the timeout is ${timeoutMS / 1000} s plus twice the file's own time)`,
);
process.exitCode = s.score >= GOAL ? 0 : 1;
