/**
 * The verifier gives up with EAGAIN when a signal is pending for the loading thread: under a
 * sampling profiler (node --cpu-prof sends SIGPROF every interval) loads failed at random. A load
 * is asked again, as libbpf does; this child loads a small program 50 times under a profiler
 * sampling every 200 µs (without the retry, 6 to 17 of 50 failed here).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { needsRoot } from "../support/privilege.js";

const SRC = new URL("../../src/", import.meta.url).href;

test("Program.load under a sampling profiler: loads the verifier stopped for a signal (EAGAIN) are asked again; one it can never finish says why", (t) => {
  if (!needsRoot(t)) return;
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-prof-"));
  try {
    const r = spawnSync(
      process.execPath,
      [
        "--cpu-prof",
        "--cpu-prof-dir",
        dir,
        "--cpu-prof-interval",
        "200",
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        `
        const { Program } = await import("${SRC}program/program.ts");
        const { asm } = await import("${SRC}isa/template.ts");
        const failed = [];
        for (let i = 0; i < 50; i++) {
          try {
            Program.load({ type: "socket_filter", instructions: asm\`
              r1 = 0
              r2 = 0
            loop:
              r2 += r1
              r1 += 1
              if r1 < 10 goto loop
              r0 = 0
              exit\` }).close();
          } catch (e) { failed.push(e.errnoName + " " + e.message); }
        }
        // a loop the verifier walks for tens of ms: a signal comes every time, and the retries run out
        let long = null;
        try {
          Program.load({ type: "socket_filter", instructions: asm\`
              r1 = 0
            loop:
              r1 += 1
              if r1 < 100000 goto loop
              r0 = 0
              exit\` }).close();
        } catch (e) { long = { name: e.name, errnoName: e.errnoName, message: e.message }; }
        console.log(JSON.stringify({ failed, long }));
        `,
      ],
      { encoding: "utf8", timeout: 120_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim());
    assert.deepEqual(out.failed, [], "every load succeeded");
    // the retries' end: a BpfError that says what happened, not a verifier rejection quoting the
    // partial log
    assert.equal(out.long?.name, "BpfError", JSON.stringify(out.long));
    assert.equal(out.long.errnoName, "EAGAIN");
    assert.match(out.long.message, /signals interrupted the verifier 6 times in a row/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
