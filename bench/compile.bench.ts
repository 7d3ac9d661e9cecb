/**
 * The TypeScript compiler against clang: a ~300-line TypeScript module (a dozen programs, each
 * with a map, a helper function with a loop, packet reads, a switch) and its C twin, generated
 * here from the same template. Whole process: `node bin/rawbpf.js compile FILE.ts --format json`
 * against `clang-19 -target bpf -O2 -g -c FILE.c` (an object with BTF and line info, as ours has),
 * timed in turns by bash's `time` (bench/support.ts); goal at most 0.5x clang, with how much of it is
 * Node's own start-up (`node -e 0`, timed in the same turns), and the first run of a user (before
 * bin/rawbpf.js has written the user's code cache: the package's caches only). In process, warm:
 * `compile(source)` after a few warm-up runs, goal under 20 ms, and its ratio to clang's process.
 * Also a program that reads the kernel's types (tp_btf, task_struct fields) against its C twin over
 * vmlinux.h. Also prints the parser's share and the instructions with and without the optimizer, and
 * `compile()` of one large generated function (a 400-case switch, ~5,200 instructions), where a
 * cost that grows faster than the function shows (warm, and its first call), and of a long one (a
 * 3,000-case switch, ~44,000 instructions). And the floors under the whole process: the compile
 * bundle's start with nothing to compile (`rawbpf compile --help`), and a Node process that only
 * loads Babel from its code cache and parses the file (bench/parse-floor.cjs).
 *
 * Run: `npm run bench -- compile` (builds dist first).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as Lang from "../src/lang/index.js";
import type * as Parse from "../src/lang/parse.js";
import { execProgram } from "../test/lang/exec-program.js";
import { largeSwitch } from "../test/lang/large-program.js";
import { median, nodeStartCommands, printNodeStart, type Run, timeAll } from "./support.js";

// the built compiler (what users run; `npm run bench` builds it): under tsx, the sources run with
// esbuild's helpers around every function, which costs more than the compiler itself
const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "src", "lang");
const { compile } = (await import(join(dist, "index.js"))) as typeof Lang;
const { parseModule } = (await import(join(dist, "parse.js"))) as typeof Parse;

const UNITS = Number(process.env.COMPILE_BENCH_UNITS ?? 9);
const ROUNDS = Number(process.env.COMPILE_BENCH_ROUNDS ?? 9);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const build = join(root, "bench", ".build");
mkdirSync(build, { recursive: true });

function tsUnit(j: number): string {
  return `
const counts${j} = map("hash", { key: u32, value: u64, maxEntries: ${256 + j} });

function score${j}(a: u32, b: u32): u32 {
  let s: u32 = a ^ ${j * 7 + 1};
  for (let i = 0; i < 8; i++) {
    if ((s & 1) === 1) s = (s >> 1) ^ b;
    else s = s >> 1;
  }
  return s % ${64 + j};
}

export const prog${j} = program("xdp", (ctx) => {
  const proto = ctx.u8(23);
  if (proto === null) return XDP_PASS;
  const port = ctx.be16(36);
  if (port === null) return XDP_PASS;
  const k = score${j}(proto, port);
  const c = counts${j}.lookup(k);
  if (c === null) {
    counts${j}.update(k, 1);
    return XDP_PASS;
  }
  atomicAdd(c.value, 1);
  switch (proto) {
    case IPPROTO_TCP:
      return XDP_PASS;
    case IPPROTO_UDP:
      return port === ${50 + j} ? XDP_DROP : XDP_PASS;
    default:
      return c.value > ${1000 * (j + 1)} ? XDP_DROP : XDP_PASS;
  }
});
`;
}

function cUnit(j: number): string {
  return `
struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, __u32); __type(value, __u64); __uint(max_entries, ${256 + j}); } counts${j} SEC(".maps");

static __attribute__((noinline)) __u32 score${j}(__u32 a, __u32 b) {
  __u32 s = a ^ ${j * 7 + 1};
  for (int i = 0; i < 8; i++) {
    if ((s & 1) == 1) s = (s >> 1) ^ b;
    else s = s >> 1;
  }
  return s % ${64 + j};
}

SEC("xdp") int prog${j}(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  if (data + 24 > end) return XDP_PASS;
  __u32 proto = *(__u8 *)(data + 23);
  if (data + 38 > end) return XDP_PASS;
  __u32 port = __builtin_bswap16(*(__u16 *)(data + 36));
  __u32 k = score${j}(proto, port);
  __u64 *c = bpf_map_lookup_elem(&counts${j}, &k);
  if (!c) {
    __u64 one = 1;
    bpf_map_update_elem(&counts${j}, &k, &one, BPF_ANY);
    return XDP_PASS;
  }
  __sync_fetch_and_add(c, 1);
  switch (proto) {
  case 6:
    return XDP_PASS;
  case 17:
    return port == ${50 + j} ? XDP_DROP : XDP_PASS;
  default:
    return *c > ${1000 * (j + 1)} ? XDP_DROP : XDP_PASS;
  }
}
`;
}

const ts = [
  'import { atomicAdd, IPPROTO_TCP, IPPROTO_UDP, map, program, u32, u64, XDP_DROP, XDP_PASS } from "rawbpf";',
  ...Array.from({ length: UNITS }, (_, j) => tsUnit(j)),
].join("\n");
const c = [
  "#include <linux/bpf.h>",
  "#include <bpf/bpf_helpers.h>",
  ...Array.from({ length: UNITS }, (_, j) => cUnit(j)),
  'char LICENSE[] SEC("license") = "GPL";',
].join("\n");
const tsFile = join(build, "compile-bench.ts");
const cFile = join(build, "compile-bench.c");
writeFileSync(tsFile, ts);
writeFileSync(cFile, c);
const include = `-I/usr/include/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`;
const clangArgs = ["-target", "bpf", "-O2", "-g", include, "-c", cFile, "-o", join(build, "compile-bench.o")];
execFileSync("clang-19", clangArgs); // both must compile before anything is timed
const once = compile(ts, { file: "compile-bench.ts" });

// ---- a program that reads the kernel's types (tp_btf, a task_struct pointer), test/lang/contexts.test.ts's,
// and its C twin over vmlinux.h (bpftool's, as a C user makes it), compiled as clang-19 is above
const kernelTs = execProgram("tp_btf");
const kernelC = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
struct exec { __u32 ppid; __u32 tgid; char comm[16]; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, __u32); __type(value, struct exec); __uint(max_entries, 1024); } execs SEC(".maps");
SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) {
  struct exec e = {};
  e.ppid = p->real_parent->tgid;
  e.tgid = p->tgid;
  bpf_probe_read_kernel_str(e.comm, sizeof(e.comm), p->comm);
  __u32 pid = p->pid;
  bpf_map_update_elem(&execs, &pid, &e, BPF_ANY);
  return 0;
}
char LICENSE[] SEC("license") = "GPL";
`;
const kernelTsFile = join(build, "compile-kernel.ts");
const kernelCFile = join(build, "compile-kernel.c");
writeFileSync(kernelTsFile, kernelTs);
writeFileSync(kernelCFile, kernelC);
writeFileSync(
  join(build, "vmlinux.h"),
  execFileSync("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"], {
    maxBuffer: 1 << 28,
  }),
);
const kernelClangArgs = [
  "-target",
  "bpf",
  "-O2",
  "-g",
  include,
  "-c",
  kernelCFile,
  "-o",
  join(build, "compile-kernel.o"),
];
execFileSync("clang-19", kernelClangArgs);

// ---- in process, warm
const times: number[] = [];
const cpuTimes: number[] = [];
const parseTimes: number[] = [];
for (let i = 0; i < 40; i++) {
  let t0 = performance.now();
  const c0 = process.cpuUsage();
  compile(ts, { file: "compile-bench.ts" });
  const c1 = process.cpuUsage(c0);
  if (i >= 10) times.push(performance.now() - t0);
  if (i >= 10) cpuTimes.push((c1.user + c1.system) / 1000);
  t0 = performance.now();
  parseModule(ts, "compile-bench.ts");
  if (i >= 10) parseTimes.push(performance.now() - t0);
}
/**
 * `f` called `runs` times: the first call's time and result apart, and the times of the calls
 * after the first `skip` (warm).
 */
