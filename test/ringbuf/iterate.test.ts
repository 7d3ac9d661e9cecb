/** RingBuffer.records(): the records as an async iterable of copies, with backpressure into the ring. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BpfMap } from "../../src/map/map.js";
import { RingBuffer } from "../../src/ringbuf/index.js";
import { InputError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";
import { expectedRecord, outputProgram, readState, runTimes, stateMap } from "./programs.js";

test("records(): every record in order, as copies that outlive the loop", async (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 1 << 14 });
  using state = stateMap();
  using program = outputProgram(map, state);
  using ring = RingBuffer.open(map);
  runTimes(program, 3); // waiting before the loop starts
  const got: Uint8Array[] = [];
  for await (const record of ring.records()) {
    got.push(record);
    assert.equal(ring.listening, false, "a records() loop is not start()'s listener");
    if (got.length === 3) setImmediate(() => runTimes(program, 4)); // while the loop waits
    if (got.length === 7) break;
  }
  assert.deepEqual(
    got,
    [0, 1, 2, 3, 4, 5, 6].map((s) => expectedRecord(s)),
  );
  assert.equal(ring.delivered, 7);
  assert.equal(ring.pending, 0);
});

test("records(): past highWaterMark unread copies it stops draining, leaving the rest in the ring, and resumes", async (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 1 << 14 });
  using state = stateMap();
  using program = outputProgram(map, state);
  using ring = RingBuffer.open(map);
  runTimes(program, 10);
  const got: Uint8Array[] = [];
  let pendingAtFirst = -1;
  for await (const record of ring.records({ highWaterMark: 4 })) {
    // the first drain took 4 copies and left 6 records in the ring
    if (got.length === 0) pendingAtFirst = ring.pending;
    got.push(record);
    if (got.length === 10) break;
  }
  assert.ok(pendingAtFirst > 0, "records past the high-water mark waited in the ring");
  assert.deepEqual(
    got,
    Array.from({ length: 10 }, (_, s) => expectedRecord(s)),
  );
  assert.equal(readState(state).failed, 0);
});

test("records(): an abort throws the signal's reason; close ends the loop; bad use is an InputError", async (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 1 << 14 });
  using state = stateMap();
  using program = outputProgram(map, state);
  const ring = RingBuffer.open(map);
  const controller = new AbortController();
  setImmediate(() => controller.abort(new Error("enough")));
  await assert.rejects(
    async () => {
      for await (const _ of ring.records({ signal: controller.signal })) assert.fail("nothing was produced");
    },
    { message: "enough" },
  );
  assert.equal(ring.listening, false);

  const seen: Uint8Array[] = [];
  setImmediate(() => runTimes(program, 1));
  for await (const record of ring.records()) {
    seen.push(record);
    ring.close(); // the loop ends: no record is awaited from a closed ring
  }
  assert.deepEqual(seen, [expectedRecord(0)]);

  using other = RingBuffer.open(map);
  other.start(() => {});
  await assert.rejects(async () => {
    for await (const _ of other.records()) break;
  }, InputError);
  other.stop();
  await assert.rejects(async () => {
    for await (const _ of other.records({ highWaterMark: 0 })) break;
  }, InputError);
});
