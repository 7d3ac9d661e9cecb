/**
 * The settable world a program sees through its helpers: process identity, time, CPU, random
 * numbers, the memory bpf_probe_read_* reads. Defaults are fixed, so runs are deterministic.
 */

/** Memory a test provides for `bpf_probe_read_*`: bytes at a (user or kernel) address. */
export interface ProbeMemory {
  address: bigint;
  bytes: Uint8Array;
}

/** What the helpers answer. Every field has a fixed default. */
export interface InterpEnvironment {
  /** thread id (low half of bpf_get_current_pid_tgid), default 1000 */
  pid: number;
  /** process id (high half), default 1000 */
  tgid: number;
  /** default 0 */
  uid: number;
  gid: number;
  /** bpf_get_current_comm, default "rawbpf" */
  comm: string;
  /** bpf_ktime_get_ns's first answer, default 1_000_000_000n */
  timeNs: bigint;
  /** how far the clock moves at each bpf_ktime_get_ns call, default 1000n */
  timeStepNs: bigint;
  /** bpf_get_smp_processor_id, and the slot per-CPU maps use; default 0 */
  cpu: number;
  /** seed of bpf_get_prandom_u32 (xorshift32), default 1 */
  seed: number;
  /** memory bpf_probe_read_* may read */
  memory: readonly ProbeMemory[];
  /**
   * bpf_get_current_task's answer, default 0n: the address of a `struct task_struct` the test
   * lays out in `memory` (at the offsets CO-RE relocated the program to), for BPF_CORE_READ
   */
  task: bigint;
  /** where bpf_trace_printk lines go (default: collected in the run's result only) */
  printk?: (line: string) => void;
}

export const DEFAULT_ENVIRONMENT: Readonly<InterpEnvironment> = Object.freeze({
  pid: 1000,
  tgid: 1000,
  uid: 0,
  gid: 0,
  comm: "rawbpf",
  timeNs: 1_000_000_000n,
  timeStepNs: 1000n,
  cpu: 0,
  seed: 1,
  memory: [],
  task: 0n,
});

/** The environment of the run in progress, with its moving parts (clock, random state). */
export const live = {
  env: DEFAULT_ENVIRONMENT as InterpEnvironment,
  now: DEFAULT_ENVIRONMENT.timeNs,
  random: 1,
  printed: [] as string[],
};

/** Starts a run's environment from defaults plus `overrides`. */
export function startEnvironment(overrides: Partial<InterpEnvironment> | undefined): void {
  const env = overrides ? { ...DEFAULT_ENVIRONMENT, ...overrides } : DEFAULT_ENVIRONMENT;
  live.env = env as InterpEnvironment;
  live.now = env.timeNs;
  live.random = env.seed >>> 0 || 1;
  live.printed = [];
}

/** The next value of bpf_get_prandom_u32 (xorshift32). */
export function nextRandom(): number {
  let x = live.random;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  live.random = x >>> 0;
  return live.random;
}
