/**
 * PerfBuffer over two CPUs, found by mutation testing (npm run mutate -- src/perf): pending() is
 * per CPU, and close() from a callback ends consume() there, before the next CPU's ring. The
 * samples are written by test runs pinned to a CPU (the kernel writes into that CPU's ring).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BpfMap } from "../../src/map/map.js";
import { PerfBuffer } from "../../src/perf/index.js";
import { InputError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";
import { hasTaskset, onCpu } from "./pin.js";
import { paddedSize, perfOutputProgram, readState, runTimes, stateMap } from "./programs.js";

function twoCpus(t: { skip(message: string): void }, perf: PerfBuffer): [number, number] | undefined {
  if (perf.cpus.length < 2 || !hasTaskset) {
    t.skip("needs two online CPUs and taskset");
    return undefined;
  }
  return [perf.cpus[0]!, perf.cpus[1]!];
}

test("pending() counts the bytes of the CPU asked about, not another's; a CPU not read is an InputError", (t) => {
  if (!needsRoot(t)) return;
  using events = BpfMap.create({ type: "perf_event_array", keySize: 4, valueSize: 4, maxEntries: 64 });
  using state = stateMap();
  using program = perfOutputProgram(events, state);
  using perf = PerfBuffer.open(events);
  const cpus = twoCpus(t, perf);
  if (!cpus) return;
  const [a, b] = cpus;
  onCpu(b, () => runTimes(program, 3)); // samples 0, 1, 2 on the second CPU only
  assert.equal(readState(state).failed, 0);
  // sample seq is 1 + (seq % 7) * 5 bytes: a record is its header, the u32 size and the padded bytes
  const want = [0, 1, 2].reduce((sum, seq) => sum + 12 + paddedSize(1 + (seq % 7) * 5), 0);
  assert.equal(perf.pending(a), 0, `CPU ${a} has nothing`);
  assert.equal(perf.pending(b), want, `CPU ${b} holds the three records`);
  assert.throws(() => perf.pending(4096), InputError);
  assert.equal(
    perf.consume(() => {}),
    3,
  );
  assert.equal(perf.pending(b), 0, "consumed");
});

test("close() from a callback ends consume() after that sample: the next CPU's ring is not read", (t) => {
  if (!needsRoot(t)) return;
  using events = BpfMap.create({ type: "perf_event_array", keySize: 4, valueSize: 4, maxEntries: 64 });
  using state = stateMap();
  using program = perfOutputProgram(events, state);
  const perf = PerfBuffer.open(events);
  const cpus = twoCpus(t, perf);
  if (!cpus) {
    perf.close();
    return;
  }
  onCpu(cpus[0], () => runTimes(program, 2));
  onCpu(cpus[1], () => runTimes(program, 2));
  let calls = 0;
  const n = perf.consume(() => {
    calls++;
    perf.close();
  });
  assert.equal(calls, 1, "one callback, then the drain stopped");
  assert.equal(n, 1);
  assert.equal(perf.closed, true);
});
