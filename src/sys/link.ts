/**
 * Link commands of bpf() (LINK_CREATE, RAW_TRACEPOINT_OPEN, LINK_UPDATE, LINK_DETACH), and the two
 * other system calls attaching needs: perf_event_open(2) for tracepoints and uprobes, if_nametoindex(3).
 */
import {
  bpfCall,
  type CallContext,
  Cmd,
  cString,
  putPtr,
  putS32,
  putU32,
  putU64,
  scratchAttr,
} from "./bpf.js";
import { Errno } from "./errno.js";
import { BpfError } from "./error.js";
import { descriptorPressureDetails, isDescriptorPressure, reclaimDescriptors } from "./fd.js";
import {
  ITER_CREATE,
  LINK_CREATE,
  LINK_DETACH,
  LINK_UPDATE,
  layout,
  PROG_ATTACH,
  RAW_TRACEPOINT,
} from "./layout.js";
import * as libc from "./libc.js";

/** The union member of link_create a command fills beyond the common fields. */
export type LinkCreateExtra =
  | { kind: "none" }
  | { kind: "target_btf_id"; targetBtfId: number }
  | { kind: "tracing"; targetBtfId: number; cookie: bigint }
  | { kind: "perf_event"; cookie: bigint }
  | { kind: "tcx"; relative: number; expectedRevision: bigint }
  | { kind: "netkit"; relative: number; expectedRevision: bigint }
  | { kind: "netfilter"; pf: number; hooknum: number; priority: number; flags: number }
  | {
      kind: "iter";
      /** union bpf_iter_link_info (the map, cgroup or task to walk), or none */
      info: Buffer | undefined;
    }
  | {
      kind: "uprobe_multi";
      /** the binary's path, NUL-terminated */
      path: Buffer;
      /** `count` u64 file offsets */
      offsets: Buffer;
      /** `count` u64 cookies, or none */
      cookies: Buffer | undefined;
      /** `count` u64 file offsets of USDT semaphores (0: none), or none */
      refCtrOffsets?: Buffer | undefined;
      count: number;
      /** BPF_F_UPROBE_MULTI_RETURN for uretprobes */
      flags: number;
      /** a process id, or 0 for every process */
      pid: number;
    }
  | {
      kind: "kprobe_multi";
      /** function names (laid out here as `count` pointers to NUL-terminated strings), or none (then `addresses`) */
      symbols: readonly string[] | undefined;
      /** `count` u64 kernel addresses, or none (then `symbols`) */
      addresses: Buffer | undefined;
      /** `count` u64 cookies, or none */
      cookies: Buffer | undefined;
      count: number;
      /** BPF_F_KPROBE_MULTI_RETURN for kretprobes */
      flags: number;
    };

/** BPF_F_UPROBE_MULTI_RETURN: the uprobe_multi link's probes are uretprobes. */
export const UPROBE_MULTI_RETURN = 1;

/** BPF_F_KPROBE_MULTI_RETURN: the kprobe_multi link's probes are kretprobes. */
export const KPROBE_MULTI_RETURN = 1;

/** Attributes of BPF_LINK_CREATE. */
export interface LinkCreateAttr {
  progFd: number;
  /** a descriptor (cgroup, perf event) or an interface index, by attach type */
  target: number;
  attachType: number;
  flags?: number;
  extra?: LinkCreateExtra;
}

