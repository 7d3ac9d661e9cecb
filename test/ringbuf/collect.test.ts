/**
 * Readers started and then dropped without close() are collectable: the event loop's poll
 * handles hold them weakly, so the garbage collector closes their descriptors and unmaps their
 * rings (and a perf buffer's events leave the map). A reader that keeps the process alive while
 * it listens (keepAlive, the default) is kept alive with it, like a listening server. Each case
 * runs in a child process that counts its own /proc/self/fd and /proc/self/maps entries.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { type ChildResult, runModule } from "../support/child.js";
import { needsRoot } from "../support/privilege.js";

const at = (p: string) => JSON.stringify(fileURLToPath(new URL(p, import.meta.url)));

function child(body: string): ChildResult {
  return runModule(`
import { BpfMap } from ${at("../../src/map/map.ts")};
import { RingBuffer } from ${at("../../src/ringbuf/index.ts")};
import { PerfBuffer } from ${at("../../src/perf/index.ts")};
import { outputProgram, readState, runTimes, stateMap } from ${at("./programs.ts")};
import { perfOutputProgram } from ${at("../perf/programs.ts")};
import { openFdCount } from ${at("../support/fds.ts")};
import { gc, mappingsOf } from ${at("../support/mappings.ts")};
const turn = () => new Promise((resolve) => setImmediate(resolve));
/** Collects garbage (finalizers run in a later task) until done() or 100 rounds. */
async function collect(done) {
  for (let i = 0; i < 100 && !done(); i++) { gc(); await turn(); }
}
${body}
`);
}

function exitedWith(r: ChildResult, lines: string[]): void {
  assert.equal(r.signal, null, `the child was killed by ${r.signal}:\n${r.stdout}${r.stderr}`);
  assert.equal(r.status, 0, `the child failed:\n${r.stdout}${r.stderr}`);
  assert.deepEqual(r.stdout.trimEnd().split("\n"), lines);
}

test("ring buffers started and dropped without close() are collected; a keepAlive listener is kept", (t) => {
  if (!needsRoot(t)) return;
  const r = child(`
const map = BpfMap.create({ type: "ringbuf", maxEntries: 1 << 14 });
const state = stateMap();
const program = outputProgram(map, state);
RingBuffer.open(map).close();
await collect(() => false);
const fds = openFdCount("anon_inode:");
const maps = mappingsOf("bpf-map");
const N = 20;
(() => {
  for (let i = 0; i < N; i++) {
    const ring = RingBuffer.open(map);
    if (i % 2 === 0) ring.start(() => {}, { keepAlive: false });
    else { ring.start(() => {}, { keepAlive: false }); ring.consume(() => {}); }
  }
})();
console.log("dropped", openFdCount("anon_inode:") - fds, mappingsOf("bpf-map") - maps);
await collect(() => openFdCount("anon_inode:") === fds && mappingsOf("bpf-map") === maps);
console.log("collected", openFdCount("anon_inode:") - fds, mappingsOf("bpf-map") - maps);
// a listener that keeps the process alive is kept alive by it, through collections
(() => {
  RingBuffer.open(map).start((rec) => {
    console.log("delivered", rec.length);
    process.exit(0);
  });
})();
for (let i = 0; i < 10; i++) { gc(); await turn(); }
runTimes(program, 1);
`);
  exitedWith(r, ["dropped 20 40", "collected 0 0", "delivered 1"]);
});

test("perf buffers started and dropped without close() are collected, and their events leave the map", (t) => {
  if (!needsRoot(t)) return;
  const r = child(`
const events = BpfMap.create({ type: "perf_event_array", keySize: 4, valueSize: 4, maxEntries: 64 });
const state = stateMap();
const program = perfOutputProgram(events, state);
PerfBuffer.open(events).close();
await collect(() => false);
const fds = openFdCount("anon_inode:");
const maps = mappingsOf("perf_event");
const N = 10;
let cpus = 0;
(() => {
  for (let i = 0; i < N; i++) {
    const perf = PerfBuffer.open(events);
    cpus = perf.cpus.length;
    perf.start(() => {}, { keepAlive: false });
  }
})();
const perReader = (d) => d / N;
console.log("dropped", perReader(openFdCount("anon_inode:") - fds) === 1 + cpus, perReader(mappingsOf("perf_event") - maps) === cpus);
await collect(() => openFdCount("anon_inode:") === fds && mappingsOf("perf_event") === maps);
console.log("collected", openFdCount("anon_inode:") - fds, mappingsOf("perf_event") - maps);
// the last reader's events were deleted from the map: the program's output finds none
runTimes(program, 2);
console.log("outputs failed", readState(state).failed);
`);
  exitedWith(r, ["dropped true true", "collected 0 0", "outputs failed 2"]);
});
