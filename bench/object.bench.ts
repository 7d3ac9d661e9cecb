/**
 * Clang objects (issue 11, part 10), against libbpf and bpftool in the same run, on an object the
 * bench writes and compiles with clang-19 on the spot: 24 XDP programs reading fields of the
 * kernel's task_struct (offsets, sizes, existence checks and BPF_CORE_READs), about 2,200 CO-RE
 * relocations, plus a u64 global in .bss.
 *
 * - In process (median of warm runs): rawbpf's `BpfObject.open` + `relocate()` (CO-RE against
 *   vmlinux), and open + relocate + load, against libbpf's bpf_object__open_mem and
 *   bpf_object__load in a C baseline compiled with `cc ... -lbpf`. This libbpf (1.1) has no
 *   bpf_object__prepare: its CO-RE relocation happens inside bpf_object__load, with map creation
 *   and the program loads, so the like-for-like pair is open + relocate + load against open +
 *   load; open alone is compared too. Goal: rawbpf's open + relocation at most libbpf's time.
 * - Whole process: `rawbpf load OBJ.o` (every program, from dist/) against
 *   `bpftool prog loadall OBJ.o PIN` (the pins removed in the same command). Goal: no slower.
 * - A u64 global read and written through shared memory (`obj.variable(name).get()/set()`) against
 *   a lookup system call on its .bss map (`obj.map(...).get(0)`). Goal: at least 20x cheaper.
 *
 * Run: `node --import tsx bench/object.bench.ts` (as root; `npm run bench -- object`).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { vmlinuxBtf } from "../src/btf/kernel.js";
import { BpfObject } from "../src/object/object.js";
import { median, nodeStartCommands, printNodeStart, timeAll } from "./support.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const BUILD = join(ROOT, "bench", ".build");
const PROGRAMS = 24;
const FIELDS = 30;
const RUNS = Number(process.env.OBJECT_BENCH_RUNS ?? 15);
const ROUNDS = Number(process.env.OBJECT_BENCH_ROUNDS ?? 7);
mkdirSync(BUILD, { recursive: true });

// ---- the object: fields of task_struct this kernel has, declared as CO-RE locals ----
const vm = vmlinuxBtf();
const taskId = vm.findId("task_struct", "struct");
if (taskId === undefined) throw new Error("vmlinux has no struct task_struct");
const task = vm.type(taskId);
if (task.kind !== "struct") throw new Error("task_struct is not a struct");
const fields = task.members
  .filter((m) => m.name && m.bitfieldSize === 0 && m.bitOffset % 8 === 0)
  .map((m) => ({ name: m.name, kind: vm.kindName(vm.resolve(m.type)) }))
  .filter((m) => m.kind === "int" || m.kind === "enum" || m.kind === "ptr")
  .slice(0, FIELDS + 10);
if (fields.length < FIELDS) throw new Error(`task_struct has only ${fields.length} plain fields`);

const lines = [
  "// Written by bench/object.bench.ts: CO-RE reads of task_struct in many programs.",
  "#include <linux/bpf.h>",
  "#include <bpf/bpf_helpers.h>",
  "#include <bpf/bpf_core_read.h>",
  "struct task_struct {",
  ...fields.map((f) => `\t${f.kind === "ptr" ? "void *" : "long "}${f.name};`),
  "} __attribute__((preserve_access_index));",
  "__u64 out[256];",
  "__u64 counter;",
];
for (let p = 0; p < PROGRAMS; p++) {
  lines.push('SEC("xdp")', `int read_task_${p}(struct xdp_md *ctx)`, "{");
  lines.push("\tstruct task_struct *t = (void *)bpf_get_current_task();");
  for (let i = 0; i < FIELDS; i++) {
    const f = fields[(p + i) % fields.length]!.name;
    const slot = (p * 7 + i * 3) % 250;
    lines.push(
      `\tout[${slot}] += bpf_core_field_offset(t->${f}) + bpf_core_field_size(t->${f}) * ${i + 2} + bpf_core_field_exists(t->${f});`,
    );
  }
  for (let i = 0; i < 4; i++)
    lines.push(`\tout[${250 + i}] = (__u64)BPF_CORE_READ(t, ${fields[(p + i) % fields.length]!.name});`);
  lines.push("\tcounter++;", "\treturn XDP_PASS;", "}");
}
lines.push('char LICENSE[] SEC("license") = "GPL";', "");
const csrc = join(BUILD, "core_bench.bpf.c");
const obj = join(BUILD, "core_bench.bpf.o");
writeFileSync(csrc, lines.join("\n"));
const triple = execFileSync("cc", ["-print-multiarch"], { encoding: "utf8" }).trim();
execFileSync("clang-19", ["-target", "bpf", "-O2", "-g", `-I/usr/include/${triple}`, "-c", csrc, "-o", obj], {
  stdio: ["ignore", "inherit", "inherit"],
});
const bytes = readFileSync(obj);

const relocations = BpfObject.open(bytes, { file: obj }).spec.programs.reduce(
  (n, p) => n + p.coreRelocations.length,
  0,
);
console.log(
  `object: ${PROGRAMS} programs, ${relocations} CO-RE relocations, ${(bytes.length / 1024).toFixed(0)} KiB (${obj})`,
);

// ---- in process: rawbpf ----
function timeMs(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}
vm.findId("pid_type", "enum"); // the process's vmlinux, read once (BpfObject's default target)
const oursOpen: number[] = [];
const oursRelocate: number[] = [];
const oursRelocateFresh: number[] = [];
const oursLoad: number[] = [];
for (let r = -2; r < RUNS; r++) {
  const open = timeMs(() => BpfObject.open(bytes, { file: obj }));
  const relocate = timeMs(() => BpfObject.open(bytes, { file: obj }).relocate());
  // as libbpf does for every object: read and index vmlinux's BTF again
  const fresh = timeMs(() => BpfObject.open(bytes, { file: obj, btf: "/sys/kernel/btf/vmlinux" }).relocate());
  const load = timeMs(() => BpfObject.open(bytes, { file: obj }).load().close());
  if (r < 0) continue;
  oursOpen.push(open);
  oursRelocate.push(relocate);
  oursRelocateFresh.push(fresh);
  oursLoad.push(load);
}

// ---- in process: libbpf ----
// libbpf's own work inside bpf_object__load (vmlinux BTF, CO-RE, sanitizing, relocating) is its
// time minus the time spent in bpf() itself (feature probes, BTF, maps, the program loads): the
// harness defines syscall(), which libbpf's calls resolve to (-rdynamic: the executable's symbol
// comes first), timing each bpf() around libc's real syscall (no LD_PRELOAD, no change to libbpf).
const cSource = `
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <time.h>
#include <dlfcn.h>
#include <sys/syscall.h>
#include <bpf/libbpf.h>
static int quiet(enum libbpf_print_level l, const char *f, va_list a) { return 0; }
static double now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6; }
static int cmp(const void *a, const void *b) { double x = *(double *)a, y = *(double *)b; return x < y ? -1 : x > y; }
static double in_bpf;
long syscall(long n, ...) {
  static long (*real)(long, ...);
  if (!real) real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
  va_list ap; va_start(ap, n);
  long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
  long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
  va_end(ap);
  if (n != SYS_bpf) return real(n, a, b, c, d, e, f);
  double t = now();
  long r = real(n, a, b, c, d, e, f);
  in_bpf += now() - t;
  return r;
}
int main(int argc, char **argv) {
  libbpf_set_print(quiet);
  FILE *f = fopen(argv[1], "rb");
  fseek(f, 0, SEEK_END); long n = ftell(f); fseek(f, 0, SEEK_SET);
  char *buf = malloc(n); if (fread(buf, 1, n, f) != (size_t)n) return 1; fclose(f);
  int runs = atoi(argv[2]);
  double open[256], load[256], own[256];
  for (int r = -2; r < runs; r++) {
    double t0 = now();
    struct bpf_object *o = bpf_object__open_mem(buf, n, NULL);
    double t1 = now();
    if (!o) return 2;
    bpf_object__close(o);
    double t2 = now();
    o = bpf_object__open_mem(buf, n, NULL);
    in_bpf = 0;
    if (!o || bpf_object__load(o)) return 3;
    double t3 = now();
    bpf_object__close(o);
    if (r >= 0) { open[r] = t1 - t0; load[r] = t3 - t2; own[r] = t3 - t2 - in_bpf; }
  }
  qsort(open, runs, sizeof(double), cmp);
  qsort(load, runs, sizeof(double), cmp);
  qsort(own, runs, sizeof(double), cmp);
  printf("%f %f %f\\n", open[runs / 2], load[runs / 2], own[runs / 2]);
  return 0;
}
`;
const cfile = join(BUILD, "object-libbpf.c");
const cbin = join(BUILD, "object-libbpf");
writeFileSync(cfile, cSource);
const cc = spawnSync("cc", ["-O2", "-rdynamic", "-o", cbin, cfile, "-lbpf", "-ldl"], { encoding: "utf8" });
if (cc.status !== 0) throw new Error(`cc failed: ${cc.stderr}`);
const [libOpen, libLoad, libOwn] = execFileSync(cbin, [obj, String(RUNS)], { encoding: "utf8" })
  .trim()
  .split(" ")
  .map(Number) as [number, number, number];

const ms = (x: number) => `${x.toFixed(2).padStart(7)} ms`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
console.log("\nin process (median of warm runs):");
console.log(`  rawbpf open                     ${ms(median(oursOpen))}`);
console.log(
  `  libbpf bpf_object__open_mem     ${ms(libOpen)}   rawbpf/libbpf ${ratio(median(oursOpen), libOpen)}`,
);
console.log(
  `  rawbpf open + CO-RE relocation  ${ms(median(oursRelocate))}   against libbpf's open + load (its CO-RE is inside load): ${ratio(median(oursRelocate), libLoad)}`,
);
console.log(`  rawbpf open + relocate + load   ${ms(median(oursLoad))}`);
console.log(
  `  libbpf open + bpf_object__load  ${ms(libLoad)}   rawbpf/libbpf ${ratio(median(oursLoad), libLoad)}`,
);
const libOwnWork = libOpen + libOwn;
console.log(
  `  libbpf open + load without bpf() ${ms(libOwnWork)}   (its own work: vmlinux BTF read and indexed, CO-RE, sanitizing; every bpf() timed in the harness and left out)`,
);
console.log(
  `  rawbpf open + CO-RE, vmlinux BTF read again ${ms(median(oursRelocateFresh))}   rawbpf/libbpf ${ratio(median(oursRelocateFresh), libOwnWork)} (goal: at most 1)`,
);
console.log(
  `  rawbpf open + CO-RE, vmlinux BTF kept      ${ms(median(oursRelocate))}   rawbpf/libbpf ${ratio(median(oursRelocate), libOwnWork)} (a process that loads several objects)`,
);

// ---- whole process ----
const dist = join(ROOT, "dist", "src", "cli", "main.cjs");
if (!existsSync(dist))
  console.log("\n(dist/ is not built: rawbpf runs from src/ through tsx; npm run bench builds it)");
const pin = `/sys/fs/bpf/rawbpf-object-bench-${process.pid}`;
const node = JSON.stringify(process.execPath);
const start = nodeStartCommands();
const bin = JSON.stringify(join(ROOT, "bin", "rawbpf.js"));
const t = timeAll(
  {
    rawbpf: `${node} ${bin} load ${JSON.stringify(obj)}`,
    bpftool: `bpftool prog loadall ${JSON.stringify(obj)} ${pin} && rm -rf ${pin}`,
    ...start.commands,
    // the floor under rawbpf load: Node with koffi (the native calls), and the command line's
    // bundle loaded with its code cache running a command that does nothing (--help)
    koffi: `${node} -e ${JSON.stringify('require("koffi")')}`,
    ...(existsSync(dist) ? { help: `${node} ${bin} --help` } : {}),
  },
  ROUNDS,
  start.keepEnv,
);
console.log(`\nwhole process, ${PROGRAMS} programs loaded (median of ${ROUNDS}):`);
console.log(`  rawbpf load OBJ.o        ${ms(t.rawbpf!.wall)} (CPU ${ms(t.rawbpf!.cpu)})`);
console.log(`  bpftool prog loadall     ${ms(t.bpftool!.wall)} (CPU ${ms(t.bpftool!.cpu)})`);
console.log(
  `  rawbpf/bpftool ${ratio(t.rawbpf!.wall, t.bpftool!.wall)} wall, ${ratio(t.rawbpf!.cpu, t.bpftool!.cpu)} CPU`,
);
printNodeStart(t);
{
  // where rawbpf load's CPU goes beyond bpftool's: Node itself, koffi, the bundle, and the load
  const node0 = t.node!.cpu;
  const koffi = t.koffi!.cpu;
  const help = t.help?.cpu;
  console.log(
    `node -e 'require("koffi")' ${ms(koffi)} CPU: Node and koffi (loaded by every command that calls bpf())`,
  );
  if (help !== undefined)
    console.log(
      `rawbpf --help            ${ms(help)} CPU: Node and rawbpf's bundle with its code cache, no command`,
    );
  const gap = t.rawbpf!.cpu - t.bpftool!.cpu;
  const bundle = help === undefined ? undefined : Math.max(0, help - node0);
  const work = t.rawbpf!.cpu - node0 - (koffi - node0) - (bundle ?? 0);
  console.log(
    `  CPU gap to bpftool ${ms(gap)}: Node's start ${ms(node0)}, koffi ${ms(koffi - node0)}` +
      `${bundle === undefined ? "" : `, the bundle ${ms(bundle)}`}, the load itself ${ms(work)}` +
      ` (bpftool's whole run ${ms(t.bpftool!.cpu)})`,
  );
}

// ---- a u64 global: shared memory against a lookup system call ----
{
  using loaded = BpfObject.open(bytes, { file: obj }).load();
  const counter = loaded.variable("counter");
  const bss = loaded.map(loaded.spec.maps.find((m) => m.section === ".bss")!.name);
  const key = new Uint8Array(4);
  const OPS = 200_000;
  const perOp = (fn: () => void, ops: number) => {
    const runs: number[] = [];
    for (let r = 0; r < 5; r++) runs.push((timeMs(fn) * 1e6) / ops);
    return median(runs);
  };
  let sink = 0n;
  const read = perOp(() => {
    for (let i = 0; i < OPS; i++) sink += counter.get() as bigint;
  }, OPS);
  const write = perOp(() => {
    for (let i = 0; i < OPS; i++) counter.set(BigInt(i));
  }, OPS);
  const LOOKUPS = 20_000;
  const lookup = perOp(() => {
    for (let i = 0; i < LOOKUPS; i++) sink += BigInt((bss.get(key) as Uint8Array).length);
  }, LOOKUPS);
  const ns = (x: number) => `${x.toFixed(1).padStart(7)} ns`;
  console.log("\na u64 global in .bss (per operation, median of 5):");
  console.log(`  read through shared memory   ${ns(read)}`);
  console.log(`  write through shared memory  ${ns(write)}`);
  console.log(`  map lookup system call       ${ns(lookup)}`);
  console.log(
    `  lookup/read ${(lookup / read).toFixed(0)}x, lookup/write ${(lookup / write).toFixed(0)}x (goal: at least 20x)${sink < 0n ? "" : ""}`,
  );
}
