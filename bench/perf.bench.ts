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
import { spawnSync } from "node:child_process";
import type { BpfMap } from "../src/map/map.js";
import { BpfMap as Maps } from "../src/map/map.js";
import { PerfBuffer, type PerfRecord } from "../src/perf/index.js";
import type { Program } from "../src/program/program.js";
import { perfOutputProgram, readState, resetState, runTimes, stateMap } from "../test/perf/programs.js";
import { buildBaseline, compareDrains, printDrain } from "./drain.js";

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
  const bin = buildBaseline("perf_baseline", C_SOURCE);
  const js = side("bench_js");
  const c = side("bench_c");
  const reader = PerfBuffer.open(js.events, { pageCount: PAGES });
  const result = compareDrains<PerfRecord>({
    unit: "samples",
    count: SAMPLES,
    rounds: ROUNDS,
    fill: () => fill(js),
    drain: (onRecord) => {
      const n = reader.consume(onRecord);
      if (reader.lost !== 0) throw new Error(`the kernel lost ${reader.lost} samples`);
      return n;
    },
    cDrains: 3,
    runC: () => {
      const r = spawnSync(bin, [String(SAMPLES), "3", String(PAGES)], {
        stdio: ["ignore", "pipe", "inherit", c.events.fd, c.program.fd, c.state.fd],
        encoding: "utf8",
      });
      if (r.status !== 0) throw new Error(`the C baseline failed (status ${r.status})`);
      const out = JSON.parse(r.stdout) as { perSample: number; sum: number };
      return { perItem: out.perSample, sum: out.sum };
    },
  });
  printDrain(
    `perf.bench: ${SAMPLES} samples of 1-31 bytes into ${(PAGES * 4096) >> 20} MiB rings per CPU, drained; best of ${ROUNDS} rounds`,
    "drain (consume vs perf_buffer__consume)",
    "sample",
    result,
  );
  reader.close();
  for (const s of [js, c]) {
    s.program.close();
    s.state.close();
    s.events.close();
  }
}

main();