function timed<T>(f: () => T, runs: number, skip: number): { first: number; out: T; times: number[] } {
  const times: number[] = [];
  let t0 = performance.now();
  const out = f();
  const first = performance.now() - t0;
  for (let i = 1; i < runs; i++) {
    t0 = performance.now();
    f();
    if (i >= skip) times.push(performance.now() - t0);
  }
  return { first, out, times };
}

const { out: plain, times: plainTimes } = timed(
  () => compile(ts, { file: "compile-bench.ts", optimize: false }),
  20,
  5,
);
const warm = median(times);

// ---- one large function: a generated 400-case switch
const CASES = Number(process.env.COMPILE_BENCH_CASES ?? 400);
const large = largeSwitch(CASES);
// the first call (V8 has not yet optimized the code a function this large takes), then the median
// of 5 calls after 5 more (warm, as the 300-line program's), with and without the optimizer
const largeRun = timed(() => compile(large, { file: "large.ts" }), 11, 6);
const largePlain = timed(() => compile(large, { file: "large.ts", optimize: false }), 11, 6);
// ---- a long function: a 3,000-case switch (~44,000 instructions, far jumps through gotol), where
// what the optimizer does per change shows (the median of 3 calls after 2, the first one apart)
const LONG_CASES = Number(process.env.COMPILE_BENCH_LONG_CASES ?? 3000);
const long = largeSwitch(LONG_CASES);
const longRun = timed(() => compile(long, { file: "long.ts" }), 5, 2);
const count = (m: typeof once) => m.programs.reduce((n, p) => n + p.insns.length, 0);

