/**
 * Perf events: a `perf_event` program run by a sampling event (cpu-clock, cycles, a tracepoint)
 * on every online CPU, each CPU's event opened with perf_event_open and linked with
 * BPF_LINK_CREATE; one {@link PerfEventLink} owns them all.
 */
import { existsSync } from "node:fs";
import type { Program } from "../program/program.js";
import { closestName } from "../program/types.js";
import { BpfError, InputError } from "../sys/error.js";
import { perfEventOpen } from "../sys/link.js";
import { onlineCpus } from "../sys/perf.js";
import { type CookieOptions, cookieOf } from "./cookie.js";
import type { LinkInfo } from "./info.js";
import type { Link } from "./link.js";
import { programFd } from "./program.js";
import { linkPerfEvent, tracepointId } from "./tracepoint.js";

/** The kind of perf event (`attr.type`): PERF_TYPE_SOFTWARE, _HARDWARE, _TRACEPOINT, _RAW. */
export type PerfEventType = "software" | "hardware" | "tracepoint" | "raw";

const PERF_TYPE: Record<PerfEventType, number> = { hardware: 0, software: 1, tracepoint: 2, raw: 4 };

/** `enum perf_sw_ids`, by the names `perf list` prints. */
export const SOFTWARE_EVENTS: Readonly<Record<string, number>> = {
  "cpu-clock": 0,
  "task-clock": 1,
  "page-faults": 2,
  "context-switches": 3,
  "cpu-migrations": 4,
  "minor-faults": 5,
  "major-faults": 6,
  "alignment-faults": 7,
  "emulation-faults": 8,
  dummy: 9,
  "bpf-output": 10,
  "cgroup-switches": 11,
};

/** `enum perf_hw_id`, by the names `perf list` prints. */
export const HARDWARE_EVENTS: Readonly<Record<string, number>> = {
  "cpu-cycles": 0,
  instructions: 1,
  "cache-references": 2,
  "cache-misses": 3,
  "branch-instructions": 4,
  "branch-misses": 5,
  "bus-cycles": 6,
  "stalled-cycles-frontend": 7,
  "stalled-cycles-backend": 8,
  "ref-cycles": 9,
};

/** Options of {@link attachPerfEvent}. */
export interface PerfEventOptions extends CookieOptions {
  /** the kind of event */
  type: PerfEventType;
  /**
   * Which event of that kind: a number (`attr.config`), or a name — `"cpu-clock"`,
   * `"page-faults"`... for software events, `"cpu-cycles"`, `"instructions"`... for hardware
   * events, `"category/name"` (`"sched/sched_switch"`) for tracepoints.
   */
  config: number | bigint | string;
  /** samples a second per CPU (the `freq` bit). Default 99 for software and hardware events */
  sampleFreq?: number;
  /** one sample every this many events (default 1 for tracepoint and raw events) */
  samplePeriod?: number | bigint;
  /** only this CPU (default: one event on each online CPU) */
  cpu?: number;
  /** only this thread (a task id; default every process). With a pid and no cpu, one event follows it */
  pid?: number;
}

/** What {@link PerfEventLink.info} reports: the event and the kernel's link on each CPU. */
export interface PerfEventLinkInfo {
  /** the kind of event */
  type: PerfEventType;
  /** `attr.type` as the kernel got it */
  perfType: number;
  /** `attr.config` as the kernel got it */
  config: bigint;
  /** samples a second, when sampling by frequency */
  sampleFreq?: number;
  /** events per sample, when sampling by period */
  samplePeriod?: bigint;
  /** the thread watched, or -1 for every process */
  pid: number;
  /** the CPU of each link (-1: the event follows `pid` on every CPU) */
  cpus: number[];
  /** the kernel's description of each link, in the order of `cpus` */
  links: LinkInfo[];
}

/**
 * A perf_event program attached to one perf event per CPU: it owns every per-CPU link (each link
 * owns its perf event). `close()` (or `using`) detaches from all CPUs.
 */
