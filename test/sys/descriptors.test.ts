/**
 * Descriptor pressure: objects dropped without close() are closed by a collection when the process
 * runs out of descriptors, instead of ending it with EMFILE; where they are still referenced, EMFILE
 * says the process ran out, its limit, and how many rawbpf objects hold one.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { errnoHint } from "../../src/sys/errno.js";
import { needsRoot } from "../support/privilege.js";

const LIMIT = 200;

/** Runs `code` (an ES module, through tsx) in a child whose descriptor limit is LIMIT. */
function underLimit(code: string): {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
} {
  const r = spawnSync(
    "sh",
    [
      "-c",
      `ulimit -n ${LIMIT} && exec "$0" --import tsx --input-type=module -e "$1"`,
      process.execPath,
      code,
    ],
    { encoding: "utf8", timeout: 120_000, cwd: fileURLToPath(new URL("../..", import.meta.url)) },
  );
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const mapModule = JSON.stringify(fileURLToPath(new URL("../../src/map/map.ts", import.meta.url)));

test("a loop that forgets close() runs past the descriptor limit: a collection closes what is garbage", (t) => {
  if (!needsRoot(t)) return;
  const r = underLimit(`
import { readdirSync } from "node:fs";
import { BpfMap } from ${mapModule};
const n = ${LIMIT * 5};
for (let i = 0; i < n; i++) {
  const m = BpfMap.create({ type: "array", keySize: 4, valueSize: 4, maxEntries: 1, name: "fds_leak" });
  m.set(new Uint8Array(4), new Uint8Array(4));
}
console.log("created " + n + ", open now " + readdirSync("/proc/self/fd").length);
`);
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 0, `the loop ended with an error: ${r.stderr}`);
  const m = /^created (\d+), open now (\d+)$/.exec(r.stdout.trim());
  assert.ok(m, `unexpected output: ${r.stdout}`);
  assert.equal(Number(m[1]), LIMIT * 5);
  assert.ok(Number(m[2]) <= LIMIT, `open descriptors ${m[2]} within the limit ${LIMIT}`);
});

test("objects still referenced at the limit: EMFILE says the process ran out, the limit, and what rawbpf holds", (t) => {
  if (!needsRoot(t)) return;
  const r = underLimit(`
import { BpfMap } from ${mapModule};
const kept = [];
try {
  for (;;) kept.push(BpfMap.create({ type: "array", keySize: 4, valueSize: 4, maxEntries: 1 }));
} catch (e) {
  console.log(JSON.stringify({ kept: kept.length, name: e.constructor.name, errnoName: e.errnoName, message: e.message }));
}
`);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim()) as {
    kept: number;
    name: string;
    errnoName: string;
    message: string;
  };
  assert.equal(out.name, "BpfError");
  assert.equal(out.errnoName, "EMFILE");
  assert.ok(out.kept > LIMIT / 2 && out.kept < LIMIT, `kept ${out.kept} maps before the limit`);
  assert.match(out.message, /this process ran out of file descriptors \(limit 200: ulimit -n\)/);
  assert.match(out.message, new RegExp(`rawbpf objects hold ${out.kept} of them`));
  assert.match(out.message, /close\(\) or declare them with `using`/);
  assert.doesNotMatch(out.message, /the kernel refused the request/);
  assert.match(errnoHint(24), /ran out of file descriptors.*ulimit -n/);
  assert.match(errnoHint(23), /system ran out of file descriptors/);
});
