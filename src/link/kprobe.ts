/**
 * Kprobes and kretprobes (a `kprobe` program on a kernel function, through a perf event of the
 * kprobe PMU, then BPF_LINK_CREATE; on kernels without the PMU, before 4.17, through a kprobe
 * event made in tracefs's `kprobe_events` and a tracepoint perf event on it, as libbpf does) and
 * kprobe_multi links (many functions, one BPF_LINK_CREATE with BPF_TRACE_KPROBE_MULTI, through
 * fprobe). What the kernel lacks is said before it is asked.
 */
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import type { Program } from "../program/program.js";
import { attachTypeNumber } from "../program/types.js";
import { BpfError, InputError, RawbpfError } from "../sys/error.js";
import {
  KPROBE_MULTI_RETURN,
  linkCreate,
  perfEventOpenKprobe,
  perfEventOpenTracepoint,
} from "../sys/link.js";
import { type CookieOptions, cookieOf } from "./cookie.js";
import { KprobesUnsupportedError } from "./errors.js";
import { adoptLink, type Link } from "./link.js";
import { programFd } from "./program.js";
import { linkPerfEvent } from "./tracepoint.js";

/** Where the kernel lists its event sources (PMUs). */
export const PMU_DIR = "/sys/bus/event_source/devices";
/** Where tracefs may be mounted (its own mount point, then under debugfs). */
const TRACEFS = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/** Options of {@link attachKprobe}. */
export interface KprobeOptions extends CookieOptions {
  /** the kernel function (`"do_sys_openat2"`), or leave it out and give `address` */
  symbol?: string;
  /** a kernel address (from /proc/kallsyms) instead of a symbol */
  address?: bigint;
  /** bytes into `symbol` (default 0: its entry); must be an instruction boundary */
  offset?: number;
  /** a kretprobe: run when the function returns */
  retprobe?: boolean;
}

/** What the machine offers for kprobes: the PMU's numbers, and whether tracefs has kprobe_events. */
export interface KprobeSupport {
  /** the kprobe PMU (/sys/bus/event_source/devices/kprobe), when there is one */
  pmu?: { type: number; retprobeBit: number };
  /** whether tracefs has `kprobe_events` (the legacy way to create kprobes) */
  kprobeEvents: boolean;
}

/** Reads what the machine offers for kprobes, from sysfs and tracefs (no system call). */
export function kprobeSupport(): KprobeSupport {
  const kprobeEvents = TRACEFS.some((root) => existsSync(`${root}/kprobe_events`));
  try {
    const type = Number(readFileSync(`${PMU_DIR}/kprobe/type`, "latin1").trim());
    const bit = /^config:(\d+)$/.exec(readFileSync(`${PMU_DIR}/kprobe/format/retprobe`, "latin1").trim());
    if (Number.isInteger(type) && type >= 0 && bit)
      return { pmu: { type, retprobeBit: Number(bit[1]) }, kprobeEvents };
  } catch {
    // no PMU: said below
  }
  return { kprobeEvents };
}

/** The tracefs root that has `kprobe_events`, if one has. */
function kprobeEventsRoot(): string | undefined {
  return TRACEFS.find((root) => existsSync(`${root}/kprobe_events`));
}

const SYMBOL = /^[A-Za-z_.][A-Za-z0-9_.$]*$/;

/**
 * Attaches a `kprobe` program to a kernel function: at its entry (or `offset` bytes in), or with
 * `retprobe` at its return, through a perf event of the kprobe PMU (config1 = the name, config2 =
 * the offset; or an `address`) and a perf_event link. The program's context is the kernel's
 * registers (struct pt_regs). Close the link to detach.
 *
 * On a kernel without the kprobe PMU (before Linux 4.17) the probe is made as libbpf does there:
 * a `rawbpf_<pid>_<n>` event written to tracefs's `kprobe_events`, a tracepoint perf event on it,
 * and the same link; the event is removed when the link closes (or at once if a later step fails).
 * On a kernel built without CONFIG_KPROBES (no kprobe PMU, no kprobe_events) this throws a
 * {@link KprobesUnsupportedError} before any system call.
 *
 * @example
 * ```ts
 * using link = attachKprobe(program, { symbol: "do_sys_openat2" });
 * ```
 */
