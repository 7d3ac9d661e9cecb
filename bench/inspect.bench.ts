/**
 * Inspection against bpftool, whole processes (start-up included), on the same kernel objects:
 *   `rawbpf map dump ID --json` vs `bpftool -j map dump id ID` on a 100,000-entry hash map
 *   (rawbpf reads it by BPF_MAP_LOOKUP_BATCH, bpftool key by key), and
 *   `rawbpf prog list --json` vs `bpftool -j prog list` on whatever the kernel holds.
 * The outputs are checked equal (as JSON) before timing. Goal: ratio <= 1 (no slower than bpftool).
 * Beside each ratio: Node's own start-up (`node -e 0`, timed in the same turns), the floor no Node
 * program goes under, and rawbpf's part above it.
 * Needs root, bpftool and a built dist/ (`npm run bench` builds it).
 */
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { u32, u64 } from "../src/codec/int.js";
import { BpfMap } from "../src/map/map.js";
import { nodeStartCommands, printNodeStart, type Run, timeAll } from "./support.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const ENTRIES = 100_000;
const ROUNDS = Number(process.env.ROUNDS ?? 7);

using map = BpfMap.create({ type: "hash", key: u32, value: u64, maxEntries: ENTRIES, name: "bench_dump" });
const entries: [number, bigint][] = [];
for (let i = 0; i < ENTRIES; i++) entries.push([i * 2654435761, BigInt(i) * 0x10001n]);
map.setBatch(entries.map(([k, v]) => [k >>> 0, v] as const));
const id = String(map.info().id);

const node = JSON.stringify(process.execPath);
const cli = `${node} ${JSON.stringify(join(root, "bin", "rawbpf.js"))}`;

// the same output first: the dump entry for entry (bucket order is the kernel's, the same for both)
const sortJson = (text: string) =>
  (JSON.parse(text) as unknown[]).map((e) => JSON.stringify(e)).sort((a, b) => a.localeCompare(b));
const run = (cmd: string) => execFileSync("bash", ["-c", cmd], { encoding: "utf8", maxBuffer: 1 << 30 });
const ours = sortJson(run(`${cli} map dump ${id} --json`));
const theirs = sortJson(run(`bpftool -j map dump id ${id}`));
if (ours.length !== ENTRIES || ours.join("\n") !== theirs.join("\n"))
  throw new Error(`the dumps differ: rawbpf ${ours.length} entries, bpftool ${theirs.length}`);

const start = nodeStartCommands();
const t = timeAll(
  {
    ourDump: `${cli} map dump ${id} --json`,
    toolDump: `bpftool -j map dump id ${id}`,
    ourList: `${cli} prog list --json`,
    toolList: "bpftool -j prog list",
    ...start.commands,
  },
  ROUNDS,
  start.keepEnv,
);
const programs = (JSON.parse(run("bpftool -j prog list")) as unknown[]).length;

const ms = (x: number) => x.toFixed(0).padStart(5);
// Node's own start-up (`node -e 0`) is the floor of any rawbpf command: shown beside each ratio, with
// what is ours above it
const floor = t.node as Run;
const line = (what: string, a: Run, b: Run) =>
  console.log(
    `${what}  rawbpf ${ms(a.wall)} ms (CPU ${ms(a.cpu)})   bpftool ${ms(b.wall)} ms (CPU ${ms(b.cpu)})   ` +
      `ratio ${(a.wall / b.wall).toFixed(2)} (CPU ${(a.cpu / b.cpu).toFixed(2)}) (goal <= 1)\n` +
      `${"".padEnd(36)}  of which Node's start-up ${ms(floor.wall)} ms (CPU ${ms(floor.cpu)}), floor ratio ` +
      `${(floor.wall / b.wall).toFixed(2)}; rawbpf's own part ${ms(Math.max(0, a.wall - floor.wall))} ms ` +
      `(CPU ${ms(Math.max(0, a.cpu - floor.cpu))}): ${(Math.max(0, a.wall - floor.wall) / b.wall).toFixed(2)}x bpftool`,
  );
console.log(`whole processes, median of ${ROUNDS} runs each, in turns:`);
line(`map dump --json (${ENTRIES} entries)`.padEnd(36), t.ourDump!, t.toolDump!);
line(`prog list --json (${programs} programs)`.padEnd(36), t.ourList!, t.toolList!);
printNodeStart(t);
