/**
 * PerfBuffer over the interpreter's in-memory perf_event_array (backend: "memory"), found by
 * mutation testing (npm run mutate -- src/perf): a reader makes one ring per CPU the interpreter
 * can run on (this machine's, up to the map's slots), and close() takes its rings out of the map
 * again (unless a reader opened since replaced them), so bpf_perf_event_output then fails with -ENOENT as the kernel's does once close() has
 * deleted the events. And the largest pageCount, 2^20, passes the options' check.
 */
import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { test } from "node:test";
import { assemble } from "../../src/isa/asm/index.js";
import { BpfMap } from "../../src/map/map.js";
import { PerfBuffer } from "../../src/perf/index.js";
import { Program } from "../../src/program/program.js";
import { InputError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";

const ENOENT = -2;

// bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &zero_u64, 8): the helper's result
const SOURCE = `.map events type=perf_event_array key=4 value=4 entries=1
r6 = r1
r1 = 0
*(u64 *)(r10 - 8) = r1
r1 = r6
r2 = map_fd(events)
w3 = -1
r4 = r10
r4 += -8
r5 = 8
call bpf_perf_event_output
exit`;

function setup(backend: "kernel" | "memory", maxEntries: number) {
  const events = BpfMap.create({ type: "perf_event_array", keySize: 4, valueSize: 4, maxEntries, backend });
  const prog = Program.load({
    type: "socket_filter",
    instructions: assemble(SOURCE.replace("entries=1", `entries=${maxEntries}`)),
    maps: { events },
    backend,
  });
  return {
    events,
    /** the helper's result, run on `cpu` (the interpreter's BPF_F_CURRENT_CPU) */
    run: (cpu?: number) =>
      prog.testRun({ data: new Uint8Array(20), ...(cpu === undefined ? {} : { cpu }) }).retval | 0,
    [Symbol.dispose]() {
      prog.close();
      events.close();
    },
  };
}

test("a memory reader has a ring for each CPU this machine has, up to the map's slots", () => {
  const n = availableParallelism();
  for (const slots of [1, n, n + 3, 64]) {
    using s = setup("memory", slots);
    using perf = PerfBuffer.open(s.events, { pageCount: 1 });
    const want = Array.from({ length: Math.min(n, slots) }, (_, i) => i);
    assert.deepEqual(perf.cpus, want, `${slots} slots, ${n} CPUs`);
    // every one of them takes a sample written on its CPU, and hands it over with that CPU
    const got: number[] = [];
    for (const cpu of want) assert.equal(s.run(cpu), 0, `output on CPU ${cpu}`);
    perf.consume((r) => got.push(r.cpu));
    assert.deepEqual(got, want);
    // a slot past the rings holds no event: ENOENT, as the kernel says for an empty slot
    if (slots > want.length) assert.equal(s.run(want.length), ENOENT);
  }
});

test("close() takes a memory reader's rings out of the map: output then fails with ENOENT, as on the kernel's map", (t) => {
  const outcomes = (backend: "kernel" | "memory") => {
    using s = setup(backend, 64);
    const before = s.run();
    const perf = PerfBuffer.open(s.events, { pageCount: 1 });
    const open = s.run();
    perf.close();
    const after = s.run();
    // a reader opened again works, and its close() takes its rings out in turn
    const again = PerfBuffer.open(s.events, { pageCount: 1 });
    const reopened = s.run();
    again.close();
    const closedAgain = s.run();
    // two readers: the second replaced the first's rings, so closing the first leaves them
    const first = PerfBuffer.open(s.events, { pageCount: 1 });
    const second = PerfBuffer.open(s.events, { pageCount: 1 });
    first.close();
    const afterFirst = s.run();
    const taken = second.consume(() => {});
    second.close();
    return { before, open, after, reopened, closedAgain, afterFirst, taken, afterSecond: s.run() };
  };
  const memory = outcomes("memory");
  assert.deepEqual(memory, {
    before: ENOENT,
    open: 0,
    after: ENOENT,
    reopened: 0,
    closedAgain: ENOENT,
    afterFirst: 0,
    taken: 1,
    afterSecond: ENOENT,
  });
  if (!needsRoot(t)) return;
  assert.deepEqual(outcomes("kernel"), memory, "the kernel's map answers the same");
});

test("pageCount 2^20 passes the options' check (2^21 does not)", (t) => {
  if (!needsRoot(t)) return;
  // a descriptor of an array map: the check after the options' refuses it, before any ring
  using array = BpfMap.create({ type: "array", keySize: 4, valueSize: 4, maxEntries: 64 });
  const source = { type: "perf_event_array" as const, maxEntries: 64, fd: array.fd };
  assert.throws(
    () => PerfBuffer.open(source, { pageCount: 2 ** 20 }),
    (e: Error) => e instanceof InputError && /is a map of type array/.test(e.message),
  );
  assert.throws(
    () => PerfBuffer.open(source, { pageCount: 2 ** 21 }),
    (e: Error) => e instanceof InputError && /pageCount must be a power of 2/.test(e.message),
  );
});

test("a full ring's lost samples are counted without an onLost callback; start() without a callback is an InputError", () => {
  using s = setup("memory", 64);
  using perf = PerfBuffer.open(s.events, { pageCount: 1 });
  assert.throws(() => perf.start(5 as never), InputError);
  assert.equal(perf.listening, false, "nothing was started");
  // 24 bytes a sample (8 header + 4 size + 12 raw); the kernel keeps one byte of 4096 free
  const results = Array.from({ length: 200 }, () => s.run(0));
  const stored = results.filter((r) => r === 0).length;
  assert.equal(stored, Math.floor(4095 / 24));
  assert.equal(
    perf.consume(() => {}),
    stored,
  );
  assert.equal(s.run(0), 0, "room again");
  assert.equal(
    perf.consume(() => {}),
    1,
    "the PERF_RECORD_LOST before it did not stop the drain",
  );
  assert.equal(perf.lost, 200 - stored);
  assert.equal(perf.lostOn(0), 200 - stored);
});
