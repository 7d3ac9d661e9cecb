/**
 * What the reader does with a ring that holds records no kernel writes, found by mutation testing
 * (npm run mutate -- src/perf): the EPERFRING checks of a record's size and of a sample's size.
 * A kernel ring cannot be made to hold such records, so these are written into an in-memory ring
 * (backend: "memory"), which has the kernel's layout and is read by the same code.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryMap, objectByFd, type PerfRingState } from "../../src/interp/maps.js";
import { BpfMap } from "../../src/map/map.js";
import { PerfBuffer } from "../../src/perf/index.js";
import { RawbpfError } from "../../src/sys/error.js";

/** The ring of the reader's first CPU, and a writer of raw records at its head. */
function setup() {
  const events = BpfMap.create({
    type: "perf_event_array",
    keySize: 4,
    valueSize: 4,
    maxEntries: 64,
    backend: "memory",
  });
  const perf = PerfBuffer.open(events, { pageCount: 1 });
  const map = objectByFd(events.fd);
  assert.ok(map instanceof MemoryMap, "a memory map behind the descriptor");
  const cpu = perf.cpus[0]!;
  const ring = map.perfRings[cpu] as PerfRingState;
  const control = new DataView(ring.memory);
  const data = new DataView(ring.memory, 4096, ring.dataSize);
  /** Writes a header (type, size) and then u32 words at the head, and publishes them. */
  const write = (type: number, size: number, words: number[] = [], publish = 8 + 4 * words.length) => {
    const head = Number(control.getBigUint64(1024, true));
    let at = head % ring.dataSize;
    data.setUint32(at, type, true);
    data.setUint16(at + 4, 0, true);
    data.setUint16(at + 6, size, true);
    at += 8;
    for (const w of words) {
      data.setUint32(at, w, true);
      at += 4;
    }
    control.setBigUint64(1024, BigInt(head + publish), true);
  };
  return { events, perf, cpu, ring, write };
}

const EPERFRING = (message: RegExp) => (e: unknown) =>
  e instanceof RawbpfError && e.code === "EPERFRING" && message.test(e.message);

test("a record of just a header, of a type the reader does not know, is skipped", () => {
  const { events, perf, cpu, ring, write } = setup();
  using _e = events;
  using _p = perf;
  write(0x7f, 8);
  assert.equal(ring.output(Uint8Array.of(1, 2, 3, 4)), 0);
  const got: number[] = [];
  assert.equal(
    perf.consume((r) => got.push(r.view.getUint32(r.offset, true))),
    1,
  );
  assert.deepEqual(got, [0x04030201]);
  assert.equal(perf.pending(cpu), 0);
});

test("a record shorter than its header: EPERFRING, and the ring is read again from its head", () => {
  const { events, perf, cpu, ring, write } = setup();
  using _e = events;
  using _p = perf;
  write(9, 4);
  assert.throws(() => perf.consume(() => {}), EPERFRING(/impossible size \(4\)/));
  assert.equal(perf.pending(cpu), 0, "reset to the head");
  assert.equal(ring.output(Uint8Array.of(9, 9, 9, 9)), 0);
  assert.equal(
    perf.consume(() => {}),
    1,
    "the next sample is read",
  );
});

test("a record longer than what the head has published, after a good one: EPERFRING", () => {
  const { events, perf, cpu, ring, write } = setup();
  using _e = events;
  using _p = perf;
  assert.equal(ring.output(Uint8Array.of(1, 2, 3, 4)), 0); // a 16-byte sample
  // 16 bytes published, the header says 32
  write(9, 32, [4, 0], 16);
  let delivered = 0;
  assert.throws(
    () =>
      perf.consume(() => {
        delivered++;
      }),
    EPERFRING(/impossible size \(32\)/),
  );
  assert.equal(delivered, 1, "the good sample before it was delivered");
  assert.equal(perf.delivered, 1);
  assert.equal(perf.pending(cpu), 0, "reset to the head");
});

test("a sample that says more bytes than its record holds: EPERFRING", () => {
  const { events, perf, write } = setup();
  using _e = events;
  using _p = perf;
  // a 24-byte record: header, u32 size, 12 bytes; the size says 20
  write(9, 24, [20, 1, 2, 3]);
  assert.throws(() => perf.consume(() => {}), EPERFRING(/says 20 bytes in a record of 24/));
});
