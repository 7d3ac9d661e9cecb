/**
 * PerfBuffer's edges: bad input is refused before anything is opened, a kernel refusal half-way
 * unwinds every CPU opened so far, close() removes the map's entries and retires the mappings,
 * and open/close cycles leave no descriptor or mapping behind.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { u32 } from "../../src/codec/index.js";
import { BpfMap } from "../../src/map/map.js";
import { PerfBuffer } from "../../src/perf/index.js";
import { BpfError, ClosedError, InputError } from "../../src/sys/error.js";
import { onlineCpus } from "../../src/sys/perf.js";
import { openFdCount } from "../support/fds.js";
import { gc, mappingsOf, placeholderBytes, settle } from "../support/mappings.js";
import { needsRoot } from "../support/privilege.js";
import { onCpu } from "./pin.js";
import { expectedRecord, perfOutputProgram, readState, runTimes, stateMap } from "./programs.js";

/**
 * What the counts below count: descriptors of anonymous inodes (BPF maps, perf events, epoll),
 * the kind a reader opens. Not every descriptor of the process: tsx writes its transform cache
 * and sweeps its cache directory from libuv's threadpool (fs.promises, on a cache miss: always so
 * the first time a changed source runs, as in Stryker's sandbox), so a file's descriptor can
 * appear between two counts even while a test runs synchronously.
 */
const OURS = "anon_inode:";

function eventsMap(maxEntries = 64): BpfMap {
  return BpfMap.create({ type: "perf_event_array", keySize: 4, valueSize: 4, maxEntries });
}

test("bad input is an InputError before anything is opened; a closed map is a ClosedError", (t) => {
  if (!needsRoot(t)) return;
  using array = BpfMap.create({ type: "array", key: u32, value: u32, maxEntries: 4 });
  using ring = BpfMap.create({ type: "ringbuf", maxEntries: 4096 });
  using events = eventsMap();
  const fds = openFdCount(OURS);
  const maps = mappingsOf("perf_event");
  assert.throws(() => PerfBuffer.open(array), InputError);
  assert.throws(() => PerfBuffer.open(ring), /perf_event_array, not ringbuf.*RingBuffer/);
  assert.throws(() => PerfBuffer.open(null as never), InputError);
  for (const pageCount of [0, 3, 6, 1.5, -2, 2 ** 21]) {
    assert.throws(
      () => PerfBuffer.open(events, { pageCount }),
      /pageCount must be a power of 2/,
      String(pageCount),
    );
  }
  assert.throws(() => PerfBuffer.open(events, { wakeupEvents: 0 }), InputError);
  assert.throws(() => PerfBuffer.open(events, { wakeupEvents: 2, wakeupWatermark: 64 }), InputError);
  const cpus = onlineCpus();
  if (cpus.length > 1) {
    using small = eventsMap(1);
    assert.throws(
      () => PerfBuffer.open(small),
      (e: Error) =>
        e instanceof InputError && /1 slots but CPU \d+ is online.*maxEntries of at least/.test(e.message),
    );
  } else {
    t.diagnostic("one CPU online: a map with too few slots cannot be made (it would need 0)");
  }
  const closed = eventsMap();
  closed.close();
  assert.throws(() => PerfBuffer.open(closed), ClosedError);
  assert.equal(openFdCount(OURS), fds, "no descriptor was left open");
  assert.equal(mappingsOf("perf_event"), maps, "nothing was mapped");
});

test("a refusal half-way (the map's descriptor is read-only) unwinds every CPU opened and mapped so far", (t) => {
  if (!needsRoot(t)) return;
  using events = eventsMap();
  using readOnly = BpfMap.fromId(events.info().id, { flags: ["BPF_F_RDONLY"] });
  const fds = openFdCount(OURS);
  const maps = mappingsOf("perf_event");
  assert.throws(
    () => PerfBuffer.open(readOnly),
    (e: Error) => e instanceof BpfError && /MAP_UPDATE_ELEM|EPERM/.test(e.message),
  );
  assert.equal(openFdCount(OURS), fds, "every event descriptor and the map's duplicate were closed");
  assert.equal(mappingsOf("perf_event"), 0 + maps, "every ring was unmapped");
});

