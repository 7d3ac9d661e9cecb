/**
 * ts-malloc-hist: the sizes this process asks malloc for, as a log2 histogram printed the way
 * bpftrace prints `hist()`, from a uprobe on libc's malloc written in TypeScript. The program
 * reads the size from the registers (`ctx.arg0`, rdi on x86-64), finds its power-of-two bucket
 * with a subprogram (`log2`), and counts in an array map; the process to watch is a
 * `config({ pid })` value set at load time (a frozen read-only map the verifier reads as a
 * constant). The histogram printer is a small local one (src/trace/hist.ts, if another part of
 * rawbpf grows one, is the shared place for it).
 *
 * Run alone: `node --import tsx examples/ts-malloc-hist.ts`
 */
import { readFileSync } from "node:fs";
import { attachUprobe, compile } from "../src/index.js";
import { type Log, runIfMain } from "./main.js";
import { loadModule } from "./ts-load.js";

/** The program, as a user writes it in a .ts file (see docs/language.md). */
export const SOURCE = `
import { atomicAdd, config, helpers, map, program, u32, u64 } from "rawbpf";

const target = config({ pid: u32 });
const sizes = map("array", { key: u32, value: u64, maxEntries: 65 });

/** floor(log2(n)) for n > 0 */
function log2(n: u64): u32 {
  let v = n;
  let r: u32 = 0;
  if (v >> 32 !== 0) { v = v >> 32; r += 32; }
  if (v >> 16 !== 0) { v = v >> 16; r += 16; }
  if (v >> 8 !== 0) { v = v >> 8; r += 8; }
  if (v >> 4 !== 0) { v = v >> 4; r += 4; }
  if (v >> 2 !== 0) { v = v >> 2; r += 2; }
  if (v >> 1 !== 0) r += 1;
  return r;
}

export const mallocs = program("uprobe/libc.so.6:malloc", (ctx) => {
  if (helpers.get_current_pid_tgid() >> 32 !== target.pid) return 0;
  const size = ctx.arg0;
  const slot = size === 0 ? 0 : log2(size) + 1;
  const n = sizes.lookup(slot);
  if (n !== null) atomicAdd(n.value, 1);
  return 0;
});
`;

const UNITS = ["", "K", "M", "G", "T", "P", "E"];

function power(exp: number): string {
  return `${2 ** (exp % 10)}${UNITS[Math.floor(exp / 10)]}`;
}

/** Prints a log2 histogram as bpftrace's hist() does: `[lo, hi)  count |@@@@   |`. */
export function printHist(counts: readonly bigint[], log: Log): void {
  const first = counts.findIndex((c) => c > 0n);
  let last = counts.length - 1;
  while (last >= 0 && counts[last] === 0n) last--;
  if (first < 0) return;
  let max = 0n;
  for (const c of counts) if (c > max) max = c;
  for (let slot = first; slot <= last; slot++) {
    const label = slot === 0 ? "[0]" : slot === 1 ? "[1]" : `[${power(slot - 1)}, ${power(slot)})`;
    const c = counts[slot]!;
    const bar = "@".repeat(max === 0n ? 0 : Number((c * 52n) / max));
    log(`${label.padEnd(20)}${String(c).padStart(7)} |${bar.padEnd(52)}|`);
  }
}

/** The path of the libc this process runs (from /proc/self/maps). */
function libcPath(): string {
  const line = readFileSync("/proc/self/maps", "utf8")
    .split("\n")
    .find((l) => /\/libc\.so\.6$/.test(l));
  if (line === undefined) throw new Error("this process has no libc.so.6 mapped");
  return line.slice(line.indexOf("/"));
}

export async function run(log: Log, bigAllocations = 20): Promise<{ counts: bigint[] }> {
  const compiled = compile(SOURCE, { file: "ts-malloc-hist.ts" });
  const prog = compiled.programs[0]!;
  log(
    `compiled '${prog.name}' (${prog.type} on ${prog.attachTo}): ${prog.insns.length} instructions, ${prog.functions.length} functions`,
  );
  using loaded = loadModule(compiled, { target: { pid: process.pid } });
  const symbol = prog.attachTo!.split(":")[1]!;
  const kept: Buffer[] = [];
  {
    using _link = attachUprobe(loaded.programs.mallocs!, libcPath(), symbol, { pid: process.pid });
    // 1.5 MiB each: malloc'ed by Node's array buffer allocator, counted in [1M, 2M)
    for (let i = 0; i < bigAllocations; i++) kept.push(Buffer.allocUnsafeSlow(1536 * 1024));
    for (let i = 0; i < 200; i++) kept.push(Buffer.allocUnsafeSlow(100 + i));
  }
  const sizes = loaded.maps.sizes as unknown as { get(key: Uint8Array): Uint8Array | undefined };
  const counts: bigint[] = [];
  for (let slot = 0; slot < 65; slot++) {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(slot);
    counts.push(Buffer.from(sizes.get(key)!).readBigUInt64LE(0));
  }
  log(`@bytes: malloc sizes of this process (${process.pid}) while attached`);
  printHist(counts, log);
  return { counts };
}

runIfMain(import.meta.url, run);