export function attachKprobe(program: Program, options: KprobeOptions): Link {
  const fd = programFd(program, ["kprobe"], "attachKprobe");
  if (options === null || typeof options !== "object")
    throw new InputError("attachKprobe needs options: { symbol } or { address }");
  const { symbol, address } = options;
  if ((symbol === undefined) === (address === undefined))
    throw new InputError(
      "attachKprobe takes a kernel function's `symbol` or an `address`, exactly one of them",
    );
  if (symbol !== undefined && (typeof symbol !== "string" || !SYMBOL.test(symbol)))
    throw new InputError(
      `a kernel function's name is a C identifier ('do_sys_openat2'), got ${JSON.stringify(symbol)}`,
    );
  if (
    address !== undefined &&
    (typeof address !== "bigint" || address <= 0n || address > 0xffffffffffffffffn)
  )
    throw new InputError(`a kernel address is a positive 64-bit bigint, got ${String(address)}`);
  const offset = options.offset ?? 0;
  if (
    !Number.isInteger(offset) ||
    offset < 0 ||
    offset > 0xffffffff ||
    (offset !== 0 && symbol === undefined)
  )
    throw new InputError(
      `a kprobe offset is a non-negative integer into the named function (not with an address), got ${String(offset)}`,
    );
  const retprobe = options.retprobe ?? false;
  if (typeof retprobe !== "boolean")
    throw new InputError(`retprobe must be true or false, got ${String(retprobe)}`);
  if (retprobe && offset !== 0)
    throw new InputError("a kretprobe goes on a function's entry: leave offset out");
  const cookie = cookieOf(options);
  const support = kprobeSupport();
  const place = symbol === undefined ? `0x${address!.toString(16)}` : offset ? `${symbol}+${offset}` : symbol;
  const what = `on ${retprobe ? "kretprobe" : "kprobe"} ${place}`;
  const pmu = support.pmu;
  if (pmu === undefined) {
    const root = kprobeEventsRoot();
    if (root === undefined) throw new KprobesUnsupportedError(false);
    return attachKprobeEvent(fd, { symbol, address, offset, retprobe }, cookie, root);
  }
  const perf = perfEventOpenKprobe(
    {
      pmuType: pmu.type,
      ...(retprobe ? { retprobeBit: pmu.retprobeBit } : {}),
      ...(symbol === undefined ? {} : { symbol }),
      offset: symbol === undefined ? address! : BigInt(offset),
    },
    what,
  );
  return linkPerfEvent(fd, perf, cookie, what);
}

/** Options of {@link attachKprobeMulti}: `symbols` or `addresses`, exactly one. */
export interface KprobeMultiOptions {
  /** kernel function names (each in /sys/kernel/tracing/available_filter_functions) */
  symbols?: readonly string[];
  /** kernel addresses of functions' entries */
  addresses?: readonly bigint[];
  /** one BPF cookie per function (bpf_get_attach_cookie tells the program which it runs for) */
  cookies?: readonly (bigint | number)[];
  /** kretprobes: run when each function returns */
  retprobe?: boolean;
}

/** The most functions one kprobe_multi link takes (the kernel's MAX_KPROBE_MULTI_CNT). */
const MAX_KPROBE_MULTI = 1 << 20;

/**
 * Attaches a `kprobe` program loaded with `expectedAttachType: "trace_kprobe_multi"` to many
 * kernel functions with one kprobe_multi link (BPF_LINK_CREATE, BPF_TRACE_KPROBE_MULTI): by name
 * or by address, each with its own cookie. Close the link to detach them all.
 *
 * @example
 * ```ts
 * const program = Program.load({ type: "kprobe", expectedAttachType: "trace_kprobe_multi", instructions });
 * using link = attachKprobeMulti(program, { symbols: ["vfs_read", "vfs_write"], cookies: [1, 2] });
 * ```
 */
