/**
 * `rawbpf compile` exits as soon as its output is written (bin/rawbpf.js skips the heap's
 * teardown), but never before: its whole output reaches a reader that drains the pipe late,
 * through a blocking pipe and through one the parent left non-blocking (where Node queues what the
 * pipe cannot take and must stay to write it). The reference is the same output written with -o.
 * Needs the build (`npm run build`); made here from tsc's output when it is missing.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { largeSwitch } from "../lang/large-program.js";
import { ensureBuilt } from "../support/built.js";

const root = new URL("../../", import.meta.url).pathname;
const bin = join(root, "bin", "rawbpf.js");

test("rawbpf compile's output through a pipe drained late is whole, blocking or not", () => {
  ensureBuilt(root);
  const work = mkdtempSync(join(tmpdir(), "rawbpf-compile-exit-"));
  try {
    const file = join(work, "big.ts");
    writeFileSync(file, largeSwitch(400));
    const reference = join(work, "big.s");
    const made = spawnSync(process.execPath, [bin, "compile", file, "--format", "s", "-o", reference], {
      encoding: "utf8",
    });
    assert.equal(made.status, 0, made.stderr);
    const expected = readFileSync(reference);
    assert.ok(expected.length > 4 * 65536, `${expected.length} bytes: more than a pipe holds`);
    // python3 makes the pipe (non-blocking on the writer's side, or not), starts the command on it,
    // waits before reading, then reads to the end
    const script = `
import fcntl, os, subprocess, sys, time
r, w = os.pipe()
if sys.argv[1] == "nonblocking":
    fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
p = subprocess.Popen([sys.argv[2], sys.argv[3], "compile", sys.argv[4], "--format", "s"], stdout=w)
os.close(w)
time.sleep(0.5)
data = b""
while True:
    chunk = os.read(r, 65536)
    if not chunk:
        break
    data += chunk
sys.stdout.buffer.write(data)
sys.exit(p.wait())
`;
    for (const mode of ["blocking", "nonblocking"]) {
      const r = spawnSync("python3", ["-c", script, mode, process.execPath, bin, file], {
        maxBuffer: 1 << 26,
      });
      assert.equal(r.status, 0, `${mode}: ${r.stderr}`);
      assert.equal(r.stdout.length, expected.length, `${mode}: all ${expected.length} bytes arrived`);
      assert.ok(r.stdout.equals(expected), `${mode}: the output is the -o file's`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
