/**
 * Uprobes and uretprobes: a kprobe program on an instruction of a binary (a function's entry, or
 * its return), through a perf event of the uprobe PMU, then BPF_LINK_CREATE.
 */
import { closeSync, existsSync, openSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { elfFunctionOffset, readElfParts } from "../elf/exec.js";
import type { Program } from "../program/program.js";
import { attachTypeNumber } from "../program/types.js";
import { InputError } from "../sys/error.js";
import { linkCreate, perfEventOpenUprobe, UPROBE_MULTI_RETURN } from "../sys/link.js";
import { readFullyAt } from "../sys/read.js";
import { type CookieOptions, cookieOf } from "./cookie.js";
import { UnreadableBinaryError, UprobeUnsupportedError } from "./errors.js";
import { adoptLink, type Link } from "./link.js";
import { programFd } from "./program.js";
import { linkPerfEvent } from "./tracepoint.js";

/** Options of {@link attachUprobe}. */
export interface UprobeOptions extends CookieOptions {
  /** a uretprobe: run when the function returns (the return value is in the context's registers) */
  retprobe?: boolean;
  /**
   * Only for this process (all its threads; not its children). By default the program runs in
   * every process that runs the binary, now or later.
   */
  pid?: number;
  /**
   * The file offset of a USDT semaphore guarding the probed place: the kernel adds 1 to that u16
   * in each process that maps the binary while the probe is attached and takes 1 back when it is
   * detached (uprobe ref_ctr_offset). {@link attachUsdt} sets it from the probe's note.
   */
  semaphore?: number;
}

const PMU = "/sys/bus/event_source/devices/uprobe";

let pmu: { type: number; retprobeBit: number; refCtrShift: number | undefined } | undefined;

/**
 * The uprobe PMU's type number, the config bit that makes a uretprobe and where a semaphore's
 * offset goes in config (absent before Linux 4.20), read once from sysfs.
 */
function uprobePmu(): { type: number; retprobeBit: number; refCtrShift: number | undefined } {
  if (pmu) return pmu;
  const read = (name: string): string => {
    try {
      return readFileSync(`${PMU}/${name}`, "latin1").trim();
    } catch (e) {
      throw new UprobeUnsupportedError(
        `${PMU}/${name}`,
        `cannot be read (${(e as NodeJS.ErrnoException).code})`,
      );
    }
  };
  const type = Number(read("type"));
  const format = read("format/retprobe");
  const bit = /^config:(\d+)$/.exec(format);
  if (!Number.isInteger(type) || type < 0 || !bit) {
    throw new UprobeUnsupportedError(
      PMU,
      `holds what rawbpf does not understand (type ${type}, retprobe ${format})`,
    );
  }
  let refCtrShift: number | undefined;
  try {
    const ref = /^config:(\d+)-63$/.exec(readFileSync(`${PMU}/format/ref_ctr_offset`, "latin1").trim());
    if (ref) refCtrShift = Number(ref[1]);
  } catch {
    // no ref_ctr_offset: a kernel before 4.20, which cannot set USDT semaphores
  }
  pmu = { type, retprobeBit: Number(bit[1]), refCtrShift };
  return pmu;
}

/** The absolute path of a binary to probe, and its size; a missing or odd file throws {@link UnreadableBinaryError}. */
export function checkBinary(binary: string): { path: string; size: number } {
  if (typeof binary !== "string" || binary.length === 0 || binary.includes("\0")) {
    throw new InputError(`a binary to probe is a file's path, got ${JSON.stringify(binary)}`);
  }
  const path = resolve(binary);
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UnreadableBinaryError(
      path,
      code === "ENOENT" ? "there is no such file" : `stat failed (${code})`,
    );
  }
  if (!stat.isFile()) throw new UnreadableBinaryError(path, "it is not a regular file");
  return { path, size: Number(stat.size) };
}