// ---- whole process
const node = JSON.stringify(process.execPath);
const q = JSON.stringify;
const cli = `${node} ${q(join(root, "bin", "rawbpf.js"))}`;
const start = nodeStartCommands();
// the user's code cache (bin/rawbpf.js) in a folder of the bench's own, made anew: the unmeasured
// first run writes it, as a user's first `rawbpf compile` does; and the same command without it
// (the caches the package ships only, as a user's first run reads them)
const cacheDir = join(build, "code-cache");
rmSync(cacheDir, { recursive: true, force: true });
const compileCommand = `compile ${q(tsFile)} --format json -o ${q(join(build, "compile-bench.json"))}`;
const t = timeAll(
  {
    ours: `RAWBPF_CACHE_DIR=${q(cacheDir)} ${cli} ${compileCommand}`,
    oursShipped: `RAWBPF_CACHE_DIR=off ${cli} ${compileCommand}`,
    clang: `clang-19 ${clangArgs.map((a) => q(a)).join(" ")}`,
    oursKernel: `RAWBPF_CACHE_DIR=${q(cacheDir)} ${cli} compile ${q(kernelTsFile)} --format json -o ${q(join(build, "compile-kernel.json"))}`,
    clangKernel: `clang-19 ${kernelClangArgs.map((a) => q(a)).join(" ")}`,
    // the floors under `ours`: the compile bundle started with nothing to compile, and Node
    // parsing the file with Babel (from its code cache) and doing nothing else
    help: `RAWBPF_CACHE_DIR=${q(cacheDir)} ${cli} compile --help`,
    parseFloor: `${node} ${q(join(root, "bench", "parse-floor.cjs"))} ${q(tsFile)} ${q(join(build, "parse-floor.cache"))}`,
    ...start.commands,
  },
  ROUNDS,
  start.keepEnv,
);
const ours = t.ours as Run;
const clang = t.clang as Run;
const ms = (x: number) => x.toFixed(1).padStart(6);
console.log(
  `${ts.split("\n").length} lines of TypeScript (${once.programs.length} programs, ${UNITS} functions, ${once.maps.length} maps); C twin ${c.split("\n").length} lines`,
);
console.log(
  `whole process  rawbpf compile ${ms(ours.wall)} ms (CPU ${ms(ours.cpu)})   clang-19 -O2 -g -c ${ms(clang.wall)} ms (CPU ${ms(clang.cpu)})   ratio ${(ours.wall / clang.wall).toFixed(2)} (goal <= 0.50; CPU ${(ours.cpu / clang.cpu).toFixed(2)})`,
);
const shipped = t.oursShipped as Run;
console.log(
  `  first run     without the user's code cache ${ms(shipped.wall)} ms (CPU ${ms(shipped.cpu)}), ratio ${(shipped.wall / clang.wall).toFixed(2)} (CPU ${(shipped.cpu / clang.cpu).toFixed(2)})`,
);
const oursKernel = t.oursKernel as Run;
const clangKernel = t.clangKernel as Run;
console.log(
  `kernel types   rawbpf compile of a tp_btf program reading task_struct ${ms(oursKernel.wall)} ms (CPU ${ms(oursKernel.cpu)})   clang-19 over vmlinux.h ${ms(clangKernel.wall)} ms (CPU ${ms(clangKernel.cpu)})   ratio ${(oursKernel.wall / clangKernel.wall).toFixed(2)} (CPU ${(oursKernel.cpu / clangKernel.cpu).toFixed(2)})`,
);
// how much of the gap is Node's: its own start-up (`node -e 0`) is part of every rawbpf run
const floor = (t.node as Run).wall;
console.log(
  `  of which      Node's start-up ${ms(floor)} ms; the rest ${ms(ours.wall - floor)} ms is ${((ours.wall - floor) / clang.wall).toFixed(2)}x clang's process (rawbpf's own start-up, Babel, the compiler)`,
);
// what no compiler using Babel can go under: Node, Babel loaded from its code cache, and one parse
const parseFloor = t.parseFloor as Run;
const help = t.help as Run;
console.log(
  `  floors        rawbpf compile --help ${ms(help.wall)} ms (${(help.wall / clang.wall).toFixed(2)}x clang); Node + Babel's parse of the file alone ${ms(parseFloor.wall)} ms (CPU ${ms(parseFloor.cpu)}), ${(parseFloor.wall / clang.wall).toFixed(2)}x clang (CPU ${(parseFloor.cpu / clang.cpu).toFixed(2)})`,
);
console.log(
  `in process     compile() warm ${ms(warm)} ms (CPU ${ms(median(cpuTimes))}; goal < 20), ${(warm / clang.wall).toFixed(3)}x clang's process; parse alone ${ms(median(parseTimes))} ms; without the optimizer ${ms(median(plainTimes))} ms`,
);
console.log(`instructions   ${count(once)} optimized, ${count(plain)} without the optimizer`);
console.log(
  `large function compile() ${ms(median(largeRun.times))} ms warm (first call ${ms(largeRun.first)} ms) for a ${CASES}-case switch (${count(largeRun.out)} instructions optimized); without the optimizer ${ms(median(largePlain.times))} ms warm`,
);
console.log(
  `long function  compile() ${ms(median(longRun.times))} ms warm (first call ${ms(longRun.first)} ms) for a ${LONG_CASES}-case switch (${count(longRun.out)} instructions optimized)`,
);
printNodeStart(t);
