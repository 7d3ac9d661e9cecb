/** RingBuffer.records(): the records as an async iterable of copies, taken from the ring one at a time. */
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

test("records(): leaving the loop by break or abort loses nothing and counts only what was yielded", async (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 1 << 16 });
  using state = stateMap();
  using program = outputProgram(map, state);
  using ring = RingBuffer.open(map);
  const produced = 500;
  runTimes(program, produced);
  assert.equal(readState(state).failed, 0);
  const got: Uint8Array[] = [];
  // break after 10 (highWaterMark is accepted and has no effect: records wait in the ring)
  for await (const record of ring.records({ highWaterMark: 4 })) {
    got.push(record);
    if (got.length === 10) break;
  }
  assert.equal(ring.delivered, 10, "only the yielded records count as delivered");
  // abort after 10 more
  const controller = new AbortController();
  await assert.rejects(async () => {
    for await (const record of ring.records({ signal: controller.signal })) {
      got.push(record);
      if (got.length === 20) controller.abort(new Error("enough"));
    }
  }, /enough/);
  assert.equal(ring.delivered, 20);
  // every other record is still in the ring, in order: produced = yielded + still in the ring
  const rest: Uint8Array[] = [];
  ring.consume((r) => rest.push(r.copy()));
  assert.equal(got.length + rest.length, produced, `yielded ${got.length}, left ${rest.length}`);
  assert.deepEqual(
    [...got, ...rest],
    Array.from({ length: produced }, (_, s) => expectedRecord(s)),
  );
  assert.equal(ring.delivered, produced);
});

test("records(): start() while the loop waits is an InputError, and the loop keeps getting the records", async (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 1 << 14 });
  using state = stateMap();
  using program = outputProgram(map, state);
  using ring = RingBuffer.open(map);
  const got: Uint8Array[] = [];
  let refused: unknown;
  setImmediate(() => {
    try {
      ring.start(() => assert.fail("start() took a record from the loop"), { keepAlive: false });
    } catch (e) {
      refused = e;
    }
    runTimes(program, 3);
  });
  for await (const record of ring.records()) {
    got.push(record);
    if (got.length === 3) break;
  }
  assert.ok(refused instanceof InputError, `start() was refused: ${String(refused)}`);
  assert.match(String(refused), /records\(\) loop/);
  assert.deepEqual(
    got,
    [0, 1, 2].map((s) => expectedRecord(s)),
  );
  // the loop is over: start() is accepted again
  ring.start(() => {}, { keepAlive: false });
  ring.stop();
});

test("records(): a signal that is not an AbortSignal, or a bad highWaterMark, is an InputError naming the option", async (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 4096 });
  using ring = RingBuffer.open(map);
  await assert.rejects(
    () => ring.records({ signal: {} as AbortSignal }).next(),
    (e: Error) => e instanceof InputError && /signal option must be an AbortSignal/.test(e.message),
  );
  await assert.rejects(
    () => ring.records({ highWaterMark: "8" as unknown as number }).next(),
    (e: Error) => e instanceof InputError && /highWaterMark/.test(e.message),
  );
  await assert.rejects(() => ring.records(null as never).next(), InputError);
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