/** BPF_LINK_CREATE: a link descriptor the caller owns. */
export function linkCreate(a: LinkCreateAttr, ctx?: CallContext): number {
  const attr = scratchAttr();
  // memory the attr points into, kept referenced until the call returns
  let keep: unknown;
  const o = LINK_CREATE.offset;
  putU32(attr, o.prog_fd, a.progFd, "program fd");
  putU32(attr, o.target_fd, a.target, "attach target");
  putU32(attr, o.attach_type, a.attachType, "attach type");
  putU32(attr, o.flags, a.flags ?? 0, "link flags");
  const x = a.extra;
  switch (x?.kind) {
    case "target_btf_id":
      putU32(attr, o.target_btf_id, x.targetBtfId, "target BTF id");
      break;
    case "tracing":
      putU32(attr, o["tracing.target_btf_id"], x.targetBtfId, "target BTF id");
      putU64(attr, o["tracing.cookie"], x.cookie, "cookie");
      break;
    case "perf_event":
      putU64(attr, o["perf_event.bpf_cookie"], x.cookie, "cookie");
      break;
    case "tcx":
      putU32(attr, o["tcx.relative_fd"], x.relative, "relative fd or id");
      putU64(attr, o["tcx.expected_revision"], x.expectedRevision, "expected revision");
      break;
    case "netkit":
      putU32(attr, o["netkit.relative_fd"], x.relative, "relative fd or id");
      putU64(attr, o["netkit.expected_revision"], x.expectedRevision, "expected revision");
      break;
    case "netfilter":
      putU32(attr, o["netfilter.pf"], x.pf, "netfilter protocol family");
      putU32(attr, o["netfilter.hooknum"], x.hooknum, "netfilter hook");
      putS32(attr, o["netfilter.priority"], x.priority, "netfilter priority");
      putU32(attr, o["netfilter.flags"], x.flags, "netfilter flags");
      break;
    case "iter":
      // the Buffer stays referenced by `a` until the call returns
      putPtr(attr, o.iter_info, x.info);
      putU32(attr, o.iter_info_len, x.info?.length ?? 0, "iterator info length");
      break;
    case "uprobe_multi":
      // the Buffers stay referenced by `a` until the call returns
      putPtr(attr, o["uprobe_multi.path"], x.path);
      putPtr(attr, o["uprobe_multi.offsets"], x.offsets);
      putPtr(attr, o["uprobe_multi.cookies"], x.cookies);
      putPtr(attr, o["uprobe_multi.ref_ctr_offsets"], x.refCtrOffsets);
      putU32(attr, o["uprobe_multi.cnt"], x.count, "probe count");
      putU32(attr, o["uprobe_multi.flags"], x.flags, "uprobe_multi flags");
      putU32(attr, o["uprobe_multi.pid"], x.pid, "pid");
      break;
    case "kprobe_multi":
      // the Buffers (and the names the symbol pointers point into) stay referenced by `a`
      putU32(attr, o["kprobe_multi.flags"], x.flags, "kprobe_multi flags");
      putU32(attr, o["kprobe_multi.cnt"], x.count, "probe count");
      if (x.symbols !== undefined) {
        const names = x.symbols.map((n) => cString(n));
        const ptrs = Buffer.alloc(names.length * 8);
        for (let i = 0; i < names.length; i++) putPtr(ptrs, i * 8, names[i]);
        keep = [names, ptrs];
        putPtr(attr, o["kprobe_multi.syms"], ptrs);
      }
      putPtr(attr, o["kprobe_multi.addrs"], x.addresses);
      putPtr(attr, o["kprobe_multi.cookies"], x.cookies);
      break;
    default:
      break;
  }
  const fd = bpfCall(Cmd.LINK_CREATE, attr, ctx);
  void keep;
  return fd;
}

/**
 * BPF_RAW_TRACEPOINT_OPEN: attaches a raw_tracepoint program to the tracepoint `name` (or, with no
 * name, a tracing program to the target it was loaded for). Returns a link descriptor.
 */
export function rawTracepointOpen(
  progFd: number,
  name: string | undefined,
  cookie: bigint = 0n,
  ctx?: CallContext,
): number {
  const attr = scratchAttr();
  const n = name === undefined ? undefined : cString(name);
  putPtr(attr, RAW_TRACEPOINT.offset.name, n);
  putU32(attr, RAW_TRACEPOINT.offset.prog_fd, progFd, "program fd");
  putU64(attr, RAW_TRACEPOINT.offset.cookie, cookie, "cookie");
  const fd = bpfCall(Cmd.RAW_TRACEPOINT_OPEN, attr, ctx);
  void n;
  return fd;
}

/** BPF_F_REPLACE: LINK_UPDATE replaces only when the link still runs `old_prog_fd`. */
export const LINK_F_REPLACE = 1 << 2;

/** BPF_LINK_UPDATE: the link runs `newProgFd` from now on (only if it ran `oldProgFd`, when given). */
export function linkUpdate(linkFd: number, newProgFd: number, oldProgFd?: number, ctx?: CallContext): void {
  const attr = scratchAttr();
  const o = LINK_UPDATE.offset;
  putU32(attr, o.link_fd, linkFd, "link fd");
  putU32(attr, o.new_prog_fd, newProgFd, "program fd");
  if (oldProgFd !== undefined) {
    putU32(attr, o.flags, LINK_F_REPLACE, "flags");
    putU32(attr, o.old_prog_fd, oldProgFd, "old program fd");
  }
  bpfCall(Cmd.LINK_UPDATE, attr, ctx);
}

