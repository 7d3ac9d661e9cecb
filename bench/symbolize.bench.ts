/**
 * Stack symbolisation, against llvm-symbolizer-19 on the same addresses in the same run:
 * 100,000 frames — addresses in node's binary, in libc (as this process maps them) and in the
 * kernel — laid out as stack_trace map values (100 frames a stack), named by rawbpf's
 * `Symbolizer.stack` in process: cold (a new Symbolizer: reading node's symbol table, libc's
 * and kallsyms included) and warm (the same Symbolizer again). llvm-symbolizer gets the user
 * frames (it has no kernel symbols without a vmlinux) as `FILE 0xVADDR` lines on its standard
 * input, one process for all, timed whole. Both run twice: with separate debug files
 * (/usr/lib/debug, libc6-dbg: rawbpf reads their symbol tables, llvm-symbolizer their DWARF too)
 * and without (an empty --debug-file-directory; `debugFiles: false`). Prints medians and the
 * ratios (goal: rawbpf at least 10x faster; for the cold run also the least CPU time of a
 * round on each side, which a collection or a busy machine inflates less), and checks that the two agree on the names. Reading
 * /proc/kallsyms costs the kernel tens of ms whoever reads it (it formats each of its 100,000+
 * lines on the read): that floor is timed and shown beside the cold run that includes it.
 *
 * Run: `npm run bench -- symbolize` or `node --import tsx bench/symbolize.bench.ts [--rounds N]`.
 */
import { spawnSync } from "node:child_process";
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KernelSymbols, Symbolizer } from "../src/symbolize/index.js";
import { type Mapping, mappings, segments } from "../test/support/elf-oracle.js";
import { benchEnv, median } from "./support.js";

const FRAMES = 100_000;
const DEPTH = 100;
const roundsAt = process.argv.indexOf("--rounds");
const ROUNDS = roundsAt > 0 ? Number(process.argv[roundsAt + 1]) : 5;

let seed = 12345;
const next = () => {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 2 ** 32;
};

// the frames: 40% node, 30% libc, 30% kernel, at random places of their code
const node = mappings(/\/node$/).filter((m) => m.start < 2 ** 32); // the binary's own text, not V8's remapped builtins
const libc = mappings(/\/libc\.so\.6$/);
const kernel = new KernelSymbols();
const userFrames: { runtime: number; file: string; vaddr: number }[] = [];
const words = Buffer.alloc(FRAMES * 8);
const segsOf = new Map<string, ReturnType<typeof segments>>();
let kernelFrames = 0;
for (let i = 0; i < FRAMES; i++) {
  const r = next();
  if (r < 0.3) {
    const k = Math.floor(next() * (kernel.size - 1));
    const address = kernel.addressAt(k) + BigInt(Math.floor(next() * 64));
    words.writeBigUInt64LE(address, i * 8);
    kernelFrames++;
    continue;
  }
  const set = r < 0.7 ? node : libc;
  for (;;) {
    const m = set[Math.floor(next() * set.length)] as Mapping;
    const at = m.start + Math.floor(next() * (m.end - m.start));
    const off = at - m.start + m.offset;
    if (!segsOf.has(m.path)) segsOf.set(m.path, segments(m.path));
    const seg = segsOf.get(m.path)?.find((s) => off >= s.offset && off < s.offset + s.size);
    if (!seg) continue;
    userFrames.push({ runtime: at, file: m.path, vaddr: off - seg.offset + seg.vaddr });
    words.writeBigUInt64LE(BigInt(at), i * 8);
    break;
  }
}
// the user frames alone, as stacks: what llvm-symbolizer gets too
const userWords = Buffer.alloc(userFrames.length * 8);
for (let i = 0; i < userFrames.length; i++)
  userWords.writeBigUInt64LE(BigInt((userFrames[i] as { runtime: number }).runtime), i * 8);

interface Timed {
  wall: number;
  cpu: number;
}

/** Wall and CPU time (user + system, this process) of `f`, in ms. */
function timed<T>(f: () => T): [T, Timed] {
  const c = process.cpuUsage();
  const t = performance.now();
  const out = f();
  const wall = performance.now() - t;
  const d = process.cpuUsage(c);
  return [out, { wall, cpu: (d.user + d.system) / 1000 }];
}

/** Reads /proc/kallsyms to its end and nothing more: the kernel's part of reading its symbols (it formats every line). */
function readKallsyms(): number {
  const fd = openSync("/proc/kallsyms", "r");
  const buf = Buffer.allocUnsafe(1 << 24);
  let length = 0;
  for (let n = 1; n > 0 && length < buf.length; length += n)
    n = readSync(fd, buf, length, buf.length - length, null);
  closeSync(fd);
  return length;
}

/** Names every frame of `stacks` (stack_trace map values of DEPTH frames) with `s`. */
function nameAll(s: Symbolizer, stacks: Buffer): string[] {
  const names: string[] = [];
  for (let at = 0; at < stacks.length; at += DEPTH * 8) {
    for (const n of s.stack(stacks.subarray(at, Math.min(at + DEPTH * 8, stacks.length)))) names.push(n);
  }
  return names;
}

