/**
 * The sampling profiler end to end: a C program compiled here spins in `rawbpf_spin` and calls
 * getppid(2) in `rawbpf_sys`; Profiler (and `rawbpf profile`) on its pid must see those functions
 * by name (the compiler named them: the oracle), called from `main`, with the kernel's syscall
 * path under `rawbpf_sys`, and nothing of other processes.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { foldStacks, Profiler, type ProfileStack } from "../../src/symbolize/index.js";
import { settledFdCount } from "../support/fds.js";
import { needsRoot } from "../support/privilege.js";

const SOURCE = `
#include <unistd.h>
__attribute__((noinline)) long rawbpf_spin(long n) { volatile long x = 0; for (long i = 0; i < n; i++) x += i; return x; }
__attribute__((noinline)) void rawbpf_sys(void) { for (int i = 0; i < 3000; i++) getppid(); }
int main(void) { for (;;) { rawbpf_spin(3000000); rawbpf_sys(); } }
`;

let dir: string;
let child: ReturnType<typeof spawn> | undefined;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "rawbpf-profile-"));
  writeFileSync(join(dir, "spinner.c"), SOURCE);
  execFileSync("cc", ["-O1", "-fno-omit-frame-pointer", "-o", join(dir, "spinner"), join(dir, "spinner.c")]);
});

after(() => {
  child?.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

function startSpinner(): number {
  child ??= spawn(join(dir, "spinner"), [], { stdio: "ignore" });
  return child.pid as number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("Profiler sees the spinning process's functions by name, user then kernel frames", async (t) => {
  if (!needsRoot(t)) return;
  const pid = startSpinner();
  const fds = settledFdCount("anon_inode:");
  let stacks: ProfileStack[] = [];
  {
    using profiler = Profiler.start({ pid, frequency: 499 });
    assert.equal(profiler.link?.links.length, profiler.link?.info().cpus.length, "a link per CPU");
    // the spinner runs when the machine lets it: wait for enough samples, up to 20 s
    for (let waited = 0; waited < 20_000; waited += 250) {
      await sleep(250);
      stacks = profiler.stacks();
      const n = stacks.reduce((a, s) => a + s.count, 0);
      const spun = stacks.some((s) => s.user.at(-1) === "rawbpf_spin");
      const sys = stacks.some((s) => s.user.includes("main") && s.kernel.some((f) => /getppid/.test(f)));
      if (n >= 50 && spun && sys) break;
    }
    profiler.stop();
    assert.equal(profiler.link, undefined, "stopped");
  }
  // at most as many: the test runner may close one of its own meanwhile
  assert.ok(
    settledFdCount("anon_inode:") <= fds,
    `close() released the maps, the program and every link (${settledFdCount("anon_inode:")} open, ${fds} before)`,
  );
  assert.ok(stacks.length > 0, "samples");
  for (const s of stacks) {
    assert.equal(s.pid, pid, `only the profiled process: ${JSON.stringify(s)}`);
    assert.equal(s.command, "spinner");
  }
  const spin = stacks.find((s) => s.user.at(-1) === "rawbpf_spin");
  assert.ok(spin, `a stack ending in rawbpf_spin: ${JSON.stringify(stacks.slice(0, 5))}`);
  const at = spin.user.indexOf("rawbpf_spin");
  assert.equal(spin.user[at - 1], "main", `rawbpf_spin is called from main: ${spin.user.join(";")}`);
  // a sample inside getppid(2): the kernel's frames under the user stack (libc's wrapper has no
  // frame pointer, so rawbpf_sys itself may be skipped by the kernel's unwinder; main is there)
  const sys = stacks.find((s) => s.user.includes("main") && s.kernel.some((f) => /getppid/.test(f)));
  assert.ok(
    sys,
    `a stack in the kernel's getppid under main: ${JSON.stringify(stacks.filter((s) => s.kernel.length > 0).slice(0, 3))}`,
  );
  assert.ok(
    sys.kernel.some((f) => /do_syscall_64|entry_SYSCALL/.test(f)),
    `the syscall entry in the kernel frames: ${sys.kernel.join(";")}`,
  );
  const folded = foldStacks(stacks);
  assert.match(folded, /^spinner;(?:[^;\n]+;)*main;rawbpf_spin \d+$/m, folded.slice(0, 2000));
  const total = folded
    .trim()
    .split("\n")
    .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
  assert.equal(
    total,
    stacks.reduce((a, s) => a + s.count, 0),
    "the folded counts add up to the samples",
  );
});

test("rawbpf profile --pid: folded (default), top and json", async (t) => {
  if (!needsRoot(t)) return;
  const pid = String(startSpinner());
  const folded = captureIo();
  assert.equal(
    await main(["profile", "--pid", pid, "--duration", "1.5", "--freq", "499"], folded),
    0,
    folded.err,
  );
  const lines = folded.out.trim().split("\n");
  for (const l of lines)
    assert.match(l, /^spinner(;[^;\n]+)* \d+$/, "folded: frames joined by ';', then a count");
  assert.ok(
    lines.some((l) => l.includes("rawbpf_spin")),
    folded.out.slice(0, 1000),
  );

  const json = captureIo();
  assert.equal(
    await main(["profile", "--pid", pid, "--duration", "1", "--format", "json"], json),
    0,
    json.err,
  );
  const stacks = JSON.parse(json.out) as ProfileStack[];
  assert.ok(Array.isArray(stacks) && stacks.every((s) => String(s.pid) === pid && s.count > 0));

  const top = captureIo();
  assert.equal(
    await main(["profile", "--pid", pid, "--duration", "1", "--format", "top", "--top", "3"], top),
    0,
  );
  const rows = top.out.trim().split("\n");
  assert.match(rows[0] as string, /^\d+ samples$/);
  assert.ok(rows.length <= 5, top.out);

  const bad = captureIo();
  assert.notEqual(await main(["profile", "--format", "svg"], bad), 0);
  assert.match(bad.err, /--format is folded, top or json/);
  const badPid = captureIo();
  assert.notEqual(await main(["profile", "--pid", "x"], badPid), 0);
  assert.match(badPid.err, /--pid must be a positive integer/);
});

test("JIT frames are named from /tmp/perf-PID.map: a node --perf-basic-prof function by its JavaScript name", async (t) => {
  if (!needsRoot(t)) return;
  const js = spawn(
    process.execPath,
    [
      "--perf-basic-prof",
      "-e",
      "function rawbpfHot(n) { let x = 0; for (let i = 0; i < n; i++) x += Math.sqrt(i); return x }\nfor (;;) rawbpfHot(1e6)",
    ],
    // V8 may write an isolate log beside the map: in the temporary directory, not the repository
    { stdio: "ignore", cwd: dir },
  );
  const pid = js.pid as number;
  try {
    using profiler = Profiler.start({ pid, frequency: 499 });
    let named: ProfileStack | undefined;
    for (let waited = 0; waited < 20_000 && !named; waited += 250) {
      await sleep(250);
      named = profiler.stacks().find((s) => s.user.some((f) => /rawbpfHot/.test(f)));
    }
    // the oracle: the name node itself wrote for that code
    const map = readFileSync(`/tmp/perf-${pid}.map`, "utf8");
    assert.ok(
      named,
      `a stack with rawbpfHot (node wrote ${map
        .split("\n")
        .filter((l) => l.includes("rawbpfHot"))
        .join(" | ")})`,
    );
    const frame = named.user.find((f) => /rawbpfHot/.test(f)) as string;
    assert.ok(
      map.split("\n").some((l) => l.endsWith(` ${frame}`)),
      `${frame} is a line of /tmp/perf-${pid}.map`,
    );
  } finally {
    js.kill("SIGKILL");
    await once(js, "exit");
    rmSync(`/tmp/perf-${pid}.map`, { force: true });
  }
});
