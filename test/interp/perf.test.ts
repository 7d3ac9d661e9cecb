/**
 * PerfBuffer over in-memory perf rings (backend: "memory"): the reader's code reads rings laid out
 * as the kernel's perf mmap; samples, their padding, full rings and PERF_RECORD_LOST.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setImmediate as turn } from "node:timers/promises";
import { u32, u64 } from "../../src/codec/index.js";
import { assemble } from "../../src/isa/asm/index.js";
import { BpfMap } from "../../src/map/map.js";
import { PerfBuffer } from "../../src/perf/index.js";
import { Program } from "../../src/program/program.js";
import { needsRoot } from "../support/privilege.js";

// each run: seq += 1; bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, {seq, seq * 3}, 16);
// returns the helper's result
const SOURCE = `.map events type=perf_event_array key=4 value=4 entries=64
.map st type=array key=4 value=8 entries=1
r6 = r1
r1 = 0
*(u32 *)(r10 - 4) = r1
r1 = map_fd(st)
r2 = r10
r2 += -4
call bpf_map_lookup_elem
if r0 == 0 goto out
r7 = *(u64 *)(r0 + 0)
r7 += 1
*(u64 *)(r0 + 0) = r7
*(u64 *)(r10 - 24) = r7
r7 *= 3
*(u64 *)(r10 - 16) = r7
r1 = r6
r2 = map_fd(events)
w3 = -1
r4 = r10
r4 += -24
r5 = 16
call bpf_perf_event_output
out:
exit`;

function setup(backend: "kernel" | "memory") {
  const events = BpfMap.create({
    type: "perf_event_array",
    keySize: 4,
    valueSize: 4,
    maxEntries: 64,
    backend,
  });
  const st = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 1, backend });
  const prog = Program.load({
    type: "socket_filter",
    instructions: assemble(SOURCE),
    maps: { events, st },
    backend,
  });
  const run = () => prog.testRun({ data: new Uint8Array(20) }).retval | 0;
  return {
    events,
    run,
    [Symbol.dispose]() {
      prog.close();
      st.close();
      events.close();
    },
  };
}

async function samples(backend: "kernel" | "memory") {
  using s = setup(backend);
  const before = s.run(); // no reader: nothing stored at the CPU's slot
  using perf = PerfBuffer.open(s.events, { pageCount: 2 });
  const got: string[] = [];
  const results = [s.run(), s.run(), s.run()];
  perf.consume((r) => got.push(Buffer.from(r.copy()).toString("hex")));
  perf.start((r) => got.push(Buffer.from(r.copy()).toString("hex")));
  results.push(s.run(), s.run());
  for (let i = 0; i < 10 && got.length < 5; i++) await turn();
  perf.stop();
  return { before, results, got: got.sort(), delivered: perf.delivered };
}

test("a PerfBuffer reads memory perf rings as it reads the kernel's", async (t) => {
  const memory = await samples("memory");
  assert.equal(memory.before, -2, "ENOENT without a reader, as the kernel says");
  assert.deepEqual(memory.results, [0, 0, 0, 0, 0]);
  assert.equal(memory.got.length, 5);
  // 16 bytes of data padded to a raw size of 20 (the record 8-byte aligned): 4 zero bytes
  assert.equal(
    memory.got[0],
    `${"0200000000000000"}${"0600000000000000"}00000000`,
    "seq 2 (the run before the reader took 1)",
  );
  if (!needsRoot(t)) return;
  assert.deepEqual(memory, await samples("kernel"), "the kernel's rings give the same");
});

test("a full memory perf ring fails with ENOSPC and reports the lost samples before the next", () => {
  using s = setup("memory");
  const lost: number[] = [];
  using perf = PerfBuffer.open(s.events, { pageCount: 1, onLost: (n) => lost.push(n) });
  const results = Array.from({ length: 200 }, () => s.run());
  // 32 bytes a sample (8 header + 4 size + 20 raw); the kernel keeps one byte of 4096 free: 127 fit
  assert.equal(results.filter((r) => r === 0).length, 127);
  assert.ok(
    results.slice(127).every((r) => r === -28),
    "the rest fail with -ENOSPC",
  );
  let n = perf.consume(() => {});
  assert.equal(n, 127);
  assert.equal(s.run(), 0);
  n = perf.consume(() => {});
  assert.equal(n, 1);
  assert.deepEqual(lost, [73], "PERF_RECORD_LOST before the next sample");
  assert.equal(perf.lost, 73);
});
