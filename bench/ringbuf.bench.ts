/**
 * Draining a ring buffer: RingBuffer.consume against libbpf's ring_buffer__consume (C, compiled
 * here with cc against libbpf-dev) on an identical ring filled the same way, printing ns per
 * record and the ratio.
 *
 * Equal work: each side has its own ringbuf map of the same size, its own copy of the same
 * program (test/ringbuf/programs.ts `outputProgram`: records of 1 to 31 bytes, sizes cycling with
 * the sequence number) and its own state map. Each round, a side resets its sequence to 0, fills
 * its ring with RECORDS records by one BPF_PROG_TEST_RUN with that repeat count, and times only
 * the drain; every record callback adds the record's first byte and its length to a sum. The C
 * side does its rounds in a child process that gets its ring, program and state as fds 3, 4 and
 * 5, so its first round also pays the page faults of its fresh mapping, as the JS side's first
 * (unmeasured) round does; the best round of each side counts, JS and C rounds interleave.
 * A drain takes about a millisecond, below what CPU-time accounting resolves, so both sides
 * time it on the monotonic wall clock.
 *
 * Run: `node --expose-gc --import tsx bench/ringbuf.bench.ts` (as root).
 */
import { spawnSync } from "node:child_process";
import type { BpfMap } from "../src/map/map.js";
import { BpfMap as Maps } from "../src/map/map.js";
import type { Program } from "../src/program/program.js";
import { RingBuffer, type RingRecord } from "../src/ringbuf/index.js";
import { outputProgram, readState, resetState, runTimes, stateMap } from "../test/ringbuf/programs.js";
import { buildBaseline, compareDrains, printDrain } from "./drain.js";

const RECORDS = Number(process.env.RINGBUF_BENCH_RECORDS ?? 200_000);
const ROUNDS = Number(process.env.RINGBUF_BENCH_ROUNDS ?? 30);
/** 8 MiB: room for RECORDS records of at most 40 bytes with their headers */
const RING_SIZE = 1 << 23;

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

/* the same work as the JS callback: the record's first byte and its length into a sum */
static int on_sample(void *ctx, void *data, size_t size) {
  *(uint64_t *)ctx += ((const uint8_t *)data)[0] + size;
  return 0;
}

/* argv: records rounds; fd 3 the ring, fd 4 the program, fd 5 its state map */
int main(int argc, char **argv) {
  if (argc < 3) return 2;
  int records = atoi(argv[1]), rounds = atoi(argv[2]);
  uint64_t sum = 0;
  struct ring_buffer *rb = ring_buffer__new(3, on_sample, &sum, NULL);
  if (!rb) { perror("ring_buffer__new"); return 1; }
  uint8_t packet[14] = {0}, state[32], out[64];
  uint32_t key = 0;
  double best = 1e30;
  for (int r = 0; r < rounds; r++) {
    memset(state, 0, sizeof state);
    if (bpf_map_update_elem(5, &key, state, 0)) { perror("reset state"); return 1; }
    LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = packet, .data_size_in = sizeof packet,
                .data_out = out, .data_size_out = sizeof out, .repeat = records);
    if (bpf_prog_test_run_opts(4, &run)) { perror("test run"); return 1; }
    double t0 = now();
    int got = ring_buffer__consume(rb);
    double t1 = now();
    if (got != records) { fprintf(stderr, "consumed %d records, not %d\\n", got, records); return 1; }
    if ((t1 - t0) / records < best) best = (t1 - t0) / records;
  }
  ring_buffer__free(rb);
  printf("{\\"perRecord\\": %.3f, \\"sum\\": %llu}\\n", best, (unsigned long long)sum);
  return 0;
}
`;

/** One side: its ring, program and state. */
interface Side {
  ring: BpfMap;
  state: BpfMap;
  program: Program;
}

function side(name: string): Side {
  const ring = Maps.create({ type: "ringbuf", maxEntries: RING_SIZE, name });
  const state = stateMap();
  return { ring, state, program: outputProgram(ring, state) };
}

/** Resets the sequence and fills the ring with RECORDS records; checks none failed. */
function fill(s: Side): void {
  resetState(s.state);
  runTimes(s.program, RECORDS);
  const { seq, failed } = readState(s.state);
  if (seq !== RECORDS || failed !== 0) throw new Error(`filling the ring: ${seq} runs, ${failed} failed`);
}

function main(): void {
  const bin = buildBaseline("ringbuf_baseline", C_SOURCE);
  const js = side("bench_js");
  const c = side("bench_c");
  using reader = RingBuffer.open(js.ring);
  const result = compareDrains<RingRecord>({
    unit: "records",
    count: RECORDS,
    rounds: ROUNDS,
    fill: () => fill(js),
    drain: (onRecord) => reader.consume(onRecord),
    cDrains: 3,
    runC: () => {
      const r = spawnSync(bin, [String(RECORDS), "3"], {
        stdio: ["ignore", "pipe", "inherit", c.ring.fd, c.program.fd, c.state.fd],
        encoding: "utf8",
      });
      if (r.status !== 0) throw new Error(`the C baseline failed (status ${r.status})`);
      const out = JSON.parse(r.stdout) as { perRecord: number; sum: number };
      return { perItem: out.perRecord, sum: out.sum };
    },
  });
  printDrain(
    `ringbuf.bench: ${RECORDS} records of 1-31 bytes in a ${RING_SIZE >> 20} MiB ring, drained; best of ${ROUNDS} rounds`,
    "drain (consume vs ring_buffer__consume)",
    "record",
    result,
  );
  for (const s of [js, c]) {
    s.program.close();
    s.state.close();
    s.ring.close();
  }
}

main();
