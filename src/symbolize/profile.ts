/**
 * `Profiler`: a sampling CPU profiler. A perf_event program on cpu-clock (every online CPU) counts
 * (process, kernel stack id, user stack id, command name) in a hash map; the stacks are kept by
 * the kernel in a stack_trace map (bpf_get_stackid); reading them back symbolises each frame.
 */
import { readFileSync } from "node:fs";
import { type BytesCodec, bytes, u32, u64 } from "../codec/index.js";
import { asm } from "../isa/template.js";
import { attachPerfEvent, type PerfEventLink } from "../link/perf-event.js";
import { BpfMap } from "../map/map.js";
import { Program } from "../program/program.js";
import { InputError } from "../sys/error.js";
import { Symbolizer } from "./symbolizer.js";

/** Options of {@link Profiler.start}. */
export interface ProfilerOptions {
  /** only this process (its tgid: every thread); default every process */
  pid?: number;
  /** samples a second on each CPU (default 49) */
  frequency?: number;
  /** count samples of the idle task (pid 0) too (default false) */
  includeIdle?: boolean;
  /** how many distinct stacks the kernel keeps (default 16384) */
  maxStacks?: number;
}

/** One sampled stack and how many samples hit it. */
export interface ProfileStack {
  /** the process (tgid); 0 for the idle task */
  pid: number;
  /** the thread's command name when it was sampled */
  command: string;
  /** user frames, outermost first (empty for kernel threads, or when the stack was lost) */
  user: string[];
  /** kernel frames, outermost first */
  kernel: string[];
  /** samples */
  count: number;
}

/** BPF_F_USER_STACK: bpf_get_stackid walks the user stack. */
const USER_STACK = 1 << 8;
const KEY_SIZE = 32;

/** The deepest stack the kernel records (kernel.perf_event_max_stack, at most 127). */
function maxDepth(): number {
  try {
    const n = Number(readFileSync("/proc/sys/kernel/perf_event_max_stack", "latin1").trim());
    if (Number.isInteger(n) && n > 0) return Math.min(n, 127);
  } catch {
    // the default below
  }
  return 127;
}

/**
 * A running sampling profiler: made by {@link Profiler.start}, read with
 * {@link Profiler.stacks} (or {@link Profiler.folded}), released with `close()`.
 *
 * @example
 * ```ts
 * using profiler = Profiler.start({ frequency: 99 });
 * await new Promise((r) => setTimeout(r, 1000));
 * profiler.stop();
 * process.stdout.write(profiler.folded());
 * ```
 */
export class Profiler implements Disposable {
  readonly #counts: BpfMap<BytesCodec, typeof u64>;
  readonly #stackMap: BpfMap<typeof u32, BytesCodec>;
  readonly #program: Program;
  #link: PerfEventLink | undefined;
  readonly #depth: number;
  /** the frequency sampled at (Hz per CPU) */
  readonly frequency: number;

  private constructor(
    counts: BpfMap<BytesCodec, typeof u64>,
    stacks: BpfMap<typeof u32, BytesCodec>,
    program: Program,
    link: PerfEventLink,
    depth: number,
    hz: number,
  ) {
    this.#counts = counts;
    this.#stackMap = stacks;
    this.#program = program;
    this.#link = link;
    this.#depth = depth;
    this.frequency = hz;
  }

  /**
   * Starts sampling: creates the maps, loads the program, and attaches it to a cpu-clock
   * perf event on every online CPU.
   */
  static start(options: ProfilerOptions = {}): Profiler {
    const pid = options.pid ?? 0;
    if (!Number.isInteger(pid) || pid < 0 || pid > 0x3fffffff)
      throw new InputError(`a profiled pid is a process id (a positive integer), got ${String(options.pid)}`);
    const hz = options.frequency ?? 49;
    if (!Number.isInteger(hz) || hz < 1 || hz > 100_000)
      throw new InputError(`a sampling frequency is an integer from 1 to 100000 Hz, got ${String(hz)}`);
    const maxStacks = options.maxStacks ?? 16384;
    if (!Number.isInteger(maxStacks) || maxStacks < 1 || maxStacks > 1 << 20)
      throw new InputError(`maxStacks is an integer from 1 to 1048576, got ${String(maxStacks)}`);
    const depth = maxDepth();
    const opened: { close(): void }[] = [];
    try {
      const stacks = BpfMap.create({
        type: "stack_trace",
        key: u32,
        value: bytes(depth * 8),
        maxEntries: maxStacks,
        name: "prof_stacks",
      });
      opened.push(stacks);
      const counts = BpfMap.create({
        type: "hash",
        key: bytes(KEY_SIZE),
        value: u64,
        maxEntries: maxStacks,
        name: "prof_counts",
      });
      opened.push(counts);
      const idle = options.includeIdle === true ? 1 : 0;
      // key at r10-32: tgid u32, kernel stack id s32, user stack id s32, 0 u32, comm[16]
      const program = Program.load({
        type: "perf_event",
        name: "rawbpf_profile",
        instructions: asm`
          r6 = r1
          call bpf_get_current_pid_tgid
          r7 = r0
          r7 >>= 32
          r2 = ${pid}
          if r2 == 0 goto any
          if r7 != r2 goto out
        any:
          r2 = ${idle}
          if r2 != 0 goto keep
          if r7 == 0 goto out
        keep:
          *(u32 *)(r10 - 32) = r7
          r1 = r6
          r2 = ${stacks}
          r3 = 0
          call bpf_get_stackid
          *(u32 *)(r10 - 28) = r0
          r1 = r6
          r2 = ${stacks}
          r3 = ${USER_STACK}
          call bpf_get_stackid
          *(u32 *)(r10 - 24) = r0
          r1 = 0
          *(u32 *)(r10 - 20) = r1
          r1 = r10
          r1 += -16
          r2 = 16
          call bpf_get_current_comm
          r1 = ${counts}
          r2 = r10
          r2 += -32
          call bpf_map_lookup_elem
          if r0 != 0 goto add
          r1 = 1
          *(u64 *)(r10 - 40) = r1
          r1 = ${counts}
          r2 = r10
          r2 += -32
          r3 = r10
          r3 += -40
          r4 = 1
          call bpf_map_update_elem
          if r0 == 0 goto out
          r1 = ${counts}
          r2 = r10
          r2 += -32
          call bpf_map_lookup_elem
          if r0 == 0 goto out
        add:
          r1 = 1
          lock *(u64 *)(r0 + 0) += r1
        out:
          r0 = 0
          exit
        `,
      });
      opened.push(program);
      const link = attachPerfEvent(program, { type: "software", config: "cpu-clock", sampleFreq: hz });
      return new Profiler(counts, stacks, program, link, depth, hz);
    } catch (e) {
      for (const o of opened.reverse()) o.close();
      throw e;
    }
  }

