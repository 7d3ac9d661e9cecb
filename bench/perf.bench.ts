/**
 * Draining a perf event array: PerfBuffer.consume against libbpf's perf_buffer__consume (C,
 * compiled here with cc against libbpf-dev) on identical rings filled the same way, printing ns
 * per sample and the ratio.
 *
 * Equal work: each side has its own perf_event_array map, opens its own per-CPU events and rings
 * of PAGES data pages (PerfBuffer.open; perf_buffer__new), and runs its own copy of the same
 * program (test/perf/programs.ts `perfOutputProgram`: samples of 1 to 31 bytes, written with
 * bpf_perf_event_output(BPF_F_CURRENT_CPU)) with its own state map. Each round, a side resets its
 * sequence to 0, writes SAMPLES samples by one BPF_PROG_TEST_RUN with that repeat count (all on
 * the CPU the test run ran on) and times only the drain of every CPU's ring; every sample
 * callback adds the sample's first byte and its length to a sum. The C side does its rounds in a
 * child process that gets its map, program and state as fds 3, 4 and 5; the best round of each
 * side counts, JS and C rounds interleave. Both time the drain on the monotonic wall clock.
 *
 * Run: `node --expose-gc --import tsx bench/perf.bench.ts` (as root).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { BpfMap } from "../src/map/map.js";
import { BpfMap as Maps } from "../src/map/map.js";
import { PerfBuffer, type PerfRecord } from "../src/perf/index.js";
import type { Program } from "../src/program/program.js";
import { perfOutputProgram, readState, resetState, runTimes, stateMap } from "../test/perf/programs.js";

const SAMPLES = Number(process.env.PERF_BENCH_SAMPLES ?? 100_000);
const ROUNDS = Number(process.env.PERF_BENCH_ROUNDS ?? 30);
/** data pages per CPU: 8 MiB, room for SAMPLES samples of at most 48 bytes with their headers */
const PAGES = 2048;

const C_SOURCE = `
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct totals { uint64_t sum; uint64_t count; uint64_t lost; };

/* the same work as the JS callback: the sample's first byte and its length into a sum */
static void on_sample(void *ctx, int cpu, void *data, __u32 size) {
  struct totals *t = ctx;
  t->sum += ((const uint8_t *)data)[0] + size;
  t->count++;
}

static void on_lost(void *ctx, int cpu, __u64 count) { ((struct totals *)ctx)->lost += count; }

/* argv: samples rounds pages; fd 3 the perf event array, fd 4 the program, fd 5 its state map */
int main(int argc, char **argv) {
  if (argc < 4) return 2;
  int samples = atoi(argv[1]), rounds = atoi(argv[2]), pages = atoi(argv[3]);
  struct totals t = {0};
  struct perf_buffer *pb = perf_buffer__new(3, pages, on_sample, on_lost, &t, NULL);
  if (!pb) { perror("perf_buffer__new"); return 1; }
  uint8_t packet[14] = {0}, state[32], out[64];
  uint32_t key = 0;
  double best = 1e30;
  for (int r = 0; r < rounds; r++) {
    memset(state, 0, sizeof state);
    if (bpf_map_update_elem(5, &key, state, 0)) { perror("reset state"); return 1; }
    LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = packet, .data_size_in = sizeof packet,
                .data_out = out, .data_size_out = sizeof out, .repeat = samples);
    if (bpf_prog_test_run_opts(4, &run)) { perror("test run"); return 1; }
    uint64_t before = t.count;
    double t0 = now();
    int err = perf_buffer__consume(pb);
    double t1 = now();
    if (err || t.count - before != (uint64_t)samples || t.lost) {
      fprintf(stderr, "consumed %llu samples, not %d (lost %llu)\\n",
              (unsigned long long)(t.count - before), samples, (unsigned long long)t.lost);
      return 1;
    }
    if ((t1 - t0) / samples < best) best = (t1 - t0) / samples;
  }
  perf_buffer__free(pb);
  printf("{\\"perSample\\": %.3f, \\"sum\\": %llu}\\n", best, (unsigned long long)t.sum);
  return 0;
}
`;