/** BPF_ITER_CREATE: a new readable descriptor that runs the iterator link's program as it is read. */
export function iterCreate(linkFd: number, ctx?: CallContext): number {
  const attr = scratchAttr();
  putU32(attr, ITER_CREATE.offset.link_fd, linkFd, "link fd");
  return bpfCall(Cmd.ITER_CREATE, attr, ctx);
}

/** BPF_LINK_DETACH: the link stops running its program; the descriptor stays open. */
export function linkDetach(linkFd: number, ctx?: CallContext): void {
  const attr = scratchAttr();
  putU32(attr, LINK_DETACH.offset.link_fd, linkFd, "link fd");
  bpfCall(Cmd.LINK_DETACH, attr, ctx);
}

/** Attributes of BPF_PROG_ATTACH and BPF_PROG_DETACH (the attachments that are not links). */
export interface ProgAttachAttr {
  /** a descriptor (map, netns, cgroup) or an interface index, by attach type */
  target: number;
  progFd: number;
  attachType: number;
  /** BPF_F_ALLOW_MULTI, BPF_F_REPLACE... (attach only) */
  flags?: number;
}

/**
 * BPF_PROG_ATTACH: the program runs at the target's hook until {@link progDetach} (or until the
 * target goes away); no descriptor owns the attachment.
 */
export function progAttach(a: ProgAttachAttr, ctx?: CallContext): void {
  const attr = scratchAttr();
  const o = PROG_ATTACH.offset;
  putU32(attr, o.target_fd, a.target, "attach target");
  putU32(attr, o.attach_bpf_fd, a.progFd, "program fd");
  putU32(attr, o.attach_type, a.attachType, "attach type");
  putU32(attr, o.attach_flags, a.flags ?? 0, "attach flags");
  bpfCall(Cmd.PROG_ATTACH, attr, ctx);
}

/** BPF_PROG_DETACH: removes what {@link progAttach} attached (the program must be the one attached). */
export function progDetach(a: ProgAttachAttr, ctx?: CallContext): void {
  const attr = scratchAttr();
  const o = PROG_ATTACH.offset;
  putU32(attr, o.target_fd, a.target, "attach target");
  putU32(attr, o.attach_bpf_fd, a.progFd, "program fd");
  putU32(attr, o.attach_type, a.attachType, "attach type");
  bpfCall(Cmd.PROG_DETACH, attr, ctx);
}

// ---- XDP ----------------------------------------------------------------------------------------

/** XDP_FLAGS_*: the attach mode of an XDP link (link_create.flags). */
export const XdpFlags = { SKB_MODE: 1 << 1, DRV_MODE: 1 << 2, HW_MODE: 1 << 3 } as const;

// ---- perf_event_open ----------------------------------------------------------------------------

/**
 * The head of struct perf_event_attr that tracepoint and probe events need (`disabled` stands for
 * the 64-bit word of flag bits that starts with it). Checked against the kernel's BTF by
 * test/sys/layout.test.ts, like the bpf_attr layouts.
 */
export const PERF_EVENT_ATTR = layout("perf_event_attr", [
  ["type", "u32"],
  ["size", "u32"],
  ["config", "u64"],
  ["sample_period|sample_freq", "u64"],
  ["sample_type", "u64"],
  ["read_format", "u64"],
  ["disabled", "u64"],
  ["wakeup_events|wakeup_watermark", "u32"],
  ["bp_type", "u32"],
  ["bp_addr|kprobe_func|uprobe_path|config1", "u64"],
  ["bp_len|kprobe_addr|probe_offset|config2", "u64"],
]);

/** sizeof(struct perf_event_attr) with config3 (PERF_ATTR_SIZE_VER8), as Linux 6.18 has it. */
export const PERF_ATTR_SIZE = 136;
/** PERF_TYPE_TRACEPOINT */
const PERF_TYPE_TRACEPOINT = 2;
/** PERF_FLAG_FD_CLOEXEC */
const PERF_FLAG_FD_CLOEXEC = 1 << 3;
/** ESRCH: no such process */
const ESRCH = 3;
/** PERF_EVENT_IOC_ENABLE: _IO('$', 0) */
const PERF_EVENT_IOC_ENABLE = 0x2400;

const PERF_ATTR = PERF_EVENT_ATTR.offset;

