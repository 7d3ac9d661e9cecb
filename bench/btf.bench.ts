/**
 * BTF speed, against libbpf and bpftool in the same run:
 * - indexing vmlinux's BTF in process (warm, median of many runs): `Btf.parse` vs libbpf's
 *   `btf__new` on the same bytes in memory (and `btf__parse` on the file), in a C program this
 *   bench writes and compiles with `cc ... -lbpf` on the spot. Goal: within 2x of libbpf.
 * - memory: what parsing (and the name index) adds, against the blob's size. Goal: under 2x.
 * - whole processes, same input (/sys/kernel/btf/vmlinux), output to /dev/null:
 *   `node bin/rawbpf.js btf dump --format c|raw` vs `bpftool btf dump file ... format c|raw`, and
 *   `node -e 0` for Node's own start-up. The commands take turns (so a busy machine slows them
 *   alike); each is timed by bash's `time` (wall, user and system CPU, 1 ms resolution); the
 *   median of ROUNDS runs is printed with the ratios. Goal: no slower than bpftool.
 *   NODE_EXTRA_CA_CERTS is unset for every command (see bench/support.ts); `node -e 0` is timed
 *   with it too, to show what it costs.
 *
 * Run: `npm run bench -- btf` (builds dist first) or
 * `npx tsc -p . && node --expose-gc --import tsx bench/btf.bench.ts [--rounds N]`.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Btf } from "../src/btf/decode.js";
import { median, nodeStartCommands, printNodeStart, type Run, timeAll } from "./support.js";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const RUNS = 200;
const roundsAt = process.argv.indexOf("--rounds");
const ROUNDS = roundsAt > 0 ? Number(process.argv[roundsAt + 1]) : 11;
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const build = join(root, "bench", ".build");
mkdirSync(build, { recursive: true });

// ---- the C baseline ----
const csrc = join(build, "btf-parse.c");
const cbin = join(build, "btf-parse");
writeFileSync(
  csrc,
  `#include <bpf/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
int main(int argc, char **argv) {
  int runs = atoi(argv[2]);
  FILE *f = fopen(argv[1], "rb");
  if (!f) return 1;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *data = malloc(size);
  if (fread(data, 1, size, f) != (size_t)size) return 1;
  fclose(f);
  double *t = calloc(runs, sizeof(double));
  double *u = calloc(runs, sizeof(double));
  unsigned types = 0;
  for (int i = 0; i < runs; i++) {
    double t0 = now_ms();
    struct btf *btf = btf__new(data, size);
    t[i] = now_ms() - t0;
    if (!btf) return 2;
    types = btf__type_cnt(btf);
    btf__free(btf);
    t0 = now_ms();
    btf = btf__parse(argv[1], NULL);
    u[i] = now_ms() - t0;
    if (!btf) return 3;
    btf__free(btf);
  }
  qsort(t, runs, sizeof(double), cmp);
  qsort(u, runs, sizeof(double), cmp);
  printf("%u %.4f %.4f\\n", types, t[runs / 2], u[runs / 2]);
  return 0;
}
`,
);
const cc = spawnSync("cc", ["-O2", "-o", cbin, csrc, "-lbpf"], { encoding: "utf8" });
if (cc.status !== 0) throw new Error(`cc failed: ${cc.stderr}`);
const c = spawnSync(cbin, [VMLINUX, String(RUNS)], { encoding: "utf8" });
if (c.status !== 0) throw new Error(`${cbin} failed (${c.status}): ${c.stderr}`);
const [cTypes, cNew, cParse] = c.stdout.trim().split(" ").map(Number) as [number, number, number];

// ---- ours, in process ----
const bytes = readFileSync(VMLINUX);
const times: number[] = [];
let types = 0;
for (let i = 0; i < RUNS + 20; i++) {
  const t0 = performance.now();
  const btf = Btf.parse(bytes);
  const ms = performance.now() - t0;
  types = btf.endId;
  if (i >= 20) times.push(ms);
}
const fileTimes: number[] = [];
for (let i = 0; i < RUNS / 4; i++) {
  const t0 = performance.now();
  Btf.parse(readFileSync(VMLINUX));
  fileTimes.push(performance.now() - t0);
}
if (types !== cTypes) throw new Error(`type counts differ: ours ${types}, libbpf ${cTypes}`);

// ---- memory ----
const gc = (globalThis as { gc?: () => void }).gc;
const used = () => {
  // several collections: a buffer from the file reads above may be freed only by a later one
  for (let i = 0; i < 4; i++) gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const before = used();
const kept = Btf.parse(bytes);
const afterParse = used();
kept.findIds("task_struct");
const afterNames = used();

// ---- whole processes ----
const node = JSON.stringify(process.execPath);
const cli = `${node} ${JSON.stringify(join(root, "bin", "rawbpf.js"))} btf dump`;
const tool = `bpftool btf dump file ${VMLINUX} format`;
const start = nodeStartCommands();
const t = timeAll(
  {
    ourC: `${cli} --format c`,
    toolC: `${tool} c`,
    ourRaw: `${cli} --format raw`,
    toolRaw: `${tool} raw`,
    ...start.commands,
  },
  ROUNDS,
  start.keepEnv,
);

const f = (x: number) => x.toFixed(3).padStart(9);
const ms = (x: number) => x.toFixed(0).padStart(4);
const mb = (x: number) => `${(x / 1048576).toFixed(2)} MB`;
console.log(`vmlinux BTF: ${bytes.length} bytes, ${types - 1} types`);
console.log(
  `index (in memory)   rawbpf ${f(median(times))} ms   libbpf btf__new   ${f(cNew)} ms   ratio ${(median(times) / cNew).toFixed(2)} (goal <= 2)`,
);
console.log(
  `index (from file)   rawbpf ${f(median(fileTimes))} ms   libbpf btf__parse ${f(cParse)} ms   ratio ${(median(fileTimes) / cParse).toFixed(2)}`,
);
console.log(
  `memory added        parse ${mb(afterParse - before)}, + name index ${mb(afterNames - afterParse)}; blob ${mb(bytes.length)}; ratio ${((afterNames - before) / bytes.length).toFixed(2)} of the blob (goal < 2)`,
);
const proc = (what: string, ours: Run, theirs: Run) =>
  console.log(
    `${what}  rawbpf ${ms(ours.wall)} ms (CPU ${ms(ours.cpu)})   bpftool ${ms(theirs.wall)} ms (CPU ${ms(theirs.cpu)})   ` +
      `ratio ${(ours.wall / theirs.wall).toFixed(2)} (CPU ${(ours.cpu / theirs.cpu).toFixed(2)})`,
  );
console.log(`whole processes, median of ${ROUNDS} runs each, in turns (goal: ratio <= 1):`);
proc("C header", t.ourC!, t.toolC!);
proc("raw list", t.ourRaw!, t.toolRaw!);
printNodeStart(t);
void kept;