  /** The perf event link (one per CPU), while sampling. */
  get link(): PerfEventLink | undefined {
    return this.#link;
  }

  /** The processes sampled so far (their tgids; 0 is the idle task). */
  pids(): Set<number> {
    const out = new Set<number>();
    for (const k of this.#counts.keys()) out.add(new DataView(k.buffer, k.byteOffset, 4).getUint32(0, true));
    return out;
  }

  /**
   * Has `symbolizer` read the mappings of every process sampled so far, while they run: call it
   * now and then during a long profile so that processes that exit before the end still get
   * their frames named.
   */
  remember(symbolizer: Symbolizer): void {
    for (const pid of this.pids()) if (pid > 0) symbolizer.remember(pid);
  }

  /** Stops sampling (detaches from every CPU); the samples stay readable until close(). */
  stop(): void {
    this.#link?.close();
    this.#link = undefined;
  }

  /**
   * The stacks sampled so far, symbolised by `symbolizer` (default: a new {@link Symbolizer}),
   * most samples first. A stack the kernel could not keep (its map full, or a hash collision)
   * shows as the frame `[lost stack]`.
   */
  stacks(symbolizer: Symbolizer = new Symbolizer()): ProfileStack[] {
    const out: ProfileStack[] = [];
    const cache = new Map<string, string[]>();
    const frames = (id: number, pid: number, kernel: boolean): string[] => {
      if (id < 0) return id === -14 ? [] : ["[lost stack]"]; // -EFAULT: no user stack (a kernel thread)
      const key = kernel ? `k${id}` : `${pid}:${id}`;
      let names = cache.get(key);
      if (names === undefined) {
        const raw = this.#stackMap.get(id) as Uint8Array | undefined;
        names = raw === undefined ? ["[lost stack]"] : symbolizer.stack(raw, pid).reverse();
        cache.set(key, names);
      }
      return names;
    };
    for (const [k, count] of this.#counts) {
      const key = k as Uint8Array;
      const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
      const pid = view.getUint32(0, true);
      const kid = view.getInt32(4, true);
      const uid = view.getInt32(8, true);
      const end = key.indexOf(0, 16);
      const command = Buffer.from(key.subarray(16, end < 0 ? KEY_SIZE : end)).toString("utf8");
      out.push({
        pid,
        command,
        user: frames(uid, pid, false),
        kernel: frames(kid, pid, true),
        count: Number(count),
      });
    }
    return out.sort((a, b) => b.count - a.count);
  }

  /** The samples as folded stacks (`command;frame;frame COUNT` a line), the input of flame graph tools. */
  folded(symbolizer?: Symbolizer): string {
    return foldStacks(this.stacks(symbolizer));
  }

  /** Stops sampling and releases the program and maps; a second call does nothing. */
  close(): void {
    this.stop();
    this.#program.close();
    this.#counts.close();
    this.#stackMap.close();
  }

  /** The same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** The deepest stack recorded, in frames. */
  get depth(): number {
    return this.#depth;
  }
}

/**
 * Folded stacks, one line per distinct stack: the command name, the user frames, then the kernel
 * frames, outermost first, joined with `;`, then a space and the count (`node;main;uv_run;... 42`),
 * as flamegraph.pl and speedscope read them. Stacks that fold to the same line are added up.
 */
export function foldStacks(stacks: readonly ProfileStack[]): string {
  const lines = new Map<string, number>();
  for (const s of stacks) {
    const parts = [
      s.command.replaceAll(";", "_").replaceAll(" ", "_") || "[unknown]",
      ...s.user,
      ...s.kernel,
    ];
    const line = parts.map((p) => p.replaceAll(";", ":")).join(";");
    lines.set(line, (lines.get(line) ?? 0) + s.count);
  }
  return [...lines].map(([line, n]) => `${line} ${n}\n`).join("");
}