function buildC(): string {
  const dir = fileURLToPath(new URL("./.build/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  const src = `${dir}perf_baseline.c`;
  const bin = `${dir}perf_baseline`;
  writeFileSync(src, C_SOURCE);
  execFileSync("cc", ["-O2", "-o", bin, src, "-lbpf"]);
  return bin;
}

/** One side: its map, program and state. */
interface Side {
  events: BpfMap;
  state: BpfMap;
  program: Program;
}

function side(name: string): Side {
  const events = Maps.create({ type: "perf_event_array", keySize: 4, valueSize: 4, maxEntries: 64, name });
  const state = stateMap();
  return { events, state, program: perfOutputProgram(events, state) };
}

/** Resets the sequence and writes SAMPLES samples; checks none failed. */
function fill(s: Side): void {
  resetState(s.state);
  runTimes(s.program, SAMPLES);
  const { seq, failed } = readState(s.state);
  if (seq !== SAMPLES || failed !== 0) throw new Error(`writing samples: ${seq} runs, ${failed} failed`);
}

function main(): void {
  const bin = buildC();
  const js = side("bench_js");
  const c = side("bench_c");
  using reader = PerfBuffer.open(js.events, { pageCount: PAGES });
  // the sum of one drain stays a small integer (a Smi): adding to it allocates nothing
  let sum = 0;
  let drainSum = 0;
  const onRecord = (r: PerfRecord): void => {
    sum += r.bytes[r.offset]! + r.length;
  };
  const drain = (): number => {
    fill(js);
    sum = 0;
    const t0 = process.hrtime.bigint();
    const n = reader.consume(onRecord);
    const t = Number(process.hrtime.bigint() - t0);
    if (n !== SAMPLES || reader.lost !== 0) throw new Error(`consumed ${n} samples, not ${SAMPLES}`);
    drainSum = sum;
    return t / SAMPLES;
  };
  // warm up the JIT (and fault in the mappings)
  for (let i = 0; i < 5; i++) drain();

  let ours = Number.POSITIVE_INFINITY;
  let base = Number.POSITIVE_INFINITY;
  let cSum = 0;
  for (let round = 0; round < ROUNDS; round++) {
    ours = Math.min(ours, drain());
    const r = spawnSync(bin, [String(SAMPLES), "3", String(PAGES)], {
      stdio: ["ignore", "pipe", "inherit", c.events.fd, c.program.fd, c.state.fd],
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`the C baseline failed (status ${r.status})`);
    const out = JSON.parse(r.stdout) as { perSample: number; sum: number };
    base = Math.min(base, out.perSample);
    cSum = out.sum;
  }

  // allocation: heap growth over one drain of SAMPLES samples (garbage collected first), the least of 5
  const gc = (globalThis as { gc?: () => void }).gc;
  let allocated = "n/a (run with --expose-gc)";
  if (gc) {
    let least = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 5; i++) {
      fill(js);
      sum = 0;
      gc();
      const before = process.memoryUsage().heapUsed;
      reader.consume(onRecord);
      least = Math.min(least, process.memoryUsage().heapUsed - before);
    }
    allocated = `${Math.max(0, least)} bytes of heap over ${SAMPLES} samples`;
  }

  // both sides summed the same samples (C over its 3 rounds): a mismatch would mean unequal work
  if (drainSum * 3 !== cSum) throw new Error(`sums differ: JS ${drainSum} a drain, C ${cSum} over 3`);

  console.log(
    `perf.bench: ${SAMPLES} samples of 1-31 bytes into ${(PAGES * 4096) >> 20} MiB rings per CPU, drained; best of ${ROUNDS} rounds`,
  );
  console.log(
    "operation                                  ns/sample JS   ns/sample C   JS/C   (goal: none set)",
  );
  console.log(
    `${"drain (consume vs perf_buffer__consume)".padEnd(42)} ${ours.toFixed(2).padStart(12)} ${base.toFixed(2).padStart(13)} ${(ours / base).toFixed(3).padStart(6)}`,
  );
  console.log(`allocation in consume: ${allocated}`);
  reader.close();
  for (const s of [js, c]) {
    s.program.close();
    s.state.close();
    s.events.close();
  }
}

main();
