/**
 * What PerfBuffer.close() leaves in the map, found by mutation testing (npm run mutate --
 * src/perf): the oracle is the errno bpf_perf_event_output returns (the program hands it back as
 * its return value). With no event at the CPU's key it is ENOENT; an event left behind whose ring
 * is gone fails differently, so a test that only counts failures cannot tell the two apart.
 */
import assert from "node:assert/strict";
import { constants } from "node:os";
import { test } from "node:test";
import { BpfMap } from "../../src/map/map.js";
import { PerfBuffer } from "../../src/perf/index.js";
import type { Program } from "../../src/program/program.js";
import { needsRoot } from "../support/privilege.js";
import { onCpu } from "./pin.js";
import { valueOutputProgram } from "./programs.js";

/** What the helper returned in one run of the program on `cpu`, as a signed number. */
function outputOn(program: Program, cpu: number): number {
  return onCpu(cpu, () => program.testRun({ data: Buffer.alloc(14) }).retval | 0);
}

function maps(): { events: BpfMap; data: BpfMap } {
  return {
    events: BpfMap.create({ type: "perf_event_array", keySize: 4, valueSize: 4, maxEntries: 64 }),
    data: BpfMap.create({ type: "array", keySize: 4, valueSize: 8, maxEntries: 1 }),
  };
}

test("close() deletes the reader's events from the map: the helper then finds none (ENOENT)", (t) => {
  if (!needsRoot(t)) return;
  const { events, data } = maps();
  using _events = events;
  using _data = data;
  using program = valueOutputProgram(events, data, 8);
  const perf = PerfBuffer.open(events);
  const cpu = perf.cpus[0]!;
  assert.equal(outputOn(program, cpu), 0, "an open reader's event takes the sample");
  assert.equal(
    perf.consume(() => {}),
    1,
  );
  perf.close();
  assert.equal(outputOn(program, cpu), -constants.errno.ENOENT, "no event left at the CPU's key");
});

test("two readers of one map: closing the first leaves the second's events; closing the second deletes them", (t) => {
  if (!needsRoot(t)) return;
  const { events, data } = maps();
  using _events = events;
  using _data = data;
  using program = valueOutputProgram(events, data, 8);
  const first = PerfBuffer.open(events);
  const second = PerfBuffer.open(events); // stores its own events at every CPU's key
  const cpu = second.cpus[0]!;
  first.close();
  for (let i = 0; i < 3; i++)
    assert.equal(outputOn(program, cpu), 0, `output ${i} after the first reader closed found an event`);
  assert.equal(first.lost + second.consume(() => {}), 3, "the second reader got the samples");
  second.close();
  assert.equal(
    outputOn(program, cpu),
    -constants.errno.ENOENT,
    "closing the second reader deleted its events",
  );
});
