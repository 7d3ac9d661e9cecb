/** Tracepoints through perf events: the id from tracefs, perf_event_open, then BPF_LINK_CREATE. */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { furthestCtxRead } from "../isa/ctx-reads.js";
import { decode } from "../isa/decode.js";
import { formatInstruction } from "../isa/disasm.js";
import { encode } from "../isa/encode.js";
import { programXlated } from "../program/info.js";
import type { Program } from "../program/program.js";
import { attachTypeNumber, closestName } from "../program/types.js";
import { BpfError, InputError } from "../sys/error.js";
import { closeRaw } from "../sys/fd.js";
import { linkCreate, perfEventOpenTracepoint } from "../sys/link.js";
import { type CookieOptions, cookieOf } from "./cookie.js";
import { TracefsNotMountedError, TracepointRecordError, UnknownTracepointError } from "./errors.js";
import { adoptLink, type Link } from "./link.js";
import { programFd } from "./program.js";

/** Where tracefs is mounted: its own mount point first, then the old place under debugfs. */
const TRACEFS = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/** The tracefs mount holding `events/`, or a {@link TracefsNotMountedError}. */
function tracefsRoot(): string {
  for (const root of TRACEFS) if (existsSync(`${root}/events`)) return root;
  throw new TracefsNotMountedError(TRACEFS);
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

const PART = /^[A-Za-z0-9_.-]+$/;

/**
 * The id of a tracepoint (`syscalls`, `sys_enter_getppid`), read from tracefs
 * (`/sys/kernel/tracing/events/CATEGORY/NAME/id`).
 */
export function tracepointId(category: string, name: string): number {
  for (const [part, what] of [
    [category, "category"],
    [name, "name"],
  ] as const) {
    if (typeof part !== "string" || !PART.test(part) || part === "." || part === "..") {
      throw new InputError(
        `a tracepoint ${what} is a directory name under /sys/kernel/tracing/events ('syscalls', 'sys_enter_getppid'), got ${JSON.stringify(part)}`,
      );
    }
  }
  const root = tracefsRoot();
  const path = `${root}/events/${category}/${name}/id`;
  let text: string;
  try {
    text = readFileSync(path, "latin1");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    const names = list(`${root}/events/${category}`);
    let suggestion: string | undefined;
    if (names.length > 0) {
      const n = closestName(name, names);
      suggestion = n ? `${category}/${n}` : undefined;
    } else {
      const c = closestName(category, list(`${root}/events`));
      suggestion = c ? `${c}/${name}` : undefined;
    }
    throw new UnknownTracepointError(category, name, path, suggestion);
  }
  const id = Number(text.trim());
  if (!Number.isInteger(id) || id < 0) throw new InputError(`${path} does not hold a tracepoint id: ${text}`);
  return id;
}

/**
 * Attaches a `tracepoint` program to the tracepoint `category`/`name` (`"syscalls"`,
 * `"sys_enter_getppid"`): the tracepoint's id from tracefs, a perf event for it
 * (perf_event_open), and a link from the program to that event. The program's context is the
 * tracepoint's record (its `format` file in tracefs). Close the link to detach.
 */
export function attachTracepoint(
  program: Program,
  category: string,
  name: string,
  options?: CookieOptions,
): Link {
  const fd = programFd(
    program,
    ["tracepoint"],
    "attachTracepoint",
    " (raw_tracepoint programs attach with attachRawTracepoint)",
  );
  const cookie = cookieOf(options);
  const id = tracepointId(category, name);
  const what = `on tracepoint ${category}/${name}`;
  const record = recordSizeOf(category, name);
  // before the kernel: the kernel compares the furthest context byte the verifier saw read with the record
  const past = record === undefined ? undefined : readPastRecord(program, fd, record.size, false);
  if (past !== undefined)
    throw new TracepointRecordError(`${category}/${name}`, past, record!.size, record!.path);
  try {
    return linkPerfEvent(fd, perfEventOpenTracepoint(id, what), cookie, what);
  } catch (e) {
    if (!(e instanceof BpfError && e.errnoName === "EACCES" && e.command === "BPF_LINK_CREATE") || !record)
      throw e;
    // a read the scan could not place from the loaded instructions: ask the kernel for its version
    const found = readPastRecord(program, fd, record.size, true);
    if (found !== undefined)
      throw new TracepointRecordError(`${category}/${name}`, found, record.size, record.path);
    throw new BpfError(
      e.command,
      e.errno,
      {
        hint:
          `the kernel refuses a tracepoint program that reads its context past the record, which is ${record.size} bytes ` +
          `(${record.path} lists its fields): the program reads further, through a pointer rawbpf could not follow`,
      },
      what,
    );
  }
}

/**
 * The size of tracepoint `category`/`name`'s record, as the kernel checks it: the largest offset +
 * size of the fields in its tracefs `format` file. Undefined when the file cannot be read or lists
 * no field.
 */
export function recordSizeOf(category: string, name: string): { size: number; path: string } | undefined {
  const path = `${tracefsRoot()}/events/${category}/${name}/format`;
  let text: string;
  try {
    text = readFileSync(path, "latin1");
  } catch {
    return undefined;
  }
  let size = -1;
  for (const m of text.matchAll(/^\s*field:.*?;\s*offset:(\d+);\s*size:(\d+);/gm)) {
    size = Math.max(size, Number(m[1]) + Number(m[2]));
  }
  return size < 0 ? undefined : { size, path };
}

/**
 * The context read of `program` that goes furthest past a record of `recordSize` bytes, if any.
 * From the instructions rawbpf loaded, confirmed against the kernel's translated program (its dead
 * code removed: the verifier counts only reads it explored); with `translatedOnly` (the kernel
 * refused what the first look allowed), or when rawbpf does not have the instructions (an opened
 * program), from the translated program alone.
 */
function readPastRecord(
  program: Program,
  fd: number,
  recordSize: number,
  translatedOnly: boolean,
): { offset: number; size: number; insn: number; text: string; translated: boolean } | undefined {
  const translated = () => {
    try {
      return programXlated(fd);
    } catch {
      return new Uint8Array(0);
    }
  };
  const own = !translatedOnly && program.instructions !== undefined ? safeEncode(program) : undefined;
  if (own !== undefined) {
    const read = furthestCtxRead(own);
    if (read === undefined || read.offset + read.size <= recordSize) return undefined;
    const xlated = translated();
    if (xlated.length > 0) {
      const confirmed = furthestCtxRead(xlated);
      if (confirmed === undefined || confirmed.offset + confirmed.size <= recordSize) return undefined;
    }
    return { ...read, text: instructionText(own, read.insn), translated: false };
  }
  const xlated = translated();
  const read = xlated.length > 0 ? furthestCtxRead(xlated) : undefined;
  if (read === undefined || read.offset + read.size <= recordSize) return undefined;
  return { ...read, text: instructionText(xlated, read.insn), translated: true };
}

function safeEncode(program: Program): Uint8Array | undefined {
  try {
    return encode(program.instructions!);
  } catch {
    return undefined;
  }
}

/** The instruction at `slot` of `bytes` in kernel syntax (`r0 = *(u64 *)(r1 + 16)`). */
function instructionText(bytes: Uint8Array, slot: number): string {
  try {
    const [insn] = decode(bytes.subarray(slot * 8, slot * 8 + 8));
    return insn ? formatInstruction(insn) : "";
  } catch {
    return "";
  }
}

/**
 * Links the program `progFd` to the perf event `perf` (BPF_LINK_CREATE, attach type perf_event)
 * and returns the {@link Link}. Takes `perf` over: the link holds the event from then on, and our
 * descriptor of it is closed whether the link was made or not. Tracepoints and uprobes share it.
 * `afterClose` runs once the Link is closed (kprobes made through tracefs remove their event).
 */
export function linkPerfEvent(
  progFd: number,
  perf: number,
  cookie: bigint,
  what: string,
  afterClose?: () => void,
): Link {
  try {
    let link: number;
    try {
      link = linkCreate(
        {
          progFd,
          target: perf,
          attachType: attachTypeNumber("perf_event"),
          extra: { kind: "perf_event", cookie },
        },
        { what, privilege: "perfmon" },
      );
    } catch (e) {
      // the kernel keeps one list of programs per tracepoint (or probe), and a program at most once in it
      if (e instanceof BpfError && e.errnoName === "EEXIST") {
        throw new BpfError(
          e.command,
          e.errno,
          {
            hint:
              "this program is already attached there (the kernel runs a program at most once per tracepoint or probe): " +
              "close the link you have, or load a second copy of the program to run it twice",
          },
          what,
        );
      }
      throw e;
    }
    return adoptLink(link, afterClose);
  } finally {
    closeRaw(perf);
  }
}
