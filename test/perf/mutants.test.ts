/**
 * PerfBuffer paths that the sample-program tests (test/perf/consume.test.ts, whose samples are at
 * most 31 bytes) never reach, found by mutation testing (npm run mutate -- src/perf):
 *
 * - samples longer than the word-by-word copy (more than 256 bytes), in one piece and across the
 *   end of the ring;
 * - samples longer than the record buffer's first capacity (4 KiB), so that it must grow, both
 *   when the sample is in one piece and when the first such sample crosses the end of the ring.
 *
 * The oracle is independent of the reader: the program copies the value of an array map into
 * each sample (bpf_perf_event_output from a map value), and the test wrote random bytes there
 * before each run.
 */
import assert from "node:assert/strict";
import { randomFillSync } from "node:crypto";
import { test } from "node:test";
import { BpfMap } from "../../src/map/map.js";
import { PerfBuffer, type PerfRecord } from "../../src/perf/index.js";
import type { Program } from "../../src/program/program.js";
import { needsRoot } from "../support/privilege.js";
import { onCpu } from "./pin.js";
import { paddedSize, valueOutputProgram } from "./programs.js";

/** The largest sample these tests write. */
const MAX = 6000;

/** A map's record header (8 bytes) plus the u32 size plus the padded raw bytes: the room a sample takes in the ring. */
const recordSize = (n: number) => 12 + paddedSize(n);

interface Fixture {
  readonly events: BpfMap;
  readonly data: BpfMap;
  readonly programs: Map<number, Program>;
  [Symbol.dispose](): void;
}

function fixture(sizes: number[]): Fixture {
  const events = BpfMap.create({ type: "perf_event_array", keySize: 4, valueSize: 4, maxEntries: 64 });
  const data = BpfMap.create({ type: "array", keySize: 4, valueSize: MAX, maxEntries: 1 });
  const programs = new Map(sizes.map((n) => [n, valueOutputProgram(events, data, n)]));
  return {
    events,
    data,
    programs,
    [Symbol.dispose]() {
      for (const p of programs.values()) p.close();
      data.close();
      events.close();
    },
  };
}

/** Writes random bytes into the data map, runs the program that samples `n` of them, and returns those bytes. */
function emit(f: Fixture, n: number): Uint8Array {
  const bytes = randomFillSync(Buffer.alloc(MAX));
  f.data.set(Buffer.alloc(4), bytes);
  const { retval } = f.programs.get(n)!.testRun({ data: Buffer.alloc(14) });
  assert.equal(retval, 0, `bpf_perf_event_output of ${n} bytes returned ${retval | 0}`);
  return Uint8Array.from(bytes.subarray(0, n));
}

function check(r: PerfRecord, want: Uint8Array, what: string): void {
  assert.equal(r.length, paddedSize(want.length), `${what}: raw size`);
  assert.equal(r.bytes.length >= r.offset + r.length, true, `${what}: the record's buffer holds it`);
  assert.deepEqual(r.copy().subarray(0, want.length), want, `${what}: bytes`);
  assert.deepEqual(r.subarray().subarray(0, want.length), want, `${what}: subarray`);
  assert.equal(
    r.view.getUint8(r.offset + want.length - 1),
    want[want.length - 1],
    `${what}: last byte by view`,
  );
}

test("samples of 300 and 5000 bytes in one piece come back byte for byte (the long copy, and a record buffer that grows)", (t) => {
  if (!needsRoot(t)) return;
  using f = fixture([300, 5000]);
  using perf = PerfBuffer.open(f.events, { pageCount: 4 });
  onCpu(perf.cpus[0]!, () => {
    const want = [emit(f, 300), emit(f, 5000), emit(f, 300)];
    const got: number[] = [];
    const n = perf.consume((r) => {
      check(r, want[got.length]!, `sample ${got.length}`);
      got.push(r.length);
    });
    assert.equal(n, 3, `samples delivered: ${got.join(", ")}`);
  });
  assert.equal(perf.lost, 0);
});

test("a long sample that crosses the end of the ring first, before any long one in one piece, comes back whole", (t) => {
  if (!needsRoot(t)) return;
  using f = fixture([300, 5000]);
  // a fresh reader: its record buffer has its first capacity when the crossing sample comes
  using perf = PerfBuffer.open(f.events, { pageCount: 2 });
  assert.equal(perf.size, 8192);
  onCpu(perf.cpus[0]!, () => {
    // short samples up to where a 5000-byte one cannot fit before the end
    let position = 0;
    let i = 0;
    while (position + recordSize(5000) <= perf.size) {
      const want = emit(f, 300);
      const n = perf.consume((r) => check(r, want, `filler ${i}`));
      assert.equal(n, 1, `filler ${i} delivered`);
      position += recordSize(300);
      i++;
    }
    assert.ok(position < perf.size, `the fillers stopped inside the ring (at ${position})`);
    for (let round = 0; round < 3; round++) {
      const want = emit(f, 5000);
      const n = perf.consume((r) => check(r, want, `long sample ${round} at ${position % perf.size}`));
      assert.equal(n, 1, `long sample ${round} delivered`);
      position += recordSize(5000);
    }
  });
  assert.equal(perf.lost, 0);
});

test("long samples around the end of a one-page ring, many rounds: each whole and in order", (t) => {
  if (!needsRoot(t)) return;
  using f = fixture([300, 700]);
  using perf = PerfBuffer.open(f.events, { pageCount: 1 });
  let crossed = 0;
  let position = 0;
  onCpu(perf.cpus[0]!, () => {
    for (let round = 0; round < 40; round++) {
      const sizes = round % 2 === 0 ? [700, 300, 700] : [300, 700, 300, 300];
      const want = sizes.map((n) => emit(f, n));
      let k = 0;
      const n = perf.consume((r) => {
        if ((position % perf.size) + recordSize(want[k]!.length) > perf.size) crossed++;
        check(r, want[k]!, `round ${round} sample ${k}`);
        position += recordSize(want[k]!.length);
        k++;
      });
      assert.equal(n, sizes.length, `round ${round}: samples delivered`);
    }
  });
  assert.ok(crossed > 5, `samples crossed the end of the ring (${crossed} did)`);
  assert.equal(perf.lost, 0);
});

test("short samples (1 to 260 bytes), in one piece and across the end of a one-page ring: byte for byte", (t) => {
  if (!needsRoot(t)) return;
  // every copy path of samples up to SMALL_COPY: the 8-word straight-line copy (raw size up to
  // 32, found by mutation testing: samples of mostly zero bytes let a word copied from the wrong
  // place through), the word loop, and the masked loop across the end of the ring
  const sizes = [1, 5, 20, 21, 28, 29, 32, 33, 60, 100, 252, 253, 256, 260];
  using f = fixture(sizes);
  using perf = PerfBuffer.open(f.events, { pageCount: 1 });
  let crossed = 0;
  let position = 0;
  onCpu(perf.cpus[0]!, () => {
    for (let round = 0; round < 8; round++) {
      const order = round % 2 === 0 ? sizes : [...sizes].reverse();
      const want = order.map((n) => emit(f, n));
      let k = 0;
      const n = perf.consume((r) => {
        if ((position % perf.size) + recordSize(want[k]!.length) > perf.size) crossed++;
        check(r, want[k]!, `round ${round} sample ${k} (${want[k]!.length} bytes)`);
        position += recordSize(want[k]!.length);
        k++;
      });
      assert.equal(n, order.length, `round ${round}: samples delivered`);
    }
  });
  assert.ok(crossed > 2, `samples crossed the end of the ring (${crossed} did)`);
  assert.equal(perf.lost, 0);
});