export function attachKprobeMulti(program: Program, options: KprobeMultiOptions): Link {
  const fd = programFd(program, ["kprobe"], "attachKprobeMulti", " (kprobe_multi links run kprobe programs)");
  const loadedAs = program.expectedAttachType;
  if (loadedAs !== "trace_kprobe_multi" && (loadedAs !== undefined || program.stats !== undefined)) {
    throw new InputError(
      `attachKprobeMulti needs a kprobe program loaded with expectedAttachType: "trace_kprobe_multi", this one was loaded with ${loadedAs === undefined ? "none" : `'${loadedAs}'`}`,
    );
  }
  if (options === null || typeof options !== "object")
    throw new InputError("attachKprobeMulti needs options: { symbols } or { addresses }");
  const { symbols, addresses, cookies } = options;
  if ((symbols === undefined) === (addresses === undefined))
    throw new InputError("attachKprobeMulti takes `symbols` or `addresses`, exactly one of them");
  const places = (symbols ?? addresses) as readonly unknown[];
  if (!Array.isArray(places) || places.length === 0 || places.length > MAX_KPROBE_MULTI)
    throw new InputError(
      `attachKprobeMulti takes from 1 to ${MAX_KPROBE_MULTI} ${symbols ? "symbols" : "addresses"}, got ${Array.isArray(places) ? places.length : String(places)}`,
    );
  if (cookies !== undefined && (!Array.isArray(cookies) || cookies.length !== places.length))
    throw new InputError(
      `cookies, when given, are one per function: ${places.length} functions, ${Array.isArray(cookies) ? cookies.length : String(cookies)} cookies`,
    );
  const retprobe = options.retprobe ?? false;
  if (typeof retprobe !== "boolean")
    throw new InputError(`retprobe must be true or false, got ${String(retprobe)}`);
  let addressBytes: Buffer | undefined;
  if (symbols !== undefined) {
    symbols.forEach((s, i) => {
      if (typeof s !== "string" || !SYMBOL.test(s))
        throw new InputError(
          `symbol ${i}: a kernel function's name is a C identifier, got ${JSON.stringify(s)}`,
        );
    });
  } else {
    addressBytes = Buffer.alloc(places.length * 8);
    (addresses as readonly unknown[]).forEach((a, i) => {
      if (typeof a !== "bigint" || a <= 0n || a > 0xffffffffffffffffn)
        throw new InputError(`address ${i}: a kernel address is a positive 64-bit bigint, got ${String(a)}`);
      addressBytes!.writeBigUInt64LE(a, i * 8);
    });
  }
  let cookieBytes: Buffer | undefined;
  if (cookies !== undefined) {
    cookieBytes = Buffer.alloc(cookies.length * 8);
    for (let i = 0; i < cookies.length; i++)
      cookieBytes.writeBigUInt64LE(cookieOf({ cookie: cookies[i] }), i * 8);
  }
  const what = `on ${places.length} ${retprobe ? "kretprobes" : "kprobes"} (kprobe_multi)`;
  try {
    const link = linkCreate(
      {
        progFd: fd,
        target: 0,
        attachType: attachTypeNumber("trace_kprobe_multi"),
        extra: {
          kind: "kprobe_multi",
          symbols,
          addresses: addressBytes,
          cookies: cookieBytes,
          count: places.length,
          flags: retprobe ? KPROBE_MULTI_RETURN : 0,
        },
      },
      { what, privilege: "perfmon" },
    );
    return adoptLink(link);
  } catch (e) {
    if (e instanceof BpfError && e.errnoName === "EOPNOTSUPP")
      throw new BpfError(
        e.command,
        e.errno,
        { hint: "this kernel has no kprobe_multi links: it was built without CONFIG_FPROBE" },
        what,
      );
    if (e instanceof BpfError && e.errnoName === "ENOENT" && symbols)
      throw new BpfError(
        e.command,
        e.errno,
        {
          hint: "a symbol is not a function ftrace can probe: each must be listed in /sys/kernel/tracing/available_filter_functions",
        },
        what,
      );
    throw e;
  }
}

// ---- kprobes through tracefs (kernels without the kprobe PMU) ----------------------------------

/** A kprobe event in tracefs could not be made or removed: the file, the line, and what it said. */
export class KprobeEventError extends RawbpfError {
  /** the line written to kprobe_events */
  readonly line: string;
  constructor(file: string, line: string, why: string, options?: ErrorOptions) {
    super("EKPROBEEVENT", `writing '${line}' to ${file} failed: ${why}`, options);
    this.line = line;
  }
}

/** The event-name part of kprobe_events lines: a C identifier of at most 63 characters. */
const EVENT_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

let nextEvent = 0;

/**
 * The name of this process's `n`-th kprobe event: `rawbpf_<pid>_<n>` (unique among processes, so
 * two tools never remove each other's events; the kernel puts it in the `kprobes` group).
 */
export function kprobeEventName(pid: number, n: number): string {
  if (!Number.isInteger(pid) || pid < 1 || !Number.isInteger(n) || n < 0)
    throw new InputError(`a kprobe event name needs a process id and a counter, got ${pid} and ${n}`);
  return `rawbpf_${pid}_${n}`;
}

/** Where a kprobe event goes. */
export interface KprobeEventSpec {
  /** the event's name (see {@link kprobeEventName}) */
  name: string;
  /** the kernel function, or leave it out and give `address` */
  symbol?: string | undefined;
  /** a kernel address instead of a symbol (kprobes only: tracefs takes kretprobes on symbols) */
  address?: bigint | undefined;
  /** bytes into `symbol` */
  offset?: number | undefined;
  retprobe?: boolean | undefined;
}

/**
 * The line that defines a kprobe event in tracefs's `kprobe_events`, in the syntax of the kernel's
 * Documentation/trace/kprobetrace.rst: `p:NAME SYM[+offs]` or `p:NAME MEMADDR` for a kprobe,
 * `r:NAME SYM` for a kretprobe (the group left out: the kernel uses `kprobes`).
 */