/** What {@link perfEventOpen} puts in struct perf_event_attr, and where the event counts. */
export interface PerfEventSpec {
  /** attr.type: PERF_TYPE_TRACEPOINT or a dynamic PMU's number */
  type: number;
  config: bigint | number;
  /** attr.config1; a Buffer stands for its address (and stays referenced until the call returns) */
  config1?: Buffer | bigint;
  config2?: bigint | number;
  /** attr.sample_period (default 1: every event), or with `freq: true` attr.sample_freq (samples a second) */
  sample?: bigint | number;
  /** set the `freq` flag bit: `sample` is a frequency in Hz, not a period */
  freq?: boolean;
  /** attr.sample_type (PERF_SAMPLE_* bits); 0 when not given */
  sampleType?: number;
  /**
   * attr.wakeup_events (default 1: wake a poller at every sample), or with `watermark: true`
   * attr.wakeup_watermark (bytes)
   */
  wakeup?: number;
  /** set the `watermark` flag bit: `wakeup` counts bytes instead of events */
  watermark?: boolean;
  /** a process id, or -1 for every process (then on `cpu`, default CPU 0: the kernel needs a CPU or a task) */
  pid: number;
  /** the CPU to count on (default: 0 for pid -1, every CPU otherwise) */
  cpu?: number;
  /** how the hint of EACCES/EPERM names the event */
  kind: string;
}

/** The `watermark` bit of perf_event_attr's flag word (after disabled ... task). */
const PERF_ATTR_FLAG_WATERMARK = 1n << 14n;
/** The `freq` bit of perf_event_attr's flag word (disabled, inherit, pinned, exclusive, exclude_user, exclude_kernel, exclude_hv, exclude_idle, mmap, comm, freq). */
const PERF_ATTR_FLAG_FREQ = 1n << 10n;

/**
 * perf_event_open(2) of one event, enabled, counting every sample (a BPF program on the event runs
 * on every CPU, whatever CPU the event was opened on). Returns a descriptor the caller owns.
 */
export function perfEventOpen(spec: PerfEventSpec, what: string): number {
  const nr = libc.SYS_perf_event_open;
  if (nr === undefined) {
    throw new BpfError("perf_event_open", 38, {
      hint: `rawbpf does not know perf_event_open's system call number on ${process.arch}`,
    });
  }
  const attr = Buffer.alloc(PERF_ATTR_SIZE);
  attr.writeUInt32LE(spec.type, PERF_ATTR.type);
  attr.writeUInt32LE(PERF_ATTR_SIZE, PERF_ATTR.size);
  putU64(attr, PERF_ATTR.config, spec.config, "perf event config");
  putU64(attr, PERF_ATTR.sample_period, spec.sample ?? 1n, "sample period or frequency");
  if (spec.sampleType !== undefined) putU64(attr, PERF_ATTR.sample_type, spec.sampleType, "sample type");
  const flags =
    (spec.watermark === true ? PERF_ATTR_FLAG_WATERMARK : 0n) |
    (spec.freq === true ? PERF_ATTR_FLAG_FREQ : 0n);
  attr.writeBigUInt64LE(flags, PERF_ATTR.disabled);
  putU32(attr, PERF_ATTR.wakeup_events, spec.wakeup ?? 1, "wakeup events or watermark");
  if (typeof spec.config1 === "bigint") putU64(attr, PERF_ATTR.config1, spec.config1, "perf event config1");
  else if (spec.config1 !== undefined) putPtr(attr, PERF_ATTR.config1, spec.config1);
  if (spec.config2 !== undefined) putU64(attr, PERF_ATTR.config2, spec.config2, "perf event config2");
  const cpu = spec.cpu ?? (spec.pid === -1 ? 0 : -1);
  let fd = Number(libc.syscallPerfEventOpen(nr, attr, spec.pid, cpu, -1, PERF_FLAG_FD_CLOEXEC));
  let errno = fd < 0 ? libc.errno() : 0;
  // out of descriptors: a collection may close some that objects dropped without close() held
  if (fd < 0 && isDescriptorPressure(errno) && reclaimDescriptors() > 0) {
    fd = Number(libc.syscallPerfEventOpen(nr, attr, spec.pid, cpu, -1, PERF_FLAG_FD_CLOEXEC));
    if (fd < 0) errno = libc.errno();
  }
  if (fd < 0) {
    throw new BpfError(
      "perf_event_open",
      errno,
      isDescriptorPressure(errno)
        ? descriptorPressureDetails(errno)
        : errno === Errno.EACCES || errno === Errno.EPERM
          ? {
              capability: "CAP_PERFMON",
              hint: `opening ${spec.kind} needs CAP_PERFMON (or CAP_SYS_ADMIN), or a lower kernel.perf_event_paranoid`,
            }
          : errno === ESRCH
            ? {
                hint: `process ${spec.pid} has exited (a zombie keeps its /proc entry until it is reaped) or does not exist: give the pid of a running process`,
              }
            : {},
      what,
    );
  }
  void spec.config1;
  if (libc.ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) < 0) {
    const errno = libc.errno();
    libc.close(fd);
    throw new BpfError("ioctl(PERF_EVENT_IOC_ENABLE)", errno, {}, what);
  }
  return fd;
}

