/**
 * RingBuffer's edges: bad input is refused before anything is mapped, a closed map or reader is a
 * ClosedError, and open/close cycles leave no descriptor or mapping behind.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { u32 } from "../../src/codec/index.js";
import { BpfMap } from "../../src/map/map.js";
import type { Program } from "../../src/program/program.js";
import { RingBuffer } from "../../src/ringbuf/index.js";
import { ClosedError, InputError } from "../../src/sys/error.js";
import { openFdCount } from "../support/fds.js";
import { gc, mappingsOf, placeholderBytes, settle } from "../support/mappings.js";
import { needsRoot } from "../support/privilege.js";
import { expectedRecord, outputProgram, runTimes, stateMap } from "./programs.js";

// descriptor counts here are of anonymous inodes (BPF maps, epoll): tsx opens its cache files from
// libuv's threadpool while a test runs (a cache miss, as in Stryker's sandbox)
test("a map that is not a ringbuf is an InputError before anything is mapped", (t) => {
  if (!needsRoot(t)) return;
  using array = BpfMap.create({ type: "array", key: u32, value: u32, maxEntries: 4 });
  using user = BpfMap.create({ type: "user_ringbuf", maxEntries: 4096 });
  const fds = openFdCount("anon_inode:");
  const mapped = mappingsOf("bpf-map");
  assert.throws(() => RingBuffer.open(array), InputError);
  assert.throws(() => new RingBuffer(user), /user_ringbuf is written by user space/);
  assert.throws(() => RingBuffer.open(null as never), InputError);
  assert.throws(() => RingBuffer.open({ type: "ringbuf", maxEntries: 3000, fd: 0 }), /power of 2/);
  assert.equal(openFdCount("anon_inode:"), fds);
  assert.equal(mappingsOf("bpf-map"), mapped);
});

test("a closed map, and any use of a closed reader, is a ClosedError; close is idempotent", (t) => {
  if (!needsRoot(t)) return;
  const map = BpfMap.create({ type: "ringbuf", maxEntries: 4096, name: "rb_closed" });
  map.close();
  assert.throws(() => RingBuffer.open(map), ClosedError);
  using open = BpfMap.create({ type: "ringbuf", maxEntries: 4096, name: "rb_open" });
  const ring = RingBuffer.open(open);
  assert.equal(ring.closed, false);
  ring.close();
  ring.close();
  ring[Symbol.dispose]();
  assert.equal(ring.closed, true);
  assert.throws(() => ring.consume(() => {}), ClosedError);
  assert.throws(() => ring.pending, ClosedError);
  assert.throws(() => ring.start(() => {}), ClosedError);
  assert.throws(() => ring.consume(() => {}), /ring buffer 'rb_open' is closed/);
  ring.stop(); // stopping a closed reader is harmless
  assert.equal(ring.listening, false);
});

/** 200 readers opened, used and closed (`using`), the first three kept in `held` (in a function of its own, so no stack slot of the test keeps the last one). */
function cycles(map: BpfMap, program: Program, mapped: number, held: RingBuffer[]): void {
  for (let i = 0; i < 200; i++) {
    using ring = RingBuffer.open(map);
    assert.equal(mappingsOf("bpf-map"), mapped + 2, "the consumer page and the producer pages");
    runTimes(program, 2);
    assert.equal(
      ring.consume(() => {}),
      2,
    );
    if (i % 2 === 0) {
      ring.start(() => {});
      ring.stop();
    }
    if (i < 3) held.push(ring);
  }
}

/** A few garbage collections, each followed by a turn of the event loop (where finalizers run). */
async function collect(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

test("open/close cycles leave no descriptor and no mapping behind", async (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 1 << 16 });
  using state = stateMap();
  using program = outputProgram(map, state);
  // one reader first, so that lazily loaded code and its memory are in place before counting
  RingBuffer.open(map).close();
  await collect();
  const fds = openFdCount("anon_inode:");
  const mapped = mappingsOf("bpf-map");
  const bytes = placeholderBytes();
  const held: RingBuffer[] = [];
  cycles(map, program, mapped, held);
  // the ring's pages are unmapped by close() itself, the descriptors closed
  assert.equal(openFdCount("anon_inode:"), fds);
  assert.equal(mappingsOf("bpf-map"), mapped);
  // zero pages stand in for them while a closed reader (and views of it) can still be reached
  const page = 4096;
  assert.ok(placeholderBytes() >= bytes + 3 * (page + page + 2 * (1 << 16)));
  held.length = 0;
  // and go once the garbage collector has freed them
  assert.equal(await settle(bytes), bytes);
});

/** Opens `n` readers and drops them without closing them (every other one after listening and stopping). */
function dropReaders(map: BpfMap, n: number): void {
  for (let i = 0; i < n; i++) {
    const ring = RingBuffer.open(map);
    if (i % 2 === 1) {
      ring.start(() => {});
      ring.stop();
    }
  }
}

test("a reader dropped without close (listened to and stopped, or not) is unmapped and closed by the garbage collector", async (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 1 << 16 });
  RingBuffer.open(map).close();
  await collect();
  const fds = openFdCount("anon_inode:");
  const mapped = mappingsOf("bpf-map");
  dropReaders(map, 20);
  assert.equal(mappingsOf("bpf-map"), mapped + 40);
  for (let i = 0; i < 50 && mappingsOf("bpf-map") !== mapped; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(mappingsOf("bpf-map"), mapped);
  for (let i = 0; i < 10 && openFdCount("anon_inode:") !== fds; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(openFdCount("anon_inode:"), fds);
});

test("the ring's size is the kernel's, whatever the spec says; a descriptor of another map type is an InputError", (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 1 << 14, name: "rb_real" });
  using state = stateMap();
  using program = outputProgram(map, state);
  // a spec that disagrees with the map it names (an old copy of the spec, a hand-made source)
  using ring = RingBuffer.open({ type: "ringbuf", maxEntries: 4096, fd: map.fd, name: "rb_real" });
  assert.equal(ring.size, 1 << 14, "the size the kernel reports");
  runTimes(program, 400); // about 10 KiB: past where a 4 KiB ring would wrap
  const got: Uint8Array[] = [];
  ring.consume((r) => got.push(r.copy()));
  assert.equal(got.length, 400);
  for (let seq = 0; seq < got.length; seq++) assert.deepEqual(got[seq], expectedRecord(seq), `record ${seq}`);
  using array = BpfMap.create({ type: "array", keySize: 4, valueSize: 4, maxEntries: 4 });
  const fds = openFdCount("anon_inode:");
  assert.throws(
    () => RingBuffer.open({ type: "ringbuf", maxEntries: 4096, fd: array.fd }),
    (e: Error) => e instanceof InputError && /is a map of type array/.test(e.message),
  );
  assert.equal(openFdCount("anon_inode:"), fds, "the duplicate descriptor was closed");
});
