/**
 * PerfBuffer.start: samples delivered by the Node event loop (libuv polls each CPU's event
 * descriptor), and listening that ends cleanly. Samples are produced by test runs made from the
 * event loop, never from inside a blocking call; whether a stopped or closed reader still holds
 * the process is checked in child processes, which must exit by themselves.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { BpfMap } from "../../src/map/map.js";
import { PerfBuffer } from "../../src/perf/index.js";
import { ClosedError } from "../../src/sys/error.js";
import { type ChildResult, runModule } from "../support/child.js";
import { needsRoot } from "../support/privilege.js";
import { hasTaskset, onCpu } from "./pin.js";
import { expectedRecord, paddedSize, perfOutputProgram, readState, runTimes, stateMap } from "./programs.js";

const turn = () => new Promise((resolve) => setImmediate(resolve));

function eventsMap(): BpfMap {
  return BpfMap.create({ type: "perf_event_array", keySize: 4, valueSize: 4, maxEntries: 64 });
}

/** The first `want.length` bytes of a copied sample (the rest is the kernel's padding). */
const head = (copy: Uint8Array, seq: number) => copy.subarray(0, expectedRecord(seq).length);

test("samples produced while listening arrive through the event loop, in order, with their bytes", async (t) => {
  if (!needsRoot(t)) return;
  using events = eventsMap();
  using state = stateMap();
  using program = perfOutputProgram(events, state);
  using perf = PerfBuffer.open(events);
  const got: Uint8Array[] = [];
  let wanted = 0;
  let arrived: () => void = () => {};
  const until = (n: number) =>
    new Promise<void>((resolve) => {
      wanted = n;
      arrived = resolve;
    });
  perf.start((r) => {
    got.push(r.copy());
    if (got.length === wanted) arrived();
  });
  assert.equal(perf.listening, true);
  const five = until(5);
  setImmediate(() => runTimes(program, 5)); // one test run: all five on one CPU, in order
  await five;
  const twelve = until(12);
  setImmediate(() => runTimes(program, 7));
  await twelve;
  assert.deepEqual(
    got.map((c, i) => head(c, i)),
    Array.from({ length: 12 }, (_, i) => expectedRecord(i)),
  );
  perf.stop();
  assert.equal(perf.listening, false);
});

test("samples waiting before start() are delivered on a later turn; stop() leaves later ones in the rings", async (t) => {
  if (!needsRoot(t)) return;
  using events = eventsMap();
  using state = stateMap();
  using program = perfOutputProgram(events, state);
  using perf = PerfBuffer.open(events);
  runTimes(program, 3);
  // a first listener takes the kernel's wake-up, then stops before reading anything
  perf.start(() => assert.fail("stopped before its turn"));
  perf.stop();
  const got: number[] = [];
  const three = new Promise<void>((resolve) =>
    perf.start((r) => {
      got.push(r.bytes[r.offset]! >> 4);
      if (got.length === 3) resolve();
    }),
  );
  await three;
  assert.deepEqual(got, [0, 1, 2]);
  perf.stop();
  runTimes(program, 2);
  for (let i = 0; i < 5; i++) await turn(); // a stopped reader is not called, however many turns pass
  assert.equal(got.length, 3);
  assert.equal(
    perf.consume(() => {}),
    2,
  );
});

test("stop() from the listener: no sample after that one is delivered", async (t) => {
  if (!needsRoot(t)) return;
  using events = eventsMap();
  using state = stateMap();
  using program = perfOutputProgram(events, state);
  using perf = PerfBuffer.open(events);
  const got: Uint8Array[] = [];
  const first = new Promise<void>((resolve) =>
    perf.start((r) => {
      got.push(r.copy());
      perf.stop();
      resolve();
    }),
  );
  setImmediate(() => runTimes(program, 3));
  await first;
  for (let i = 0; i < 5; i++) await turn();
  assert.equal(got.length, 1);
  assert.deepEqual(head(got[0]!, 0), expectedRecord(0));
  const rest: Uint8Array[] = [];
  perf.consume((r) => rest.push(r.copy()));
  assert.deepEqual(
    rest.map((c, i) => head(c, i + 1)),
    [expectedRecord(1), expectedRecord(2)],
  );
});

test("close() from the listener: nothing more is delivered, and the reader is closed", async (t) => {
  if (!needsRoot(t)) return;
  using events = eventsMap();
  using state = stateMap();
  using program = perfOutputProgram(events, state);
  const perf = PerfBuffer.open(events);
  let calls = 0;
  const closed = new Promise<void>((resolve) =>
    perf.start(() => {
      calls++;
      perf.close();
      resolve();
    }),
  );
  setImmediate(() => runTimes(program, 4));
  await closed;
  for (let i = 0; i < 5; i++) await turn();
  assert.equal(calls, 1);
  assert.equal(perf.closed, true);
  assert.equal(perf.listening, false);
  assert.throws(() => perf.consume(() => {}), ClosedError);
});

test("a callback that throws stops listening and goes to onError", async (t) => {
  if (!needsRoot(t)) return;
  using events = eventsMap();
  using state = stateMap();
  using program = perfOutputProgram(events, state);
  using perf = PerfBuffer.open(events);
  const failed = new Promise<unknown>((resolve) => {
    perf.start(
      () => {
        throw new Error("bad sample");
      },
      { onError: resolve },
    );
  });
  setImmediate(() => runTimes(program, 2));
  const error = await failed;
  assert.match(String(error), /bad sample/);
  assert.equal(perf.listening, false);
  assert.equal(perf.delivered, 1);
  assert.equal(
    perf.consume(() => {}),
    1,
  );
});

