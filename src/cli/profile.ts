/**
 * `rawbpf profile [--pid PID] [--freq HZ] [--duration S] [--format folded|top|json]`: samples the
 * stacks on the CPUs with a perf_event program and prints them.
 */
import { foldStacks, Profiler, type ProfileStack } from "../symbolize/profile.js";
import { Symbolizer } from "../symbolize/symbolizer.js";
import { parseArgs } from "./args.js";
import { type CliIo, UsageError } from "./io.js";

const HELP = `usage: rawbpf profile [--pid PID] [--freq HZ] [--duration S] [--format folded|top|json] [--idle]

Samples the stacks running on every CPU (a perf_event program on cpu-clock, bpf_get_stackid into a
stack_trace map), then prints them with kernel frames named from /proc/kallsyms and user frames from
the ELF symbols of the files each process maps. Ctrl-C stops early and prints what was sampled.
  --pid PID        only this process (all its threads)
  --freq HZ        samples a second on each CPU (default 49)
  --duration S     seconds to sample (default 5; fractions allowed)
  --format F       folded (default: 'command;frame;...;frame COUNT' lines, as flamegraph.pl reads them),
                   top (the functions most often on CPU, with their share of samples), or json
  --top N          rows of the top table (default 20)
  --idle           count the idle task's samples too
`;

function positiveNumber(text: string | undefined, what: string, integer: boolean, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
    throw new UsageError(`${what} must be a positive ${integer ? "integer" : "number"}, not '${text}'`);
  return n;
}

/** The top table: each function's samples on top of the stack (self) and anywhere in it (total). */
function top(stacks: readonly ProfileStack[], rows: number): string {
  let samples = 0;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  for (const s of stacks) {
    samples += s.count;
    const frames = [...s.user, ...s.kernel];
    const leaf = frames[frames.length - 1] ?? `[${s.command}]`;
    self.set(leaf, (self.get(leaf) ?? 0) + s.count);
    for (const f of new Set(frames)) total.set(f, (total.get(f) ?? 0) + s.count);
  }
  const pct = (n: number) => `${((100 * n) / Math.max(samples, 1)).toFixed(1)}%`.padStart(6);
  const lines = [`${samples} samples`, `${"self".padStart(6)} ${"total".padStart(6)}  function`];
  for (const [name, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, rows))
    lines.push(`${pct(n)} ${pct(total.get(name) ?? n)}  ${name}`);
  return `${lines.join("\n")}\n`;
}

/** Runs `rawbpf profile ...`. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, {
    values: ["pid", "freq", "duration", "format", "top"],
    booleans: ["idle"],
  });
  if (args.bools.has("help")) {
    io.stdout(HELP);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument '${args.positionals[0]}'`);
  const format = args.flags.get("format") ?? "folded";
  if (format !== "folded" && format !== "top" && format !== "json")
    throw new UsageError(`--format is folded, top or json, not '${format}'`);
  const pidText = args.flags.get("pid");
  const pid = pidText === undefined ? undefined : positiveNumber(pidText, "--pid", true, 0);
  const freq = positiveNumber(args.flags.get("freq"), "--freq", true, 49);
  const seconds = positiveNumber(args.flags.get("duration"), "--duration", false, 5);
  const rows = positiveNumber(args.flags.get("top"), "--top", true, 20);
  const symbolizer = new Symbolizer();
  using profiler = Profiler.start({
    ...(pid === undefined ? {} : { pid }),
    frequency: freq,
    includeIdle: args.bools.has("idle"),
  });
  // the kernel's symbols, read while the samples come in
  void symbolizer.kernel;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, seconds * 1000);
    // the mappings of the processes seen, read while they run (one may exit before the end)
    const remember = setInterval(() => profiler.remember(symbolizer), 500);
    function done() {
      clearTimeout(timer);
      clearInterval(remember);
      process.off("SIGINT", done);
      resolve();
    }
    process.once("SIGINT", done);
  });
  profiler.stop();
  profiler.remember(symbolizer);
  const stacks = profiler.stacks(symbolizer);
  if (format === "json") io.stdout(`${JSON.stringify(stacks)}\n`);
  else if (format === "top") io.stdout(top(stacks, rows));
  else io.stdout(foldStacks(stacks));
  return 0;
}