/** llvm-symbolizer-19 on the user frames, one process, timed by bash's `time` (wall, and CPU). */
function llvm(debugFiles: boolean, inputFile: string, empty: string): [string[], Timed] {
  const args = ["--no-inlines", "--no-demangle", "--functions=linkage", "--no-debuginfod"];
  if (!debugFiles) args.push(`--debug-file-directory=${empty}`);
  const p = spawnSync(
    "bash",
    [
      "-c",
      `TIMEFORMAT='%3R %3U %3S'; time (llvm-symbolizer-19 ${args.join(" ")} < ${inputFile} > ${inputFile}.out)`,
    ],
    { encoding: "utf8", env: benchEnv() },
  );
  const m = /(\d+\.\d+) (\d+\.\d+) (\d+\.\d+)\s*$/.exec(p.stderr);
  if (p.status !== 0 || !m) throw new Error(`llvm-symbolizer-19 failed: ${p.stderr}`);
  const names = readFileSync(`${inputFile}.out`, "utf8")
    .split("\n\n")
    .filter((b) => b.trim() !== "")
    .map((b) => b.trim().split("\n")[0] as string);
  return [names, { wall: Number(m[1]) * 1e3, cpu: (Number(m[2]) + Number(m[3])) * 1e3 }];
}

const dir = mkdtempSync(join(tmpdir(), "rawbpf-bench-"));
const empty = join(dir, "no-debug-files");
mkdirSync(empty);
const inputFile = join(dir, "frames.txt");
writeFileSync(inputFile, userFrames.map((f) => `${f.file} 0x${f.vaddr.toString(16)}`).join("\n"));
const ms = (x: number) => `${x.toFixed(1).padStart(7)} ms`;
const pair = (t: Timed) => `${ms(t.wall)} (CPU ${ms(t.cpu)})`;
const med = (ts: Timed[]): Timed => ({
  wall: median(ts.map((t) => t.wall)),
  cpu: median(ts.map((t) => t.cpu)),
});

console.log(
  `${FRAMES} frames at random places of the code: ${userFrames.length} user (node's binary, libc as this process maps them), ` +
    `${kernelFrames} kernel; ${ROUNDS} rounds, medians; wall and CPU time`,
);
for (const debugFiles of [false, true]) {
  const cold: Timed[] = [];
  const warm: Timed[] = [];
  const all: Timed[] = [];
  const allWarm: Timed[] = [];
  const kallsyms: Timed[] = [];
  const theirs: Timed[] = [];
  let ours: string[] = [];
  let their: string[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const s = new Symbolizer({ debugFiles });
    const [names, c] = timed(() => nameAll(s, userWords));
    cold.push(c);
    ours = names;
    warm.push(timed(() => nameAll(s, userWords))[1]);
    const s2 = new Symbolizer({ debugFiles });
    all.push(timed(() => nameAll(s2, words))[1]);
    allWarm.push(timed(() => nameAll(s2, words))[1]);
    kallsyms.push(timed(readKallsyms)[1]);
    const [n, t] = llvm(debugFiles, inputFile, empty);
    theirs.push(t);
    their = n;
  }
  let same = 0;
  for (let i = 0; i < ours.length; i++) {
    const a = ours[i] as string;
    const b = their[i] as string;
    if (a === b || (b === "??" && a.startsWith("["))) same++;
  }
  const c = med(cold);
  // a garbage collection or another process can land in any round: the least CPU time shows the work alone
  const minCpu = Math.min(...cold.map((t) => t.cpu));
  const minTheirs = Math.min(...theirs.map((t) => t.cpu));
  const w = med(warm);
  const l = med(theirs);
  console.log(`\n${debugFiles ? "with separate debug files (libc6-dbg)" : "without separate debug files"}:`);
  console.log(`  llvm-symbolizer-19, ${userFrames.length} user frames, whole process  ${pair(l)}`);
  console.log(
    `  rawbpf, the same frames, cold (tables read)        ${pair(c)}   ratio ${(l.wall / c.wall).toFixed(1)}x wall, ${(l.cpu / c.cpu).toFixed(1)}x CPU` +
      `; least CPU of a round ${ms(minCpu)} against llvm-symbolizer's ${ms(minTheirs)}: ${(minTheirs / minCpu).toFixed(1)}x`,
  );
  console.log(
    `  rawbpf, the same frames, warm                      ${pair(w)}   ratio ${(l.wall / w.wall).toFixed(1)}x wall, ${(l.cpu / w.cpu).toFixed(1)}x CPU`,
  );
  const a = med(all);
  const k = med(kallsyms);
  console.log(
    `  rawbpf, all ${FRAMES} frames with the kernel's, cold ${pair(a)} (kallsyms read included), warm ${pair(med(allWarm))}`,
  );
  console.log(
    `    of the cold: reading /proc/kallsyms alone (the kernel formatting ${kernel.size} symbols) ${pair(k)}; ` +
      `without it ${ms(a.wall - k.wall)} (CPU ${ms(a.cpu - k.cpu)}): ratio ${(l.wall / (a.wall - k.wall)).toFixed(1)}x wall, ` +
      `${(l.cpu / (a.cpu - k.cpu)).toFixed(1)}x CPU against llvm-symbolizer's user frames alone`,
  );
  console.log(
    `  names agree on ${same} of ${ours.length} user frames (${((100 * same) / ours.length).toFixed(2)}%); goal: rawbpf >= 10x faster`,
  );
}
rmSync(dir, { recursive: true, force: true });