export class PerfEventLink implements Disposable {
  /** the per-CPU links, in the order of {@link PerfEventLink.cpus} */
  readonly links: readonly Link[];
  /** the CPU of each link (-1 when one event follows a task over every CPU) */
  readonly cpus: readonly number[];
  readonly #event: Omit<PerfEventLinkInfo, "links" | "cpus">;

  /** Made by {@link attachPerfEvent}. */
  constructor(links: Link[], cpus: number[], event: Omit<PerfEventLinkInfo, "links" | "cpus">) {
    this.links = links;
    this.cpus = cpus;
    this.#event = event;
  }

  /** Whether close() has been called. */
  get closed(): boolean {
    return this.links.every((l) => l.closed);
  }

  /** The event, and what the kernel says about each CPU's link (ids, program id, config). */
  info(): PerfEventLinkInfo {
    return { ...this.#event, cpus: [...this.cpus], links: this.links.map((l) => l.info()) };
  }

  /** Closes every per-CPU link (detaching the program); a second call does nothing. */
  close(): void {
    for (const l of this.links) l.close();
  }

  /** The same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** `attr.config` for `options.config`, checked by kind. */
function configOf(type: PerfEventType, config: unknown): bigint {
  if (typeof config === "number" && Number.isSafeInteger(config) && config >= 0) return BigInt(config);
  if (typeof config === "bigint" && config >= 0n && config <= 0xffffffffffffffffn) return config;
  if (typeof config === "string") {
    const table = type === "software" ? SOFTWARE_EVENTS : type === "hardware" ? HARDWARE_EVENTS : undefined;
    if (table) {
      const n = table[config];
      if (n !== undefined) return BigInt(n);
      const near = closestName(config, Object.keys(table));
      throw new InputError(
        `there is no ${type} event '${config}'${near ? ` — did you mean '${near}'?` : ""} (${type} events: ${Object.keys(table).join(", ")})`,
      );
    }
    if (type === "tracepoint") {
      const slash = config.indexOf("/");
      if (slash > 0) return BigInt(tracepointId(config.slice(0, slash), config.slice(slash + 1)));
      throw new InputError(
        `a tracepoint event is named 'category/name' ('sched/sched_switch'), got '${config}'`,
      );
    }
  }
  throw new InputError(
    `a ${type} perf event's config is a non-negative integer${type === "raw" ? "" : " or a name"}, got ${String(config)}`,
  );
}

function checkInt(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new InputError(`${what} must be an integer from ${min} to ${max}, got ${String(v)}`);
  }
  return v;
}

/**
 * Attaches a `perf_event` program to a sampling perf event on every online CPU (or one CPU, or
 * one thread) — a `tracepoint` program for tracepoint events: a software event (`"cpu-clock"` works in any VM), a hardware counter (where the
 * machine exposes a CPU PMU), a tracepoint or a raw PMU event. The program runs at each sample with
 * the sample's registers as its context (struct bpf_perf_event_data), so `bpf_get_stackid` there
 * records the interrupted stack. Close the returned link to detach from every CPU.
 *
 * @example
 * ```ts
 * using link = attachPerfEvent(program, { type: "software", config: "cpu-clock", sampleFreq: 99 });
 * ```
 */
export function attachPerfEvent(program: Program, options: PerfEventOptions): PerfEventLink {
  if (options === null || typeof options !== "object")
    throw new InputError("attachPerfEvent needs options: { type, config, sampleFreq | samplePeriod }");
  const type = options.type;
  if (typeof type !== "string" || !Object.hasOwn(PERF_TYPE, type)) {
    throw new InputError(
      `a perf event's type is 'software', 'hardware', 'tracepoint' or 'raw', got ${JSON.stringify(type)}`,
    );
  }
  // the kernel runs tracepoint programs on tracepoint events, perf_event programs on the others
  const fd =
    type === "tracepoint"
      ? programFd(program, ["tracepoint"], "attachPerfEvent on a tracepoint event")
      : programFd(program, ["perf_event"], "attachPerfEvent");
  const config = configOf(type, options.config);
  if (options.sampleFreq !== undefined && options.samplePeriod !== undefined)
    throw new InputError("give sampleFreq or samplePeriod, not both: a perf event samples by one of them");
  const cookie = cookieOf(options);
  let freq: number | undefined;
  let period: bigint | undefined;
  if (options.samplePeriod !== undefined) {
    const p = options.samplePeriod;
    if (!((typeof p === "number" && Number.isSafeInteger(p) && p > 0) || (typeof p === "bigint" && p > 0n)))
      throw new InputError(`samplePeriod must be a positive integer (events per sample), got ${String(p)}`);
    period = BigInt(p);
  } else if (options.sampleFreq !== undefined || type === "software" || type === "hardware") {
    freq = checkInt(options.sampleFreq ?? 99, "sampleFreq (samples a second)", 1, 1_000_000);
  } else {
    period = 1n;
  }
  const pid = options.pid === undefined ? -1 : checkInt(options.pid, "a perf event's pid", 1, 0x3fffffff);
  if (pid !== -1 && !existsSync(`/proc/${pid}`))
    throw new InputError(`there is no process ${pid} (no /proc/${pid}): it may have exited already`);
  const online = onlineCpus();
  let cpus: number[];
  if (options.cpu !== undefined) {
    const cpu = checkInt(options.cpu, "a perf event's cpu", 0, 4095);
    if (!online.includes(cpu))
      throw new InputError(`CPU ${cpu} is not online (online CPUs: ${online.join(", ")})`);
    cpus = [cpu];
  } else cpus = pid === -1 ? online : [-1];
  const perfType = PERF_TYPE[type];
  const sample = freq === undefined ? `every ${period} events` : `${freq} Hz`;
  const links: Link[] = [];
  try {
    for (const cpu of cpus) {
      const what =
        `on ${type} perf event ${String(options.config)} (${sample})` +
        (cpu === -1 ? "" : ` on CPU ${cpu}`) +
        (pid === -1 ? "" : ` for pid ${pid}`);
      let perf: number;
      try {
        perf = perfEventOpen(
          {
            type: perfType,
            config,
            sample: freq ?? period,
            freq: freq !== undefined,
            pid,
            cpu,
            kind: `a ${type} perf event`,
          },
          what,
        );
      } catch (e) {
        throw explain(e, type, freq, what);
      }
      links.push(linkPerfEvent(fd, perf, cookie, what));
    }
  } catch (e) {
    for (const l of links) l.close();
    throw e;
  }
  return new PerfEventLink(links, cpus, {
    type,
    perfType,
    config,
    ...(freq === undefined ? { samplePeriod: period } : { sampleFreq: freq }),
    pid,
  });
}

/** perf_event_open's refusals that have a known cause here, said plainly. */
function explain(e: unknown, type: PerfEventType, freq: number | undefined, what: string): unknown {
  if (!(e instanceof BpfError)) return e;
  if (type === "hardware" && (e.errnoName === "ENOENT" || e.errnoName === "EOPNOTSUPP")) {
    const pmu =
      existsSync("/sys/bus/event_source/devices/cpu") || existsSync("/sys/bus/event_source/devices/cpu_core");
    return new BpfError(
      e.command,
      e.errno,
      {
        hint: pmu
          ? "the CPU's PMU does not count this hardware event: pick another, or use type 'software' (config 'cpu-clock')"
          : "this machine exposes no hardware PMU (no cpu device in /sys/bus/event_source/devices; virtual machines often have none): sample with type 'software', config 'cpu-clock'",
      },
      what,
    );
  }
  if (e.errnoName === "EINVAL" && freq !== undefined) {
    return new BpfError(
      e.command,
      e.errno,
      {
        hint: `the kernel refused ${freq} samples a second: is it above kernel.perf_event_max_sample_rate (/proc/sys/kernel/perf_event_max_sample_rate)?`,
      },
      what,
    );
  }
  return e;
}
