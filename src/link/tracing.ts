/**
 * Raw tracepoints (BPF_RAW_TRACEPOINT_OPEN) and tracing programs attached where they were loaded
 * for (fentry, fexit, fmod_ret, tp_btf, lsm: BPF_LINK_CREATE), and the BTF ids they load with.
 */
import { vmlinuxBtf } from "../btf/kernel.js";
import type { Program } from "../program/program.js";
import { attachTypeNumber, closestName } from "../program/types.js";
import { BpfError, InputError } from "../sys/error.js";
import { PROG_INFO } from "../sys/layout.js";
import { linkCreate, rawTracepointOpen } from "../sys/link.js";
import { objGetInfoByFd } from "../sys/obj.js";
import { type CookieOptions, cookieOf } from "./cookie.js";
import { adoptLink, type Link } from "./link.js";
import { programFd } from "./program.js";

const TRACEPOINT_NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * Attaches a `raw_tracepoint` (or `raw_tracepoint_writable`) program to the raw tracepoint `name`
 * (`"sys_enter"`, `"sched_switch"`: a tracepoint's name without its category). The program's
 * context is the tracepoint's arguments as an array of u64. Close the link to detach.
 */
export function attachRawTracepoint(program: Program, name: string, options?: CookieOptions): Link {
  const fd = programFd(
    program,
    ["raw_tracepoint", "raw_tracepoint_writable"],
    "attachRawTracepoint",
    " (tp_btf programs are 'tracing' programs: use attachTracing)",
  );
  if (typeof name !== "string" || !TRACEPOINT_NAME.test(name) || name.length > 255) {
    throw new InputError(
      `a raw tracepoint name is a tracepoint's name without its category ('sys_enter', 'sched_switch'), got ${JSON.stringify(name)}`,
    );
  }
  const cookie = cookieOf(options);
  let link: number;
  try {
    link = rawTracepointOpen(fd, name, cookie, { what: `on raw tracepoint '${name}'`, privilege: "perfmon" });
  } catch (e) {
    if (e instanceof BpfError && e.errnoName === "ENOENT") {
      const guess = closestName(`btf_trace_${name}`, tracepointTypedefs());
      throw new BpfError(
        e.command,
        e.errno,
        {
          hint:
            `the kernel has no raw tracepoint '${name}'` +
            (guess ? ` — did you mean '${guess.slice("btf_trace_".length)}'?` : "") +
            " (raw tracepoints are named as in /sys/kernel/tracing/events/CATEGORY/NAME, without the category)",
        },
        `on raw tracepoint '${name}'`,
      );
    }
    throw e;
  }
  return adoptLink(link);
}

let typedefNames: string[] | undefined;

/** Names of the `btf_trace_*` typedefs of vmlinux: one per raw tracepoint. */
function tracepointTypedefs(): string[] {
  if (typedefNames) return typedefNames;
  const out: string[] = [];
  try {
    const btf = vmlinuxBtf();
    for (let id = btf.startId; id < btf.endId; id++) {
      if (btf.kindName(id) !== "typedef") continue;
      const n = btf.nameOf(id);
      if (n.startsWith("btf_trace_")) out.push(n);
    }
  } catch {
    // no vmlinux BTF: no suggestion
  }
  typedefNames = out;
  return out;
}

/** Attach types of tracing and lsm programs that attach where they were loaded for. */
export type TracingAttachType = "trace_fentry" | "trace_fexit" | "modify_return" | "trace_raw_tp" | "lsm_mac";

const TRACING_ATTACH: readonly TracingAttachType[] = [
  "trace_fentry",
  "trace_fexit",
  "modify_return",
  "trace_raw_tp",
  "lsm_mac",
];

/** Options of {@link attachTracing}. */
export interface TracingOptions extends CookieOptions {
  /**
   * The attach type the program was loaded with (its `expectedAttachType`). By default the one
   * `Program.load` was given; for an opened program (`Program.open`, `fromId`: the kernel's program
   * info does not tell fentry, fexit and fmod_ret apart) found by itself for tp_btf
   * (`trace_raw_tp`) and lsm (`lsm_mac`) only, and needed for the others.
   */
  attachType?: TracingAttachType;
}

/** The program's attach_btf_id, from the kernel's program info. */
function attachBtfIdOf(fd: number): number {
  const info = Buffer.alloc(PROG_INFO.size);
  objGetInfoByFd(fd, info, { what: "program" });
  return info.readUInt32LE(PROG_INFO.offset.attach_btf_id);
}

function inferAttachType(program: Program, fd: number): TracingAttachType {
  if (program.type === "lsm") return "lsm_mac";
  const id = attachBtfIdOf(fd);
  const btf = vmlinuxBtf();
  if (
    id >= btf.startId &&
    id < btf.endId &&
    btf.kindName(id) === "typedef" &&
    btf.nameOf(id).startsWith("btf_trace_")
  ) {
    return "trace_raw_tp";
  }
  throw new InputError(
    "attachTracing cannot tell how this tracing program was loaded (the kernel reports its target, not whether it is fentry, fexit or fmod_ret): " +
      "pass the expectedAttachType it was loaded with, e.g. attachTracing(program, { attachType: 'trace_fentry' })",
  );
}

/**
 * Attaches a `tracing` program (fentry, fexit, fmod_ret, tp_btf) or an `lsm` program to the
 * kernel function, tracepoint or hook it was loaded for (its `attachBtfId`), with
 * BPF_LINK_CREATE. Close the link to detach.
 */
export function attachTracing(program: Program, options: TracingOptions = {}): Link {
  const fd = programFd(
    program,
    ["tracing", "lsm"],
    "attachTracing",
    " with expectedAttachType and attachBtfId (raw_tracepoint programs attach with attachRawTracepoint)",
  );
  const cookie = cookieOf(options);
  let attachType = options.attachType;
  if (attachType !== undefined && !TRACING_ATTACH.includes(attachType)) {
    throw new InputError(
      `attachTracing's attachType must be one of ${TRACING_ATTACH.join(", ")}, got ${JSON.stringify(attachType)}`,
    );
  }
  if (program.type === "lsm" && attachType !== undefined && attachType !== "lsm_mac") {
    throw new InputError(`an lsm program attaches as 'lsm_mac', not '${attachType}'`);
  }
  const loadedAs = program.expectedAttachType;
  if (
    attachType === undefined &&
    loadedAs !== undefined &&
    TRACING_ATTACH.includes(loadedAs as TracingAttachType)
  )
    attachType = loadedAs as TracingAttachType;
  attachType ??= inferAttachType(program, fd);
  const link = linkCreate(
    {
      progFd: fd,
      target: 0,
      attachType: attachTypeNumber(attachType),
      extra: { kind: "tracing", targetBtfId: 0, cookie },
    },
    {
      what: `of ${program.type} program (${attachType})`,
      privilege: "perfmon",
      ...(attachType === "trace_raw_tp"
        ? {}
        : {
            details: {
              hint: "the kernel refused the link: was the program loaded with this attachType as its expectedAttachType?",
            },
          }),
    },
  );
  return adoptLink(link);
}

function findBtfId(name: string, kind: "func" | "typedef", what: string, candidates: () => string[]): number {
  if (typeof name !== "string" || name.length === 0)
    throw new InputError(`${what} must be a non-empty string`);
  const id = vmlinuxBtf().findId(name, kind);
  if (id !== undefined) return id;
  const guess = closestName(name, candidates());
  throw new InputError(
    `the kernel's BTF (/sys/kernel/btf/vmlinux) has no ${kind === "func" ? "function" : "typedef"} '${name}'` +
      (guess ? ` — did you mean '${guess}'?` : ""),
  );
}

/**
 * The BTF id of a kernel function in vmlinux (`"__x64_sys_getppid"`), for a fentry, fexit or
 * fmod_ret program's `attachBtfId` (an lsm program's is `bpf_lsm_<hook>`).
 */
export function kernelFunctionBtfId(name: string): number {
  return findBtfId(name, "func", "a kernel function name", () => []);
}

/** The BTF id of the raw tracepoint `name` (`"sys_enter"`: the typedef `btf_trace_sys_enter`), for a tp_btf program. */
export function rawTracepointBtfId(name: string): number {
  if (typeof name !== "string" || name.length === 0)
    throw new InputError("a raw tracepoint name must be a non-empty string");
  return findBtfId(`btf_trace_${name}`, "typedef", "a raw tracepoint name", tracepointTypedefs);
}
