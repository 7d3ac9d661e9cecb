/**
 * PerfBuffer.consume against the kernel: samples written by bpf_perf_event_output in test runs
 * are read back byte for byte, in order, from the ring of the CPU they ran on; records crossing
 * the end of a small ring come out whole; a full ring's losses are reported exactly.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BpfMap } from "../../src/map/map.js";
import { PerfBuffer, type PerfRecord } from "../../src/perf/index.js";
import { needsRoot } from "../support/privilege.js";
import { hasTaskset, onCpu } from "./pin.js";
import { expectedRecord, paddedSize, perfOutputProgram, readState, runTimes, stateMap } from "./programs.js";

function eventsMap(): BpfMap {
  return BpfMap.create({ type: "perf_event_array", keySize: 4, valueSize: 4, maxEntries: 64 });
}

/** Checks a sample against the program's sample number `seq`: exact bytes, then padding up to the kernel's size. */
function checkSample(r: PerfRecord, seq: number): void {
  const want = expectedRecord(seq);
  assert.equal(r.length, paddedSize(want.length), `sample ${seq}: raw size`);
  assert.deepEqual(r.subarray().subarray(0, want.length), want, `sample ${seq}: bytes`);
  assert.deepEqual(r.copy().subarray(0, want.length), want, `sample ${seq}: copy`);
  assert.equal(r.view.getUint8(r.offset), want[0], `sample ${seq}: view`);
}

test("samples come back byte for byte and in order, sizes not multiples of 8, from the ring of the CPU that wrote them", (t) => {
  if (!needsRoot(t)) return;
  using events = eventsMap();
  using state = stateMap();
  using program = perfOutputProgram(events, state);
  using perf = PerfBuffer.open(events, { pageCount: 4 });
  assert.equal(perf.size, 4 * 4096);
  assert.equal(
    perf.consume(() => assert.fail("nothing written yet")),
    0,
  );
  if (!hasTaskset) t.diagnostic("taskset is not installed: samples are checked without choosing their CPU");
  let seq = 0;
  for (const cpu of perf.cpus) {
    // 14 samples: every size 1, 6, 11 ... 31 twice
    onCpu(cpu, () => runTimes(program, 14));
    const got: { cpu: number; seq: number }[] = [];
    const n = perf.consume((r) => {
      const s = seq + got.length;
      checkSample(r, s);
      got.push({ cpu: r.cpu, seq: s });
    });
    assert.equal(n, 14);
    if (hasTaskset)
      assert.ok(
        got.every((g) => g.cpu === cpu),
        `every sample came from CPU ${cpu}`,
      );
    seq += 14;
    assert.equal(perf.pending(cpu), 0);
  }
  assert.equal(readState(state).failed, 0);
  assert.equal(perf.delivered, seq);
  assert.equal(perf.lost, 0);
});

test("samples written on every CPU before any is read: each CPU's ring holds its own, in order; consume reads CPU by CPU", (t) => {
  if (!needsRoot(t)) return;
  using events = eventsMap();
  using state = stateMap();
  using program = perfOutputProgram(events, state);
  using perf = PerfBuffer.open(events, { pageCount: 2 });
  const expected: { cpu: number; seq: number }[] = [];
  let seq = 0;
  for (let round = 0; round < 3; round++) {
    for (const cpu of perf.cpus) {
      onCpu(cpu, () => runTimes(program, 5));
      for (let i = 0; i < 5; i++) expected.push({ cpu, seq: seq++ });
    }
  }
  if (!hasTaskset) {
    t.diagnostic(
      "taskset is not installed: which CPU a sample lands on is not chosen, only the count is checked",
    );
    assert.equal(
      perf.consume(() => {}),
      seq,
    );
    return;
  }
  // consume goes CPU by CPU, in the order of perf.cpus, each CPU's samples in the order written
  const want = perf.cpus.flatMap((cpu) => expected.filter((e) => e.cpu === cpu));
  let i = 0;
  const n = perf.consume((r) => {
    const w = want[i++]!;
    assert.equal(r.cpu, w.cpu, `sample ${w.seq}: CPU`);
    checkSample(r, w.seq);
  });
  assert.equal(n, seq);
});

