/**
 * Kprobes and kretprobes (a `kprobe` program on a kernel function, through a perf event of the
 * kprobe PMU, then BPF_LINK_CREATE) and kprobe_multi links (many functions, one
 * BPF_LINK_CREATE with BPF_TRACE_KPROBE_MULTI, through fprobe). What the kernel lacks is said
 * before it is asked.
 */
import { existsSync, readFileSync } from "node:fs";
import type { Program } from "../program/program.js";
import { attachTypeNumber } from "../program/types.js";
import { BpfError, InputError } from "../sys/error.js";
import { KPROBE_MULTI_RETURN, linkCreate, perfEventOpenKprobe } from "../sys/link.js";
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

/** The kprobe PMU, or a {@link KprobesUnsupportedError} that says what is missing. */
function kprobePmu(): { type: number; retprobeBit: number } {
  const s = kprobeSupport();
  if (s.pmu) return s.pmu;
  throw new KprobesUnsupportedError(s.kprobeEvents);
}

const SYMBOL = /^[A-Za-z_.][A-Za-z0-9_.$]*$/;

/**
 * Attaches a `kprobe` program to a kernel function: at its entry (or `offset` bytes in), or with
 * `retprobe` at its return, through a perf event of the kprobe PMU (config1 = the name, config2 =
 * the offset; or an `address`) and a perf_event link. The program's context is the kernel's
 * registers (struct pt_regs). Close the link to detach.
 *
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
  const pmu = kprobePmu();
  const place = symbol === undefined ? `0x${address!.toString(16)}` : offset ? `${symbol}+${offset}` : symbol;
  const what = `on ${retprobe ? "kretprobe" : "kprobe"} ${place}`;
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
