/**
 * RingBuffer.consume against the kernel: records written by programs run with BPF_PROG_TEST_RUN
 * (the kernel has written them when the run returns) come out whole, in order, across the end
 * of the ring, with discarded records skipped and counted, and a full ring's losses visible in
 * the program's own failure count.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BpfMap } from "../../src/map/map.js";
import { RingBuffer, type RingRecord } from "../../src/ringbuf/index.js";
import { needsRoot } from "../support/privilege.js";
import {
  bigRecordProgram,
  expectedRecord,
  outputProgram,
  readPositions,
  readState,
  reserveProgram,
  resetState,
  runTimes,
  stateMap,
} from "./programs.js";

/** Drains `ring` and returns copies of the records, checking each record's alignment. */
function drain(ring: RingBuffer): Uint8Array[] {
  const out: Uint8Array[] = [];
  const n = ring.consume((r: RingRecord) => {
    assert.equal(r.offset % 8, 0, "records start 8-byte aligned");
    out.push(r.copy());
  });
  assert.equal(n, out.length);
  return out;
}

test("records of different sizes come out whole and in order, over many test runs", (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 1 << 16, name: "rb_sizes" });
  using state = stateMap();
  using program = outputProgram(map, state);
  using ring = RingBuffer.open(map);
  assert.equal(ring.size, 1 << 16);
  assert.equal(
    ring.consume(() => assert.fail("an empty ring has no records")),
    0,
  );
  // one run at a time, then many runs in one test run
  for (let i = 0; i < 20; i++) runTimes(program, 1);
  runTimes(program, 700);
  assert.ok(ring.pending > 0);
  const got = drain(ring);
  assert.equal(got.length, 720);
  const sizes = new Set<number>();
  for (let seq = 0; seq < got.length; seq++) {
    assert.deepEqual(got[seq], expectedRecord(seq), `record ${seq}`);
    sizes.add(got[seq]!.length);
  }
  assert.deepEqual(
    [...sizes].sort((a, b) => a - b),
    [1, 6, 11, 16, 21, 26, 31],
  );
  assert.equal(ring.pending, 0);
  assert.equal(ring.delivered, 720);
  assert.equal(ring.discarded, 0);
  assert.deepEqual(readState(state), { seq: 720, failed: 0 });
  // the records handed over: a zero-copy subarray is the same bytes as the copy
  runTimes(program, 3);
  const views: string[] = [];
  ring.consume((r) => views.push(Buffer.from(r.subarray()).toString("hex")));
  assert.deepEqual(
    views,
    [720, 721, 722].map((s) => Buffer.from(expectedRecord(s)).toString("hex")),
  );
});

test("a small ring filled and drained many times: records cross its end intact", (t) => {
  if (!needsRoot(t)) return;
  const size = 4096;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: size, name: "rb_wrap" });
  using state = stateMap();
  using program = outputProgram(map, state);
  using ring = RingBuffer.open(map);
  let seq = 0;
  let crossing = 0;
  for (let round = 0; round < 400; round++) {
    runTimes(program, 37 + (round % 23)); // 37..59 records of at most 40 bytes: under 4096
    ring.consume((r) => {
      assert.deepEqual(r.copy(), expectedRecord(seq), `record ${seq}`);
      // the bytes past the end of the ring are its start again (the data area is mapped twice)
      if (r.offset + r.length > size) {
        crossing++;
        for (let i = r.offset; i < r.offset + r.length; i++)
          assert.equal(r.bytes[i], r.bytes[i >= size ? i - size : i + size]);
      }
      seq++;
    });
    assert.equal(ring.pending, 0);
  }
  assert.equal(readState(state).failed, 0);
  assert.equal(seq, readState(state).seq);
  assert.ok(seq > 15_000);
  assert.ok(crossing > 0, "some records crossed the end of the ring");
});

test("discarded records are skipped and counted; submitted ones keep their order", (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 8192 });
  using state = stateMap();
  using program = reserveProgram(map, state);
  using ring = RingBuffer.open(map);
  runTimes(program, 30);
  const got: [bigint, bigint][] = [];
  const n = ring.consume((r) => {
    assert.equal(r.length, 16);
    got.push([r.view.getBigUint64(r.offset, true), r.view.getBigUint64(r.offset + 8, true)]);
  });
  const kept = [...Array(30).keys()].filter((s) => s % 3 !== 2).map((s) => [BigInt(s), BigInt(s * 3)]);
  assert.equal(n, 20);
  assert.deepEqual(got, kept);
  assert.equal(ring.discarded, 10);
  assert.equal(ring.delivered, 20);
  assert.equal(ring.pending, 0, "discarded records are consumed too");
  // a ring of only discarded records: nothing delivered, all counted, room given back
  resetState(state);
  for (let i = 0; i < 3; i++) {
    resetState(state, 2);
    runTimes(program, 1);
  }
  assert.equal(
    ring.consume(() => assert.fail("only discarded records")),
    0,
  );
  assert.equal(ring.discarded, 13);
  assert.equal(ring.pending, 0);
});

