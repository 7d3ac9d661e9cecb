/**
 * Descriptor pressure for readers: ring and perf buffers opened and dropped without close() in one
 * synchronous loop run past the descriptor limit, because a collection under EMFILE closes the
 * descriptors of readers that are garbage (their own registries run, and nothing made in the
 * constructor keeps them alive until the loop's job ends). Each case runs in a child under
 * `ulimit -n 200`.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { needsRoot } from "../support/privilege.js";

const LIMIT = 200;
const at = (p: string) => JSON.stringify(fileURLToPath(new URL(p, import.meta.url)));

function underLimit(code: string) {
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

function loop(body: string) {
  return underLimit(`
import { readdirSync } from "node:fs";
import { BpfMap } from ${at("../../src/map/map.ts")};
import { RingBuffer } from ${at("../../src/ringbuf/index.ts")};
import { PerfBuffer } from ${at("../../src/perf/index.ts")};
const n = ${LIMIT * 5};
let i = 0;
try {
  for (; i < n; i++) {
    ${body}
  }
  console.log("created " + n + ", open now " + readdirSync("/proc/self/fd").length);
} catch (e) {
  console.log("iteration " + i + ": " + e.message);
}
`);
}

function ranPast(r: ReturnType<typeof underLimit>): void {
  assert.equal(r.signal, null, `the child was killed by ${r.signal}: ${r.stderr}`);
  assert.equal(r.status, 0, `the child failed: ${r.stdout}${r.stderr}`);
  const m = /^created (\d+), open now (\d+)$/.exec(r.stdout.trim());
  assert.ok(m, `the loop stopped: ${r.stdout}${r.stderr}`);
  assert.equal(Number(m[1]), LIMIT * 5);
  assert.ok(Number(m[2]) <= LIMIT, `open descriptors ${m[2]} within the limit ${LIMIT}`);
}

test("ring buffers created and dropped without close() in a loop run past the descriptor limit", (t) => {
  if (!needsRoot(t)) return;
  ranPast(
    loop(`
    const m = BpfMap.create({ type: "ringbuf", maxEntries: 4096, name: "rel_leak" });
    RingBuffer.open(m).consume(() => {});`),
  );
});

test("perf buffers created and dropped without close() in a loop run past the descriptor limit", (t) => {
  if (!needsRoot(t)) return;
  ranPast(
    loop(`
    const m = BpfMap.create({ type: "perf_event_array", keySize: 4, valueSize: 4, maxEntries: 64, name: "perf_leak" });
    PerfBuffer.open(m, { pageCount: 1 }).consume(() => {});`),
  );
});
