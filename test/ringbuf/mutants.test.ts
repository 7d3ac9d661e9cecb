/**
 * RingBuffer paths that the other ring buffer tests never reach, found by mutation testing
 * (npm run mutate -- src/ringbuf): records the program discarded, met by a records() loop (which
 * takes one record at a time, unlike consume()).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BpfMap } from "../../src/map/map.js";
import { RingBuffer } from "../../src/ringbuf/index.js";
import { needsRoot } from "../support/privilege.js";
import { readState, reserveProgram, runTimes, stateMap } from "./programs.js";

test("records(): discarded records are skipped and counted, the submitted ones come in order", async (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 8192 });
  using state = stateMap();
  // the program discards record number seq when seq % 3 == 2 and submits the others
  using program = reserveProgram(map, state);
  using ring = RingBuffer.open(map);
  runTimes(program, 30);
  assert.equal(readState(state).failed, 0, "every reservation succeeded");
  const got: [bigint, bigint][] = [];
  for await (const record of ring.records()) {
    assert.equal(record.length, 16, `record ${got.length}: length`);
    const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
    got.push([view.getBigUint64(0, true), view.getBigUint64(8, true)]);
    if (got.length === 20) break;
  }
  const kept = [...Array(30).keys()].filter((s) => s % 3 !== 2).map((s) => [BigInt(s), BigInt(s * 3)]);
  assert.deepEqual(got, kept);
  assert.equal(ring.delivered, 20);
  // seq 2, 5 ... 26 were discarded before the 20th kept record (seq 28); seq 29, discarded too,
  // is met only when a loop asks for more, and this one left after seq 28
  assert.equal(ring.discarded, 9, "the discarded records before the last one taken");
  // a consume() after the loop finds only the last discarded record (seq 29): nothing delivered
  assert.equal(
    ring.consume(() => assert.fail("only a discarded record is left")),
    0,
  );
  assert.equal(ring.discarded, 10);
  assert.equal(ring.pending, 0, "discarded records are consumed too");
});