/** The parts of the ELF file at `path` that a symbol lookup reads (see {@link readElfParts}). */
function readBinary(path: string, size: number): Uint8Array {
  if (size > 2 ** 32) throw new UnreadableBinaryError(path, "it is larger than 4 GiB");
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const from = fd;
    return readElfParts(size, (into, offset) => {
      readFullyAt(from, into, offset);
    });
  } catch (e) {
    throw new UnreadableBinaryError(path, `it cannot be read (${(e as NodeJS.ErrnoException).code})`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The file offset of the function `symbol` in the ELF executable or shared library `binary`: where
 * {@link attachUprobe} puts the probe. Reads .symtab and .dynsym; throws
 * {@link UnreadableBinaryError}, {@link ElfFormatError}, {@link SymbolNotFoundError} (with a near
 * name) or {@link AmbiguousSymbolError}.
 */
export function uprobeOffset(binary: string, symbol: string): number {
  const { path, size } = checkBinary(binary);
  if (typeof symbol !== "string" || symbol.length === 0) {
    throw new InputError(`a function name must be a non-empty string, got ${JSON.stringify(symbol)}`);
  }
  return elfFunctionOffset(readBinary(path, size), symbol, path);
}

export function checkPid(pid: unknown): number {
  if (pid === undefined) return -1;
  if (typeof pid !== "number" || !Number.isInteger(pid) || pid < 1 || pid > 0x3fffffff) {
    throw new InputError(
      `a uprobe's pid is a running process's id (a positive integer), got ${String(pid)}: leave it out to probe every process`,
    );
  }
  if (!existsSync(`/proc/${pid}`)) {
    throw new InputError(`there is no process ${pid} (no /proc/${pid}): it may have exited already`);
  }
  return pid;
}

/**
 * Attaches a `kprobe` program (uprobes run BPF_PROG_TYPE_KPROBE programs) to a function of an
 * ELF executable or shared library: at its entry, or with `retprobe` at its return. The place is
 * the function's name (`"malloc"`, looked up in the binary's .symtab and .dynsym by rawbpf's own
 * ELF reader) or a file offset (which must be the start of an instruction). The program's context
 * is the user registers (struct pt_regs): the arguments at entry, the return value at return.
 *
 * The probe is on the file: every process that runs it, now or later, runs the program, unless
 * `pid` names one process. Close the link to detach.
 *
 * @example
 * ```ts
 * using link = attachUprobe(program, "/usr/lib/x86_64-linux-gnu/libc.so.6", "malloc", { pid: 1234 });
 * ```
 */
export function attachUprobe(
  program: Program,
  binary: string,
  symbolOrOffset: string | number,
  options: UprobeOptions = {},
): Link {
  const fd = programFd(program, ["kprobe"], "attachUprobe", " (uprobes and uretprobes run kprobe programs)");
  const retprobe = options.retprobe ?? false;
  if (typeof retprobe !== "boolean")
    throw new InputError(`retprobe must be true or false, got ${String(retprobe)}`);
  const pid = checkPid(options.pid);
  const cookie = cookieOf(options);
  const { path, size } = checkBinary(binary);
  let offset: number;
  if (typeof symbolOrOffset === "number") {
    if (!Number.isSafeInteger(symbolOrOffset) || symbolOrOffset < 0 || symbolOrOffset >= size) {
      throw new InputError(
        `a uprobe offset is an integer file offset inside ${path} (0 to ${size - 1}), got ${symbolOrOffset}`,
      );
    }
    offset = symbolOrOffset;
  } else if (typeof symbolOrOffset === "string" && symbolOrOffset.length > 0) {
    offset = elfFunctionOffset(readBinary(path, size), symbolOrOffset, path);
  } else {
    throw new InputError(
      `a uprobe goes on a function's name or a file offset, got ${JSON.stringify(symbolOrOffset)}`,
    );
  }
  const { type, retprobeBit, refCtrShift } = uprobePmu();
  const semaphore = options.semaphore;
  if (semaphore !== undefined) {
    if (!Number.isSafeInteger(semaphore) || semaphore <= 0 || semaphore >= size || semaphore >= 2 ** 32)
      throw new InputError(
        `a semaphore is the file offset of a u16 inside ${path} (1 to ${Math.min(size, 2 ** 32) - 1}), got ${String(semaphore)}`,
      );
    if (refCtrShift === undefined)
      throw new UprobeUnsupportedError(
        `${PMU}/format/ref_ctr_offset`,
        "does not exist: this kernel cannot set USDT semaphores (Linux 4.20 and later can)",
      );
  }
  const place =
    typeof symbolOrOffset === "string"
      ? `${symbolOrOffset} (offset 0x${offset.toString(16)})`
      : `offset 0x${offset.toString(16)}`;
  const what = `on ${retprobe ? "uretprobe" : "uprobe"} ${path}:${place}${pid === -1 ? "" : ` for pid ${pid}`}`;
  const perf = perfEventOpenUprobe(
    {
      pmuType: type,
      ...(retprobe ? { retprobeBit } : {}),
      path,
      offset,
      pid,
      ...(semaphore !== undefined && refCtrShift !== undefined
        ? { refCtr: { offset: semaphore, shift: refCtrShift } }
        : {}),
    },
    what,
  );
  return linkPerfEvent(fd, perf, cookie, what);
}

/** Options of {@link attachUprobeMulti}. */
export interface UprobeMultiOptions {
  /** uretprobes: run when each function returns */
  retprobe?: boolean;
  /** only for this process (all its threads); by default every process that runs the binary */
  pid?: number;
  /** one BPF cookie per place (bpf_get_attach_cookie tells the program which place it runs for) */
  cookies?: readonly (bigint | number)[];
  /**
   * one USDT semaphore file offset per place (0 for none): the kernel counts each up while the
   * link is attached (see {@link UprobeOptions.semaphore})
   */
  semaphores?: readonly number[];
}

/** The most places one uprobe_multi link takes (the kernel's MAX_UPROBE_MULTI_CNT). */
const MAX_UPROBE_MULTI = 1 << 20;

/**
 * Attaches a `kprobe` program loaded with `expectedAttachType: "trace_uprobe_multi"` to many
 * functions (names or file offsets) of one ELF binary with a single uprobe_multi link
 * (BPF_LINK_CREATE, no perf event per place): one system call and one descriptor however many
 * places. `cookies` gives each place its own BPF cookie. Close the link to detach them all.
 *
 * @example
 * ```ts
 * const program = Program.load({ type: "kprobe", expectedAttachType: "trace_uprobe_multi", instructions });
 * using link = attachUprobeMulti(program, "/usr/lib/x86_64-linux-gnu/libc.so.6", ["malloc", "free"], { cookies: [1, 2] });
 * ```
 */
export function attachUprobeMulti(
  program: Program,
  binary: string,
  places: readonly (string | number)[],
  options: UprobeMultiOptions = {},
): Link {
  const fd = programFd(program, ["kprobe"], "attachUprobeMulti", " (uprobes run kprobe programs)");
  // a program loaded here says how it was loaded (its statistics are there too); one opened by
  // path or id does not, and the kernel decides
  const loadedAs = program.expectedAttachType;
  if (loadedAs !== "trace_uprobe_multi" && (loadedAs !== undefined || program.stats !== undefined)) {
    throw new InputError(
      `attachUprobeMulti needs a kprobe program loaded with expectedAttachType: "trace_uprobe_multi", this one was loaded with ${loadedAs === undefined ? "none" : `'${loadedAs}'`}`,
    );
  }
  if (!Array.isArray(places) || places.length === 0 || places.length > MAX_UPROBE_MULTI) {
    throw new InputError(
      `attachUprobeMulti takes from 1 to ${MAX_UPROBE_MULTI} function names or offsets, got ${Array.isArray(places) ? places.length : String(places)}`,
    );
  }
  const retprobe = options.retprobe ?? false;
  if (typeof retprobe !== "boolean")
    throw new InputError(`retprobe must be true or false, got ${String(retprobe)}`);
  const pid = checkPid(options.pid);
  const cookies = options.cookies;
  if (cookies !== undefined && (!Array.isArray(cookies) || cookies.length !== places.length)) {
    throw new InputError(
      `cookies, when given, are one per place: ${places.length} places, ${Array.isArray(cookies) ? cookies.length : String(cookies)} cookies`,
    );
  }
  const { path, size } = checkBinary(binary);
  const semaphores = options.semaphores;
  if (
    semaphores !== undefined &&
    (!Array.isArray(semaphores) ||
      semaphores.length !== places.length ||
      !semaphores.every((x) => Number.isSafeInteger(x) && x >= 0 && x < size))
  ) {
    throw new InputError(
      `semaphores, when given, are one file offset inside ${path} (or 0) per place: ${places.length} places`,
    );
  }
  let image: Uint8Array | undefined;
  const offsets = Buffer.alloc(places.length * 8);
  places.forEach((place, i) => {
    let offset: number;
    if (typeof place === "number") {
      if (!Number.isSafeInteger(place) || place < 0 || place >= size) {
        throw new InputError(
          `place ${i}: a uprobe offset is an integer file offset inside ${path} (0 to ${size - 1}), got ${place}`,
        );
      }
      offset = place;
    } else if (typeof place === "string" && place.length > 0) {
      image ??= readBinary(path, size);
      offset = elfFunctionOffset(image, place, path);
    } else {
      throw new InputError(`place ${i}: a function's name or a file offset, got ${JSON.stringify(place)}`);
    }
    offsets.writeBigUInt64LE(BigInt(offset), i * 8);
  });
  let cookieBytes: Buffer | undefined;
  if (cookies !== undefined) {
    const bytes = Buffer.alloc(cookies.length * 8);
    for (let i = 0; i < cookies.length; i++) bytes.writeBigUInt64LE(cookieOf({ cookie: cookies[i] }), i * 8);
    cookieBytes = bytes;
  }
  const what = `on ${places.length} ${retprobe ? "uretprobes" : "uprobes"} of ${path}${pid === -1 ? "" : ` for pid ${pid}`}`;
  const link = linkCreate(
    {
      progFd: fd,
      target: 0,
      attachType: attachTypeNumber("trace_uprobe_multi"),
      extra: {
        kind: "uprobe_multi",
        path: Buffer.from(`${path}\0`),
        offsets,
        cookies: cookieBytes,
        refCtrOffsets:
          semaphores === undefined
            ? undefined
            : Buffer.from(new BigUint64Array(semaphores.map((x) => BigInt(x))).buffer),
        count: places.length,
        flags: retprobe ? UPROBE_MULTI_RETURN : 0,
        pid: pid === -1 ? 0 : pid,
      },
    },
    {
      what,
      privilege: "perfmon",
      details: {
        hint: 'the kernel refused the uprobe_multi link: was the program loaded with expectedAttachType: "trace_uprobe_multi", and is each offset the start of an instruction?',
      },
    },
  );
  return adoptLink(link);
}
