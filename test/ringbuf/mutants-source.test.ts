/**
 * A RingBuffer opened from a source that is not a BpfMap, found by mutation testing (npm run
 * mutate -- src/ringbuf): `maxEntries` is optional in RingBufferSource, and the reader takes the
 * size the kernel reports for the descriptor.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BpfMap } from "../../src/map/map.js";
import { RingBuffer } from "../../src/ringbuf/index.js";
import { needsRoot } from "../support/privilege.js";
import { expectedRecord, outputProgram, readState, runTimes, stateMap } from "./programs.js";

test("a source with a type and a descriptor only: the size is the kernel's, records come through", (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 8192, name: "rb_src" });
  using state = stateMap();
  using program = outputProgram(map, state);
  using ring = RingBuffer.open({ type: "ringbuf", fd: map.fd });
  assert.equal(ring.size, map.info().maxEntries, "the size the kernel reports");
  runTimes(program, 5);
  assert.equal(readState(state).failed, 0, "every output succeeded");
  const got: Uint8Array[] = [];
  assert.equal(
    ring.consume((r) => {
      got.push(r.subarray().slice());
    }),
    5,
  );
  assert.deepEqual(
    got,
    [0, 1, 2, 3, 4].map((seq) => expectedRecord(seq)),
  );
});
