/**
 * The record buffer a RingBuffer reuses, found by mutation testing (npm run mutate --
 * src/ringbuf): it is one buffer for every record while they fit (no allocation per record), and
 * it grows for a record just past its capacity (4097 to 4099 bytes: a copy by whole words writes
 * up to 3 bytes past the record's end).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BpfMap } from "../../src/map/map.js";
import { RingBuffer } from "../../src/ringbuf/index.js";
import { needsRoot } from "../support/privilege.js";
import { bigRecordProgram, readState, runTimes, stateMap } from "./programs.js";

test("a record of 4097 or 4099 bytes, the first past the buffer's capacity, comes back whole", (t) => {
  if (!needsRoot(t)) return;
  for (const size of [4096, 4097, 4099]) {
    using map = BpfMap.create({ type: "ringbuf", maxEntries: 1 << 14 });
    using state = stateMap();
    using program = bigRecordProgram(map, state, size);
    using ring = RingBuffer.open(map); // a fresh reader: its buffer has its first capacity
    runTimes(program, 2);
    assert.equal(readState(state).failed, 0, `${size}: both reservations succeeded`);
    const got: [number, bigint][] = [];
    const n = ring.consume((r) => {
      assert.ok(r.bytes.length >= r.offset + r.length, `${size}: the buffer holds the record`);
      got.push([r.length, r.view.getBigUint64(r.offset, true)]);
    });
    assert.equal(n, 2, `${size}: records delivered`);
    assert.deepEqual(got, [
      [size, 0n],
      [size, 1n],
    ]);
  }
});

test("records that fit share one buffer: no allocation per record", (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 1 << 14 });
  using state = stateMap();
  using small = bigRecordProgram(map, state, 4093);
  using ring = RingBuffer.open(map);
  runTimes(small, 3);
  const buffers = new Set<ArrayBufferLike>();
  assert.equal(
    ring.consume((r) => buffers.add(r.bytes.buffer)),
    3,
  );
  assert.equal(buffers.size, 1, "records of up to the capacity less 3 bytes use the first buffer");
});