test("close(): use after it is a ClosedError, it is idempotent, kept views are ordinary memory, and the map's entries are gone", (t) => {
  if (!needsRoot(t)) return;
  using events = eventsMap();
  using state = stateMap();
  using program = perfOutputProgram(events, state);
  const perf = PerfBuffer.open(events);
  const cpu = perf.cpus[0]!;
  onCpu(cpu, () => runTimes(program, 3));
  let kept: Uint8Array | undefined;
  let first: Uint8Array | undefined;
  perf.consume((r) => {
    first ??= r.copy();
    kept = r.subarray();
  });
  assert.deepEqual(first!.subarray(0, 1), expectedRecord(0));
  assert.equal(readState(state).failed, 0);
  perf.close();
  assert.equal(perf.closed, true);
  perf.close();
  perf[Symbol.dispose]();
  // a view kept past close is of the reader's own buffer: the last sample's bytes, writable
  assert.deepEqual(kept!.subarray(0, expectedRecord(2).length), expectedRecord(2));
  kept!.fill(0xff);
  assert.ok(
    kept!.every((b) => b === 0xff),
    "a view kept past close is writable memory",
  );
  assert.throws(() => perf.consume(() => {}), ClosedError);
  assert.throws(() => perf.start(() => {}), ClosedError);
  assert.throws(() => perf.pending(cpu), ClosedError);
  perf.stop();
  // with the entries gone, bpf_perf_event_output finds no event (-ENOENT): every output fails
  runTimes(program, 4);
  assert.equal(readState(state).failed, 4, "close() removed the events from the map");
  // and a new reader works on the same map
  using again = PerfBuffer.open(events);
  onCpu(cpu, () => runTimes(program, 2));
  assert.equal(
    again.consume(() => {}),
    2,
  );
});

test("the reader outlives the BpfMap it came from", (t) => {
  if (!needsRoot(t)) return;
  const events = eventsMap();
  using state = stateMap();
  using program = perfOutputProgram(events, state);
  using perf = PerfBuffer.open(events);
  events.close();
  onCpu(perf.cpus[0]!, () => runTimes(program, 2));
  assert.equal(
    perf.consume(() => {}),
    2,
  );
});

test("100 open/close cycles leave no descriptor and no mapping behind", async (t) => {
  if (!needsRoot(t)) return;
  using events = eventsMap();
  using state = stateMap();
  using program = perfOutputProgram(events, state);
  // earlier tests' placeholders go first: collect until two rounds find nothing more to give back
  let placeholders = placeholderBytes();
  for (let i = 0; i < 50; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    const now = placeholderBytes();
    if (now === placeholders && i > 2) break;
    placeholders = now;
  }
  const fds = openFdCount(OURS);
  const maps = mappingsOf("perf_event");
  // in a function of its own: a suspended async function may keep its last reader alive
  const cycles = () => {
    for (let i = 0; i < 100; i++) {
      const perf = PerfBuffer.open(events, { pageCount: 2 });
      if (i % 10 === 0) {
        runTimes(program, 1);
        assert.equal(
          perf.consume(() => {}),
          1,
        );
      }
      if (i % 2 === 0) perf.start(() => {});
      perf.close();
    }
  };
  cycles();
  assert.equal(openFdCount(OURS), fds, "descriptors");
  assert.equal(mappingsOf("perf_event"), maps, "rings mapped");
  assert.equal(
    await settle(placeholders),
    placeholders,
    "zero-page placeholders are given back once garbage",
  );
});

test("the map's slots are the kernel's, whatever the spec says; a descriptor of another map type is an InputError", (t) => {
  if (!needsRoot(t)) return;
  const highest = onlineCpus().at(-1)!;
  using array = BpfMap.create({ type: "array", keySize: 4, valueSize: 4, maxEntries: 4 });
  const fds = openFdCount(OURS);
  assert.throws(
    () => PerfBuffer.open({ type: "perf_event_array", maxEntries: 64, fd: array.fd }),
    (e: Error) => e instanceof InputError && /is a map of type array/.test(e.message),
  );
  assert.equal(openFdCount(OURS), fds, "the duplicate descriptor was closed");
  if (highest === 0) {
    t.diagnostic("one CPU online: a map with too few slots for it cannot be made");
    return;
  }
  // a spec that says 64 slots for a map of 1: the kernel's count is the one checked
  using small = eventsMap(1);
  const before = openFdCount(OURS);
  assert.throws(
    () => PerfBuffer.open({ type: "perf_event_array", maxEntries: 64, fd: small.fd }),
    (e: Error) => e instanceof InputError && /1 slots \(as the kernel reports it\)/.test(e.message),
  );
  assert.equal(openFdCount(OURS), before, "nothing was left open");
});