export function kprobeEventDefinition(spec: KprobeEventSpec): string {
  const { name, symbol, address, offset = 0, retprobe = false } = spec;
  if (typeof name !== "string" || !EVENT_NAME.test(name))
    throw new InputError(
      `a kprobe event name is a C identifier of at most 63 characters, got ${JSON.stringify(name)}`,
    );
  if ((symbol === undefined) === (address === undefined))
    throw new InputError("a kprobe event goes on a `symbol` or an `address`, exactly one of them");
  if (!Number.isInteger(offset) || offset < 0 || (offset !== 0 && (symbol === undefined || retprobe)))
    throw new InputError(
      `a kprobe event's offset is a non-negative integer into a symbol, and 0 for kretprobes, got ${String(offset)}`,
    );
  if (symbol !== undefined) {
    if (!SYMBOL.test(symbol))
      throw new InputError(`a kernel function's name is a C identifier, got ${JSON.stringify(symbol)}`);
    return `${retprobe ? "r" : "p"}:${name} ${symbol}${offset ? `+${offset}` : ""}`;
  }
  if (retprobe)
    throw new InputError(
      "a kretprobe made through tracefs goes on a function's name, not an address (the kernel refuses return probes on addresses)",
    );
  if (typeof address !== "bigint" || address <= 0n || address > 0xffffffffffffffffn)
    throw new InputError(`a kernel address is a positive 64-bit bigint, got ${String(address)}`);
  return `p:${name} 0x${address.toString(16)}`;
}

/** The line that removes the kprobe event `name` (`-:NAME`). */
export function kprobeEventRemoval(name: string): string {
  if (typeof name !== "string" || !EVENT_NAME.test(name))
    throw new InputError(`a kprobe event name is a C identifier, got ${JSON.stringify(name)}`);
  return `-:${name}`;
}

/** Appends one line to `root`/kprobe_events (appending: truncating the file would remove every event). */
function writeKprobeEvents(root: string, line: string): void {
  const file = `${root}/kprobe_events`;
  try {
    appendFileSync(file, `${line}\n`, { encoding: "latin1" });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "an error";
    const why =
      code === "ENOENT" && line.startsWith("p")
        ? "ENOENT: the kernel has no such function (see /proc/kallsyms), or the offset is not an instruction boundary"
        : code === "EEXIST"
          ? "EEXIST: an event of that name exists already"
          : code === "EINVAL"
            ? `EINVAL: the kernel refused the line (${root}/error_log says why)`
            : code === "EBUSY"
              ? "EBUSY: the event is still in use"
              : String(code);
    throw new KprobeEventError(file, line, why, { cause: e });
  }
}

/**
 * Attaches program `fd` through a kprobe event made in `root`/kprobe_events: the event, its id
 * from `root`/events/kprobes/NAME/id, a tracepoint perf event on it and a perf_event link. The
 * event is removed when the link closes, and at once when any step after its creation fails.
 * Not public: {@link attachKprobe} takes this path on kernels without the kprobe PMU; `root` (and
 * `name`) are parameters so a test can give a directory of its own.
 */
export function attachKprobeEvent(
  fd: number,
  place: Omit<KprobeEventSpec, "name">,
  cookie: bigint,
  root: string,
  name: string = kprobeEventName(process.pid, nextEvent++),
): Link {
  const line = kprobeEventDefinition({ ...place, name });
  const what = `on ${place.retprobe ? "kretprobe" : "kprobe"} ${line.slice(line.indexOf(" ") + 1)} (tracefs event kprobes/${name})`;
  writeKprobeEvents(root, line);
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    writeKprobeEvents(root, kprobeEventRemoval(name));
  };
  try {
    const idPath = `${root}/events/kprobes/${name}/id`;
    let id: number;
    try {
      id = Number(readFileSync(idPath, "latin1").trim());
    } catch (e) {
      throw new KprobeEventError(
        `${root}/kprobe_events`,
        line,
        `the event was made but ${idPath} cannot be read (${(e as NodeJS.ErrnoException).code})`,
        { cause: e },
      );
    }
    if (!Number.isInteger(id) || id < 0)
      throw new KprobeEventError(`${root}/kprobe_events`, line, `${idPath} holds no event id`);
    const perf = perfEventOpenTracepoint(id, what);
    // on close: a link pinned or held elsewhere keeps the event busy, and then it stays
    return linkPerfEvent(fd, perf, cookie, what, () => {
      try {
        remove();
      } catch (e) {
        if (!(e instanceof KprobeEventError && /^EBUSY/.test(e.message.split(": ").pop() ?? ""))) throw e;
      }
    });
  } catch (e) {
    try {
      remove();
    } catch {
      // the first error is the one to report
    }
    throw e;
  }
}