test("a one-page ring filled and drained many times: records crossing its end come out whole", (t) => {
  if (!needsRoot(t)) return;
  using events = eventsMap();
  using state = stateMap();
  using program = perfOutputProgram(events, state);
  using perf = PerfBuffer.open(events, { pageCount: 1 });
  assert.equal(perf.size, 4096);
  const cpu = perf.cpus[0]!;
  let seq = 0;
  let wrapped = 0;
  // where each sample's record sits in the ring: positions start at 0 and each record takes its
  // 8-byte header, the u32 size and the raw bytes
  let position = 0;
  onCpu(cpu, () => {
    for (let round = 0; round < 300; round++) {
      // 37 samples of 16 to 48 bytes each: up to 1.4 KiB a round, never more than the ring holds
      runTimes(program, 37);
      const n = perf.consume((r) => {
        checkSample(r, seq);
        if ((position % perf.size) + 12 + r.length > perf.size) wrapped++;
        position += 12 + r.length;
        seq++;
      });
      assert.equal(n, 37, `round ${round}`);
    }
  });
  assert.equal(readState(state).failed, 0);
  assert.equal(perf.lost, 0);
  assert.ok(wrapped > 20, `records crossed the end of the ring (${wrapped} did)`);
});

test("a full ring: the program's failed outputs are the kernel's PERF_RECORD_LOST count, received + lost = attempts", (t) => {
  if (!needsRoot(t)) return;
  using events = eventsMap();
  using state = stateMap();
  using program = perfOutputProgram(events, state);
  const reported: { count: number; cpu: number }[] = [];
  const order: string[] = [];
  using perf = PerfBuffer.open(events, {
    pageCount: 1,
    onLost: (count, cpu) => {
      reported.push({ count, cpu });
      order.push("lost");
    },
  });
  const cpu = perf.cpus[perf.cpus.length - 1]!;
  // one test run stays on one CPU: 400 samples of up to 48 bytes overflow a 4 KiB ring
  const attempts = 400;
  onCpu(cpu, () => runTimes(program, attempts));
  let received = 0;
  let seq = 0;
  const check = (r: PerfRecord) => {
    checkSample(r, seq++);
    received++;
    order.push("sample");
  };
  perf.consume(check);
  const { failed } = readState(state);
  assert.ok(failed > 0, "the ring overflowed");
  assert.equal(received + failed, attempts, "every attempt either arrived or failed in the program");
  assert.equal(perf.lost, 0, "the kernel reports the loss with the next sample that fits, not before");
  // The kernel counts the failures (-ENOSPC) and writes one PERF_RECORD_LOST before the next
  // sample that fits on that CPU. Pinned, the next run goes there; unpinned, it may take a few.
  order.length = 0;
  let extra = 0;
  while (perf.lost < failed && extra < 1000) {
    extra++;
    onCpu(cpu, () => runTimes(program, 1));
    // the extra samples carry sequence numbers after the failed ones
    seq = attempts + extra - 1;
    perf.consume(check);
  }
  assert.equal(perf.lost, failed, "PERF_RECORD_LOST counted every failed output");
  assert.equal(received + perf.lost, attempts + extra, "received + lost = attempts");
  assert.equal(reported.length, 1);
  assert.equal(reported[0]!.count, failed);
  assert.equal(perf.lostOn(reported[0]!.cpu), failed);
  assert.equal(
    perf.cpus.reduce((sum, c) => sum + perf.lostOn(c), 0),
    failed,
  );
  if (hasTaskset) {
    assert.equal(extra, 1);
    assert.deepEqual(order, ["lost", "sample"], "the loss is reported before the sample that follows it");
  }
  assert.equal(readState(state).failed, failed, "no later output failed");
});

test("a callback that throws stops the drain; the samples before it and it are consumed", (t) => {
  if (!needsRoot(t)) return;
  using events = eventsMap();
  using state = stateMap();
  using program = perfOutputProgram(events, state);
  using perf = PerfBuffer.open(events);
  const cpu = perf.cpus[0]!;
  onCpu(cpu, () => runTimes(program, 5));
  let n = 0;
  assert.throws(
    () =>
      perf.consume(() => {
        if (++n === 2) throw new Error("second");
      }),
    /second/,
  );
  assert.throws(
    () => perf.consume(() => perf.consume(() => {})),
    (e: Error) => e.name === "InputError",
  );
  // the nested consume failed inside the third sample's callback, which the outer one then threw through
  const rest: number[] = [];
  perf.consume((r) => rest.push(r.bytes[r.offset]! >> 4));
  assert.deepEqual(rest, [3, 4]);
  assert.equal(perf.delivered, 5);
});

test("wakeupEvents and wakeupWatermark are accepted by the kernel and change nothing for consume", (t) => {
  if (!needsRoot(t)) return;
  using events = eventsMap();
  using state = stateMap();
  using program = perfOutputProgram(events, state);
  for (const options of [{ wakeupEvents: 16 }, { wakeupWatermark: 256 }]) {
    using perf = PerfBuffer.open(events, options);
    const first = readState(state).seq;
    onCpu(perf.cpus[0]!, () => runTimes(program, 3));
    let seq = first;
    assert.equal(
      perf.consume((r) => checkSample(r, seq++)),
      3,
      JSON.stringify(options),
    );
  }
});
