/**
 * No public API of the ring and perf readers may kill the process: writing into a record,
 * copying into it with the library's own BpfMap.getInto, and touching a view kept past close()
 * were SIGSEGV and SIGBUS (the records were views of the kernel's read-only or shared pages).
 * Each case runs in a child process, which must print what it read back and exit 0, not die of a
 * signal.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { type ChildResult, runModule } from "../support/child.js";
import { needsRoot } from "../support/privilege.js";

const at = (p: string) => JSON.stringify(fileURLToPath(new URL(p, import.meta.url)));

/** Runs `body` with the readers, BpfMap and the test programs imported. */
function child(body: string): ChildResult {
  return runModule(`
import { BpfMap } from ${at("../../src/map/map.ts")};
import { RingBuffer } from ${at("../../src/ringbuf/index.ts")};
import { PerfBuffer } from ${at("../../src/perf/index.ts")};
import { outputProgram, runTimes, stateMap } from ${at("./programs.ts")};
import { perfOutputProgram } from ${at("../perf/programs.ts")};
${body}
`);
}

/** Asserts the child exited by itself, with status 0 and exactly `lines` on stdout. */
function survived(r: ChildResult, lines: string[]): void {
  assert.equal(r.signal, null, `the child was killed by ${r.signal}; it printed:\n${r.stdout}${r.stderr}`);
  assert.equal(r.status, 0, `the child failed:\n${r.stdout}${r.stderr}`);
  assert.deepEqual(r.stdout.trimEnd().split("\n"), lines);
}

// each record written by outputProgram starts with the u64 (seq << 4): byte 0 is seq * 16
const RING = `
const map = BpfMap.create({ type: "ringbuf", maxEntries: 4096 });
const state = stateMap();
const program = outputProgram(map, state);
const array = BpfMap.create({ type: "array", keySize: 4, valueSize: 8, maxEntries: 1 });
array.set(new Uint8Array(4), new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2]));
const ring = RingBuffer.open(map);
runTimes(program, 6);
let kept, keptView, second = [];
ring.consume((r) => {
  const seq = r.bytes[r.offset] >> 4;
  if (seq === 1) { r.bytes[r.offset] = 0xaa; console.log("write", r.bytes[r.offset]); }
  if (seq === 2) { r.subarray().fill(0xbb); console.log("fill", r.subarray().every((b) => b === 0xbb)); }
  if (seq === 3 && r.length >= 8) {
    array.getInto(new Uint8Array(4), r.subarray().subarray(0, 8));
    console.log("getInto", r.bytes[r.offset], r.bytes[r.offset + 7]);
  }
  kept = r.bytes; keptView = r.view;
});
ring.close();
kept[0] = 1; keptView.setUint32(4, 7, true);
console.log("afterClose", kept[0], keptView.getUint32(4, true));
`;

test("writing into a RingBuffer record, or into a view of it kept past close(), is ordinary memory", (t) => {
  if (!needsRoot(t)) return;
  survived(child(RING), ["write 170", "fill true", "getInto 9 2", "afterClose 1 7"]);
});

const PERF = `
const events = BpfMap.create({ type: "perf_event_array", keySize: 4, valueSize: 4, maxEntries: 64 });
const state = stateMap();
const program = perfOutputProgram(events, state);
const perf = PerfBuffer.open(events);
runTimes(program, 3);
let kept;
perf.consume((r) => {
  const seq = r.bytes[r.offset] >> 4;
  if (seq === 1) { r.bytes[r.offset] = 0xaa; console.log("write", r.bytes[r.offset]); }
  if (seq === 2) { r.subarray().fill(0xbb); console.log("fill", r.subarray().every((b) => b === 0xbb)); }
  kept = r.subarray();
});
perf.close();
kept[0] = 1;
console.log("afterClose", kept[0]);
`;

test("writing into a PerfBuffer sample, or into a view of it kept past close(), is ordinary memory", (t) => {
  if (!needsRoot(t)) return;
  survived(child(PERF), ["write 170", "fill true", "afterClose 1"]);
});
