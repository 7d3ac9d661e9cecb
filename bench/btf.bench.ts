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
 * `--warmup` prints the C printer's warm-up blob (WARMUP in src/btf/warmup.ts) as it should be.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BtfBuilder } from "../src/btf/builder.js";
import { formatC } from "../src/btf/c.js";
import { Btf } from "../src/btf/decode.js";
import { median, nodeStartCommands, printNodeStart, type Run, timeAll } from "./support.js";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const RUNS = 200;
const roundsAt = process.argv.indexOf("--rounds");
const ROUNDS = roundsAt > 0 ? Number(process.argv[roundsAt + 1]) : 11;
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const build = join(root, "bench", ".build");
mkdirSync(build, { recursive: true });

// ---- the C printer's warm-up blob ----

/**
 * A small blob with every shape the C printer handles, for structs and unions alike (V8 records
 * type feedback per operand: a branch only ever taken for structs deoptimises at the first union).
 */
function warmupBlob(): Uint8Array {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  const uint = b.int("unsigned int", 4);
  const char = b.int("char", 1, { signed: true });
  const uchar = b.int("unsigned char", 1, { char: true });
  const short = b.int("short", 2, { signed: true });
  const long = b.int("long", 8, { signed: true });
  const ulong = b.int("unsigned long", 8);
  const dbl = b.float("double", 8);
  const voidp = b.ptr(0);
  const next = () => b.types.length + 1;
  const rec = (kind: "struct" | "union", name: string, size: number, members: [string, number, number][]) =>
    b.add({
      kind,
      name,
      size,
      bitfields: false,
      members: members.map(([n, type, bitOffset]) => ({ name: n, type, bitOffset, bitfieldSize: 0 })),
    });
  // struct a { struct b b; struct a *self; }; struct b { struct a *back; a_t *td; }: by value
  // one way, through pointers (one a typedef) the other
  const a = next() + 4;
  const pA = b.ptr(a);
  const pTdA = b.ptr(b.typedef("a_t", a));
  const B = b.struct("b", [
    { name: "back", type: pA },
    { name: "td", type: pTdA },
    { name: "x", type: int },
  ]);
  if (
    b.struct("a", [
      { name: "b", type: B },
      { name: "self", type: pA },
      { name: "c", type: char },
    ]) !== a
  ) {
    throw new Error("warm-up blob: ids moved");
  }
  const list = next() + 2;
  b.struct("list", [
    { name: "next", type: b.ptr(list) },
    { name: "prev", type: b.ptr(list) },
  ]);
  // typedef T s_t; T s { s_t *p; } with the typedef first, and T holder { T { T holder *h; } u; }
  for (const kind of ["struct", "union"] as const) {
    const s = next();
    b.typedef(`${kind}_s_t`, s + 1);
    rec(kind, `${kind}_s`, 16, [
      ["p", s + 2, 0],
      ["i", int, 64],
    ]);
    b.ptr(s);
    const u = next();
    rec(kind, "", 8, [["h", u + 1, 0]]);
    b.ptr(u + 2);
    rec(kind, `${kind}_holder`, 8, [["u", u, 0]]);
  }
  // duplicate names (types, typedefs, enum values), every enum flavour
  const dup1 = b.struct("dup", [{ name: "i", type: int }]);
  const dup2 = b.struct("dup", [{ name: "l", type: long }]);
  const dupU = b.union("dup", [
    { name: "i", type: int },
    { name: "c", type: char },
  ]);
  const e1 = b.enum("color", { RED: 0, GREEN: 1, BLUE: -1 });
  const e2 = b.enum("color", { RED: 5, GREEN: 6 });
  const e3 = b.enum("", { ANON_A: 0x7fffffff, ANON_B: 0xffffffff }, { signed: false });
  const e4 = b.enum("small", { S1: 1 }, { size: 1 });
  const e5 = b.enum("wide", { W1: 1n << 40n, W2: -3n, W3: -(1n << 40n) }, { signed: true });
  const e6 = b.enum("uwide", { U1: 1n, U2: (1n << 64n) - 1n }, { size: 8, signed: false });
  const e7 = b.enum("word", { X1: 1 }, { size: 8 });
  const later = b.enum("later", {});
  const td1 = b.typedef("dup_t", dup1);
  const td2 = b.typedef("dup_t", dup2);
  b.typedef("__builtin_va_list", voidp);
  b.typedef("__gnuc_va_list", 0);
  // forward declarations, modifiers, type tags, function pointers, arrays
  const fs = b.fwd("opaque");
  const fu = b.fwd("opaque_u", true);
  const cint = b.const(int);
  const cptr = b.const(b.ptr(cint));
  const fpVoid = b.ptr(b.funcProto(0, []));
  const fpArgs = b.ptr(
    b.funcProto(int, [
      { name: "x", type: int },
      { name: "p", type: b.ptr(fs) },
      { name: "", type: cptr },
    ]),
  );
  const inner = b.ptr(b.funcProto(int, [{ name: "z", type: int }]));
  const anonS = b.struct("", [
    { name: "ax", type: int },
    { name: "ay", type: short },
  ]);
  const anonU = b.union("", [
    { name: "ui", type: int },
    { name: "ul", type: long },
  ]);
  const members: [string, number][] = [
    ["anon", anonS],
    ["", anonU],
    ["e", e3],
    ["pe", b.ptr(later)],
    ["pf", b.ptr(fu)],
    ["d", dbl],
    ["ci", cint],
    ["vl", b.volatile(long)],
    ["rp", b.restrict(b.ptr(char))],
    ["cp", cptr],
    ["tg", b.ptr(b.typeTag("user", int))],
    ["tga", b.ptr(b.typeTag("address_space(1)", int, true))],
    ["f0", fpVoid],
    ["f1", fpArgs],
    ["f2", b.ptr(b.funcProto(long, [{ name: "fmt", type: b.ptr(cint) }], { variadic: true }))],
    ["f3", b.ptr(b.funcProto(int, [{ name: "", type: 0 }]))],
    ["f4", b.ptr(b.funcProto(fpVoid, [{ name: "a", type: inner }]))],
    ["a1", b.array(char, 16)],
    ["a2", b.array(b.array(int, 3), 4)],
    ["a3", b.array(b.ptr(int), 2)],
    ["a4", b.array(fpArgs, 2)],
    ["a5", b.ptr(b.array(int, 5))],
    ["t1", td1],
    ["t2", td2],
    ["u", dupU],
    ["e1", e1],
    ["e2", e2],
    ["e4", e4],
    ["e5", e5],
    ["e6", e6],
    ["e7", e7],
    ["lst", list],
    ["a", a],
    ["uc", uchar],
    ["ul", ulong],
    ["vp", voidp],
  ];
  // padding of every width, bitfields, then everything else
  b.struct(
    "big",
    [
      { name: "c", type: char },
      { name: "l", type: long },
      { name: "s", type: short, bitOffset: 128 },
      { name: "bf1", type: uint, bitfieldSize: 3 },
      { name: "bf2", type: uint, bitfieldSize: 5 },
      { name: "bf3", type: uint, bitfieldSize: 7, bitOffset: 200 },
      { name: "i", type: int, bitOffset: 256 },
      { name: "c2", type: char, bitOffset: 296 },
      { name: "l2", type: long, bitOffset: 448 },
      ...members.map(([name, type]) => ({ name, type })),
    ],
    { size: 256 },
  );
  b.struct("gap16", [
    { name: "a", type: int },
    { name: "b", type: short, bitOffset: 48 },
  ]);
  b.struct(
    "packed",
    [
      { name: "c", type: char },
      { name: "i", type: int, bitOffset: 8 },
    ],
    { size: 5 },
  );
  b.struct("empty", []);
  b.union("uu", [{ name: "x", type: int }]);
  const fn = b.func("do_it", b.funcProto(int, [{ name: "x", type: int }]), "global");
  const v = b.var("counter", long, "global");
  b.datasec(".data", [{ type: v, offset: 0, size: 8 }]);
  b.declTag("kfunc", fn);
  return b.build();
}

const warmup = Buffer.from(warmupBlob()).toString("base64");
const source = readFileSync(join(root, "src", "btf", "warmup.ts"), "utf8");
const embedded = /export const WARMUP =\s*((?:\s*"[^"]*"\s*\+?)+);/
  .exec(source)?.[1]
  ?.match(/"[^"]*"/g)
  ?.map((q) => q.slice(1, -1))
  .join("");
if (process.argv.includes("--warmup")) {
  console.log(formatC(Btf.parse(Buffer.from(warmup, "base64"))));
  console.log(`const WARMUP (${warmup.length} characters):\n${warmup}`);
  process.exit(0);
}
if (embedded !== warmup) {
  console.log("warning: WARMUP in src/btf/warmup.ts is not this bench's warm-up blob (run it with --warmup)");
}

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
