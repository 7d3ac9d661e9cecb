/**
 * profile: a CPU profile of this Node process, sampled by the kernel. A perf_event program on
 * cpu-clock (99 samples a second on every CPU) records this process's stacks with
 * bpf_get_stackid into a stack_trace map while Node hashes with PBKDF2 (OpenSSL's SHA-256 inside
 * node's own binary); the stacks are then named — kernel frames from /proc/kallsyms, user frames
 * from the ELF symbols of the files the process maps — and the hottest printed as folded stacks
 * (`frame;frame;frame COUNT`, what flamegraph.pl reads). JavaScript frames are JIT code with no
 * ELF symbol: they show as `[anon]` (start node with --perf-basic-prof to have them named).
 *
 * Run alone: `node --import tsx examples/profile.ts`
 */
import { pbkdf2Sync } from "node:crypto";
import { foldStacks, Profiler, type ProfileStack } from "../src/index.js";
import { type Log, runIfMain } from "./main.js";

/** What the demo saw. */
export interface ProfileResult {
  /** the sampled stacks of this process, most samples first */
  stacks: ProfileStack[];
  /** every sample */
  samples: number;
  /** samples whose user stack has a SHA-256 function of node's OpenSSL in it */
  hashing: number;
}

export async function run(log: Log): Promise<ProfileResult> {
  using profiler = Profiler.start({ pid: process.pid, frequency: 99 });
  log(
    `sampling this process (pid ${process.pid}) at ${profiler.frequency} Hz on ${profiler.link?.cpus.length} CPUs: ` +
      `one perf_event program, stacks in a stack_trace map`,
  );
  // CPU work in node's own binary, with breaks so the samples can land on another CPU too
  const until = Date.now() + 1500;
  let rounds = 0;
  while (Date.now() < until) {
    pbkdf2Sync("rawbpf", "salt", 20_000, 32, "sha256");
    rounds++;
    await new Promise((r) => setImmediate(r));
  }
  profiler.stop();
  const stacks = profiler.stacks();
  const samples = stacks.reduce((a, s) => a + s.count, 0);
  const hashing = stacks
    .filter((s) => s.user.some((f) => /sha256|SHA256/i.test(f)))
    .reduce((a, s) => a + s.count, 0);
  log(`${rounds} rounds of PBKDF2-SHA256; ${samples} samples, ${hashing} of them inside SHA-256`);
  // the functions on top of the stack (where the CPU was), by samples
  const self = new Map<string, number>();
  for (const s of stacks) {
    const leaf = [...s.user, ...s.kernel].at(-1) ?? "[no stack]";
    self.set(leaf, (self.get(leaf) ?? 0) + s.count);
  }
  log("where the CPU was (samples, function):");
  for (const [name, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 6))
    log(`  ${n.toString().padStart(4)}  ${name}`);
  const folded = foldStacks(stacks).split("\n")[0] ?? "";
  log(
    `one folded stack, as flamegraph.pl reads them: ${folded.length > 160 ? `...${folded.slice(-157)}` : folded}`,
  );
  return { stacks, samples, hashing };
}

runIfMain(import.meta.url, run);