/**
 * perf_event_open(2) of the tracepoint with id `tracepointId` (from tracefs) on all threads of
 * CPU 0 (a BPF program on a tracepoint event runs on every CPU), enabled. Returns a descriptor the
 * caller owns.
 */
export function perfEventOpenTracepoint(tracepointId: number, what: string): number {
  return perfEventOpen(
    { type: PERF_TYPE_TRACEPOINT, config: tracepointId, pid: -1, kind: "a tracepoint event" },
    what,
  );
}

/** Where a uprobe goes: the uprobe PMU's numbers (from sysfs) and the probed place. */
export interface UprobeEvent {
  /** the uprobe PMU's type (/sys/bus/event_source/devices/uprobe/type) */
  pmuType: number;
  /** for a uretprobe, the config bit of `format/retprobe` (`config:0`); undefined for a uprobe */
  retprobeBit?: number;
  /** the binary's path (absolute) */
  path: string;
  /** the file offset of the probed instruction */
  offset: number;
  /** a process id, or -1 for every process that runs the binary */
  pid: number;
  /**
   * the file offset of a USDT semaphore (a u16 the kernel adds 1 to in every process that maps the
   * file while the probe is on, and takes 1 from when it goes), and the config bit its offset starts at
   * (`format/ref_ctr_offset`, `config:32-63`)
   */
  refCtr?: { offset: number; shift: number };
}

/**
 * perf_event_open(2) of a uprobe or uretprobe through the uprobe PMU (config1 = the path's
 * address, config2 = the file offset), enabled. Returns a descriptor the caller owns.
 */
export function perfEventOpenUprobe(e: UprobeEvent, what: string): number {
  const path = cString(e.path);
  let config = e.retprobeBit === undefined ? 0n : 1n << BigInt(e.retprobeBit);
  if (e.refCtr !== undefined) config |= BigInt(e.refCtr.offset) << BigInt(e.refCtr.shift);
  const fd = perfEventOpen(
    {
      type: e.pmuType,
      config,
      config1: path,
      config2: e.offset,
      pid: e.pid,
      kind: e.retprobeBit === undefined ? "a uprobe" : "a uretprobe",
    },
    what,
  );
  void path;
  return fd;
}

/** Where a kprobe goes: the kprobe PMU's numbers (from sysfs) and the probed place. */
export interface KprobeEvent {
  /** the kprobe PMU's type (/sys/bus/event_source/devices/kprobe/type) */
  pmuType: number;
  /** for a kretprobe, the config bit of `format/retprobe` (`config:0`); undefined for a kprobe */
  retprobeBit?: number;
  /** the kernel function's name (then `offset` is from its start), or undefined for an address */
  symbol?: string;
  /** the offset into `symbol`, or the kernel address when there is no symbol */
  offset: bigint;
}

/**
 * perf_event_open(2) of a kprobe or kretprobe through the kprobe PMU (config1 = the function
 * name's address and config2 = the offset into it, or config1 = 0 and config2 = the address), on
 * every process of CPU 0 (a BPF program on it runs on every CPU), enabled. Returns a descriptor
 * the caller owns.
 */
export function perfEventOpenKprobe(e: KprobeEvent, what: string): number {
  const name = e.symbol === undefined ? undefined : cString(e.symbol);
  const fd = perfEventOpen(
    {
      type: e.pmuType,
      config: e.retprobeBit === undefined ? 0n : 1n << BigInt(e.retprobeBit),
      config1: name ?? 0n,
      config2: e.offset,
      pid: -1,
      kind: e.retprobeBit === undefined ? "a kprobe" : "a kretprobe",
    },
    what,
  );
  void name;
  return fd;
}

// ---- interfaces ---------------------------------------------------------------------------------

/** if_nametoindex(3): the interface's index, or 0 when there is no interface by that name. */
export function interfaceIndex(name: string): number {
  return Number(libc.ifNameToIndex(name));
}
