/**
 * Uprobes and uretprobes: a kprobe program on an instruction of a binary (a function's entry, or
 * its return), through a perf event of the uprobe PMU, then BPF_LINK_CREATE.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { Program } from "../program/program.js";
import { InputError } from "../sys/error.js";
import { perfEventOpenUprobe } from "../sys/link.js";
import { type CookieOptions, cookieOf } from "./cookie.js";
import { elfFunctionOffset, readElfParts } from "./elf.js";
import { UnreadableBinaryError, UprobeUnsupportedError } from "./errors.js";
import type { Link } from "./link.js";
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
}

const PMU = "/sys/bus/event_source/devices/uprobe";

let pmu: { type: number; retprobeBit: number } | undefined;

/** The uprobe PMU's type number and the config bit that makes a uretprobe, read once from sysfs. */
function uprobePmu(): { type: number; retprobeBit: number } {
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
  pmu = { type, retprobeBit: Number(bit[1]) };
  return pmu;
}

/** The absolute path of a binary to probe, and its size; a missing or odd file throws {@link UnreadableBinaryError}. */
function checkBinary(binary: string): { path: string; size: number } {
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
      for (let got = 0, n = 1; got < into.length && n > 0; got += n)
        n = readSync(from, into, got, into.length - got, offset + got);
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

function checkPid(pid: unknown): number {
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
  const { type, retprobeBit } = uprobePmu();
  const place =
    typeof symbolOrOffset === "string"
      ? `${symbolOrOffset} (offset 0x${offset.toString(16)})`
      : `offset 0x${offset.toString(16)}`;
  const what = `on ${retprobe ? "uretprobe" : "uprobe"} ${path}:${place}${pid === -1 ? "" : ` for pid ${pid}`}`;
  const perf = perfEventOpenUprobe(
    { pmuType: type, ...(retprobe ? { retprobeBit } : {}), path, offset, pid },
    what,
  );
  return linkPerfEvent(fd, perf, cookie, what);
}