/** Runs `body` (module code with PerfBuffer, BpfMap and the program imported) in a child that must exit by itself. */
function child(body: string): ChildResult {
  const at = (p: string) => JSON.stringify(fileURLToPath(new URL(p, import.meta.url)));
  const code = `
import { BpfMap } from ${at("../../src/map/map.ts")};
import { PerfBuffer } from ${at("../../src/perf/index.ts")};
import { perfOutputProgram, runTimes, stateMap } from ${at("./programs.ts")};
const events = BpfMap.create({ type: "perf_event_array", keySize: 4, valueSize: 4, maxEntries: 64 });
const state = stateMap();
const program = perfOutputProgram(events, state);
const perf = PerfBuffer.open(events);
${body}
`;
  return runModule(code);
}

test("stop() or close() lets the process exit: no poll handle is left behind; errors are not lost", (t) => {
  if (!needsRoot(t)) return;
  const cases: Record<string, [string, string]> = {
    stop: [
      `perf.start(() => {}); setImmediate(() => { perf.stop(); console.log("stopped"); });`,
      "stopped\n",
    ],
    close: [
      `perf.start(() => {}); setImmediate(() => { perf.close(); console.log("closed"); });`,
      "closed\n",
    ],
    "close in the callback": [
      `perf.start((r) => { console.log("got", r.length); perf.close(); });
      setImmediate(() => runTimes(program, 3));`,
      "got 4\n",
    ],
    "keepAlive false": [`perf.start(() => {}, { keepAlive: false }); console.log("not held");`, "not held\n"],
    "start after stop": [
      `perf.start(() => {}); perf.stop();
      let n = 0;
      perf.start(() => { if (++n === 2) { perf.stop(); console.log("two"); } });
      setImmediate(() => runTimes(program, 2));`,
      "two\n",
    ],
  };
  // an error with nobody to take it is an uncaught exception, not lost
  const thrown = child(
    `perf.start(() => { throw new Error("nobody catches this"); }); runTimes(program, 1);`,
  );
  assert.equal(thrown.signal, null, thrown.stderr);
  assert.notEqual(thrown.status, 0);
  assert.match(thrown.stderr, /nobody catches this/);
  for (const [name, [body, expected]] of Object.entries(cases)) {
    const r = child(body);
    assert.equal(r.signal, null, `${name}: the child did not exit by itself\n${r.stderr}`);
    assert.equal(r.status, 0, `${name}: ${r.stderr}`);
    assert.equal(r.stdout, expected, name);
  }
});

/** The bytes the record of sample `seq` takes in a ring: header, u32 size, raw bytes. */
const recordBytes = (seq: number) => 12 + paddedSize(expectedRecord(seq).length);

/** A few turns of the event loop and a timer: long enough for a wakeup the kernel made to be seen. */
async function settleLoop(): Promise<void> {
  for (let i = 0; i < 10; i++) await turn();
  await new Promise((resolve) => setTimeout(resolve, 20));
  for (let i = 0; i < 10; i++) await turn();
}

/**
 * Listens with `options`, writes `quiet` samples (which must not wake the reader), then `more`,
 * which must; returns what was delivered. The kernel's wakeups are what is tested: the options
 * reach it only through perf_event_attr (the watermark flag bit, the wakeup_events|wakeup_watermark
 * word), so an option on the wrong bit or field wakes too early or never.
 */
async function wakeups(
  options: { wakeupEvents?: number; wakeupWatermark?: number },
  quiet: number,
  more: number,
): Promise<{ early: number; got: number }> {
  using events = eventsMap();
  using state = stateMap();
  using program = perfOutputProgram(events, state);
  using perf = PerfBuffer.open(events, options);
  const cpu = perf.cpus[0]!;
  let got = 0;
  let woke: () => void = () => {};
  const wakeup = new Promise<void>((resolve) => {
    woke = resolve;
  });
  perf.start(() => {
    got++;
    woke();
  });
  await settleLoop(); // start()'s own look at the rings is over
  onCpu(cpu, () => runTimes(program, quiet));
  await settleLoop();
  const early = got;
  onCpu(cpu, () => runTimes(program, more));
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no wakeup after ${quiet + more} samples with ${JSON.stringify(options)}`)),
      10_000,
    );
  });
  try {
    await Promise.race([wakeup, bound]);
  } finally {
    clearTimeout(timer);
  }
  assert.equal(readState(state).failed, 0);
  return { early, got };
}

test("wakeupEvents: N samples wake the listener, N - 1 do not", async (t) => {
  if (!needsRoot(t)) return;
  if (!hasTaskset && process.env.CI !== "true") return t.skip("needs taskset to write to one CPU's ring");
  const { early, got } = await wakeups({ wakeupEvents: 8 }, 7, 1);
  assert.equal(early, 0, "7 samples woke a reader that asked for 8");
  assert.equal(got, 8, "the wakeup delivered all 8");
});

test("wakeupWatermark: bytes, not samples, wake the listener: below the watermark nothing, past it a wakeup", async (t) => {
  if (!needsRoot(t)) return;
  if (!hasTaskset && process.env.CI !== "true") return t.skip("needs taskset to write to one CPU's ring");
  const watermark = 512;
  // fewer bytes than half the watermark, then enough to pass it: far fewer samples than 512 (the
  // same number read as a sample count) and than half the ring (the kernel's default watermark)
  let quiet = 0;
  let bytes = 0;
  while (bytes + recordBytes(quiet) <= watermark / 2) bytes += recordBytes(quiet++);
  let more = 0;
  while (bytes <= watermark + 64) bytes += recordBytes(quiet + more++);
  const { early, got } = await wakeups({ wakeupWatermark: watermark }, quiet, more);
  assert.equal(early, 0, `${quiet} samples below the watermark woke the reader`);
  assert.equal(got, quiet + more);
});