test("a full ring: the program's failures plus the records received equal its attempts", (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 4096, name: "rb_full" });
  using state = stateMap();
  using program = outputProgram(map, state);
  using ring = RingBuffer.open(map);
  const attempts = 1000;
  runTimes(program, attempts); // nobody drains: the ring fills, then bpf_ringbuf_output fails (-EAGAIN)
  assert.ok(ring.pending <= ring.size);
  const first = drain(ring);
  const { failed } = readState(state);
  assert.ok(first.length > 0 && failed > 0, `received ${first.length}, failed ${failed}`);
  assert.equal(first.length + failed, attempts);
  // exactly the records that made it: the first ones, whole and in order
  for (let seq = 0; seq < first.length; seq++) assert.deepEqual(first[seq], expectedRecord(seq));
  // drained, the ring takes records again
  runTimes(program, 10);
  const again = drain(ring);
  assert.deepEqual(
    again,
    [...Array(10).keys()].map((i) => expectedRecord(attempts + i)),
  );
  assert.equal(readState(state).failed, failed);
});

test("a throwing callback: the records so far (that one included) are consumed, the rest wait", (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 8192 });
  using state = stateMap();
  using program = outputProgram(map, state);
  using ring = RingBuffer.open(map);
  runTimes(program, 10);
  let seen = 0;
  assert.throws(
    () =>
      ring.consume(() => {
        if (++seen === 4) throw new Error("stop here");
      }),
    /stop here/,
  );
  assert.equal(ring.delivered, 4);
  const rest = drain(ring);
  assert.deepEqual(
    rest,
    [4, 5, 6, 7, 8, 9].map((s) => expectedRecord(s)),
  );
  // consume inside a record callback is refused (it would hand out the same records again)
  runTimes(program, 2);
  let inner: unknown;
  ring.consume(() => {
    try {
      ring.consume(() => {});
    } catch (e) {
      inner = e;
    }
  });
  assert.equal((inner as { name?: string }).name, "InputError");
});

test("closing from a callback ends the drain; the reader outlives its BpfMap", (t) => {
  if (!needsRoot(t)) return;
  const map = BpfMap.create({ type: "ringbuf", maxEntries: 8192 });
  using state = stateMap();
  using program = outputProgram(map, state);
  const ring = RingBuffer.open(map);
  runTimes(program, 5);
  map.close(); // the reader holds its own descriptor and mapping
  let kept: RingRecord | undefined;
  let offset = 0;
  assert.equal(
    ring.consume((r) => {
      kept = r;
      offset = r.offset;
      ring.close();
    }),
    1,
  );
  assert.equal(ring.closed, true);
  // a record kept past close reads zeros instead of crashing the process
  assert.equal(kept!.bytes[offset], 0);
  assert.equal(kept!.view.getUint32(offset, true), 0);
});

test("past 4 GiB: the consumer position's high half is published whole, and the kernel sees it", (t) => {
  if (!needsRoot(t)) return;
  // 1 MiB records (reserved and submitted without a copy) in a 4 MiB ring: 4 GiB in ~4,100 records
  const size = 1 << 22;
  const record = (1 << 20) - 8; // with its 8-byte header, a record takes exactly 1 MiB
  using map = BpfMap.create({ type: "ringbuf", maxEntries: size });
  using state = stateMap();
  using program = bigRecordProgram(map, state, record);
  using ring = RingBuffer.open(map);
  let seq = 0;
  const records = 2 ** 32 / 2 ** 20 + 10;
  while (seq < records) {
    const before = seq;
    runTimes(program, 3);
    ring.consume((r) => {
      assert.equal(r.length, record);
      assert.equal(Number(r.view.getBigUint64(r.offset, true)), seq++);
    });
    // progress check: a ring that stops delivering fails here, not at the 5-minute watchdog
    assert.ok(
      seq > before,
      `no record arrived after ${seq} of ${records} (${seq} MiB read): the ring is stuck`,
    );
  }
  const { failed } = readState(state);
  assert.equal(failed, 0, "the producer always found room: it never saw a torn consumer position");
  // the kernel's view of the positions in the last run: the consumer had read all but that run's records
  const { consumer, producer } = readPositions(state);
  assert.equal(producer, BigInt(seq) * 2n ** 20n);
  assert.equal(consumer, producer - 3n * 2n ** 20n);
  assert.ok(consumer > 2n ** 32n);
  assert.equal(ring.pending, 0);
});
