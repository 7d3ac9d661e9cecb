/** What the kernel says about a link: BPF_OBJ_GET_INFO_BY_FD into struct bpf_link_info. */

import type { LinkXdp } from "../netlink/route.js";
import { attachTypeName } from "../program/types.js";
import { putPtr, putU32 } from "../sys/bpf.js";
import { BpfError } from "../sys/error.js";
import { LINK_INFO } from "../sys/layout.js";
import { objGetInfoByFd } from "../sys/obj.js";
import type { XdpMode } from "./net.js";
import { netfilterFamilyName, netfilterHookName } from "./netfilter.js";
import { withRtnetlink } from "./rtnl.js";
import { type LinkType, linkTypeName, perfEventTypeName } from "./types.js";

/** What every link reports. */
interface LinkInfoBase {
  /** the link's id (stable while it exists; `bpftool link show id N`) */
  id: number;
  /** the id of the program it runs (0 once detached, for the kinds that clear it) */
  programId: number;
}

/** A link as the kernel describes it; `type` says which details come with it. */
export type LinkInfo = LinkInfoBase &
  (
    | { type: "raw_tracepoint" /** the tracepoint's name */; tracepoint: string; cookie: bigint }
    | {
        type: "tracing";
        /** `"trace_fentry"`, `"trace_fexit"`, `"modify_return"`, `"lsm_mac"`... */
        attachType: string;
        /** id of the BTF object (vmlinux or a module) or program holding the target */
        targetObjectId: number;
        /** BTF id of the target function */
        targetBtfId: number;
        cookie: bigint;
      }
    | {
        type: "cgroup" /** the cgroup's id (its inode number in cgroupfs) */;
        cgroupId: bigint;
        attachType: string;
      }
    | { type: "netns"; netnsInode: number; attachType: string }
    | {
        type: "xdp";
        /** the interface index (0 once detached) */
        ifindex: number;
        /**
         * where the program runs, as the interface reports it (IFLA_XDP over rtnetlink): `"driver"`,
         * `"generic"` or `"offload"`; absent once detached
         */
        mode?: XdpMode;
      }
    | { type: "tcx" | "netkit"; ifindex: number; attachType: string }
    | {
        type: "perf_event";
        /** `"tracepoint"`, `"kprobe"`, `"uprobe"`, `"event"`... */
        eventType: string;
        /** the tracepoint's name, for tracepoint events */
        tracepoint?: string;
        /** the probed binary's path as it was given to the kernel (absolute, from rawbpf), for uprobe and uretprobe events */
        file?: string;
        /** the probed file offset, for uprobe and uretprobe events */
        offset?: number;
        /** the BPF cookie, for tracepoint, uprobe, uretprobe, kprobe, kretprobe and perf events */
        cookie?: bigint;
        /** the perf event's type (`attr.type`: 0 hardware, 1 software, 4 raw, or a PMU's number), for `event` links */
        perfType?: number;
        /** the perf event's `attr.config`, for `event` links */
        config?: bigint;
        /** the probed kernel function, for kprobe and kretprobe events placed by name */
        function?: string;
        /** the probed kernel address, for kprobe and kretprobe events */
        address?: bigint;
        /** how many times the probe was missed, for kprobe and kretprobe events */
        missed?: bigint;
      }
    | {
        type: "kprobe_multi";
        /** the kernel addresses probed (zeros without the privilege to see kernel addresses) */
        addresses: bigint[];
        /** each probe's BPF cookie */
        cookies: bigint[];
        /** kretprobes (BPF_F_KPROBE_MULTI_RETURN) */
        retprobe: boolean;
        /** how many times the probes were missed */
        missed: bigint;
      }
    | {
        type: "uprobe_multi";
        /** the binary, as the kernel resolved it */
        file: string;
        /** the file offset of each probe */
        offsets: number[];
        /** each probe's BPF cookie */
        cookies: bigint[];
        /** uretprobes (BPF_F_UPROBE_MULTI_RETURN) */
        retprobe: boolean;
        /** the process the probes are for, or 0 for every process */
        pid: number;
      }
    | { type: "struct_ops"; mapId: number }
    | {
        type: "netfilter";
        /** `"ipv4"` or `"ipv6"` */
        family: string;
        /** `"prerouting"`, `"local_in"`, `"forward"`, `"local_out"` or `"postrouting"` */
        hook: string;
        /** the order among the hook's functions (lower first) */
        priority: number;
        /** IP fragments are reassembled before the program runs (BPF_F_NETFILTER_IP_DEFRAG) */
        defrag: boolean;
      }
    | { type: "sockmap"; mapId: number; attachType: string }
    | {
        type: "iter";
        /** the iterator target: `"task"`, `"bpf_map_elem"`, `"cgroup"`, `"tcp"`... (bpftool's target_name) */
        targetName: string;
        /** the map walked, for `bpf_map_elem`, `bpf_sk_storage_map` and `sockmap` */
        mapId?: number;
        /** the cgroup the walk starts at, for `cgroup` */
        cgroupId?: bigint;
        /** the walk's order, for `cgroup` (`"unspec"` when the kernel has none) */
        order?: "unspec" | "self" | "descendants_pre" | "descendants_post" | "ancestors_up";
        /** the one thread walked, for `task`, `task_file` and `task_vma` given a tid */
        tid?: number;
        /** the process whose threads are walked, for `task`, `task_file` and `task_vma` given a pid */
        pid?: number;
      }
    | { type: Exclude<LinkType, DetailedType> | `type ${number}` }
  );

type DetailedType =
  | "uprobe_multi"
  | "kprobe_multi"
  | "raw_tracepoint"
  | "tracing"
  | "cgroup"
  | "netns"
  | "xdp"
  | "tcx"
  | "netkit"
  | "perf_event"
  | "struct_ops"
  | "netfilter"
  | "sockmap"
  | "iter";

const PERF_TYPE_UPROBE = 1;
const PERF_TYPE_URETPROBE = 2;
const PERF_TYPE_KPROBE = 3;
const PERF_TYPE_KRETPROBE = 4;
const PERF_TYPE_TRACEPOINT = 5;
const PERF_TYPE_EVENT = 6;

/** Reads a name whose length the first call reported (`lenField`), into `nameField`. */
function readName(fd: number, first: Buffer, nameField: number, lenField: number): string {
  const len = first.readUInt32LE(lenField);
  if (len <= 1) return "";
  const name = Buffer.alloc(len);
  const info = Buffer.alloc(LINK_INFO.size);
  putPtr(info, nameField, name);
  putU32(info, lenField, len, "name length");
  objGetInfoByFd(fd, info, { what: "link" });
  const end = name.indexOf(0);
  return name.toString("utf8", 0, end < 0 ? len : end);
}

/**
 * A uprobe_multi link's details: a second call with room for the path, offsets and cookies that
 * the first call counted.
 */
function uprobeMultiInfo(fd: number, first: Buffer) {
  const o = LINK_INFO.offset;
  const count = first.readUInt32LE(o["uprobe_multi.count"]);
  const pathSize = first.readUInt32LE(o["uprobe_multi.path_size"]);
  const path = Buffer.alloc(Math.max(pathSize, 1));
  const offsets = Buffer.alloc(count * 8);
  const cookies = Buffer.alloc(count * 8);
  const info = Buffer.alloc(LINK_INFO.size);
  putPtr(info, o["uprobe_multi.path"], path);
  putU32(info, o["uprobe_multi.path_size"], path.length, "path size");
  putPtr(info, o["uprobe_multi.offsets"], offsets);
  putPtr(info, o["uprobe_multi.cookies"], cookies);
  putU32(info, o["uprobe_multi.count"], count, "count");
  objGetInfoByFd(fd, info, { what: "link" });
  const end = path.indexOf(0);
  return {
    file: path.toString("utf8", 0, end < 0 ? path.length : end),
    offsets: Array.from({ length: count }, (_, i) => Number(offsets.readBigUInt64LE(i * 8))),
    cookies: Array.from({ length: count }, (_, i) => cookies.readBigUInt64LE(i * 8)),
    retprobe: (info.readUInt32LE(o["uprobe_multi.flags"]) & 1) !== 0,
    pid: info.readUInt32LE(o["uprobe_multi.pid"]),
  };
}

const XDP_ATTACHED_MODES: readonly (XdpMode | undefined)[] = [undefined, "driver", "generic", "offload"];
const XDP_ATTACHED_MULTI = 4;

/**
 * The mode program `programId` has on interface `ifindex`, from the interface's IFLA_XDP (one
 * mode in use: XDP_ATTACHED_DRV/SKB/HW; several: the program id of each). Undefined when the
 * interface no longer runs it or cannot be asked.
 */
export function xdpMode(ifindex: number, programId: number): XdpMode | undefined {
  let xdp: LinkXdp | undefined;
  try {
    xdp = withRtnetlink((rt) => rt.link(ifindex)).xdp;
  } catch {
    return undefined;
  }
  if (xdp === undefined) return undefined;
  if (xdp.attached === XDP_ATTACHED_MULTI) {
    if (xdp.driverProgId === programId) return "driver";
    if (xdp.genericProgId === programId) return "generic";
    if (xdp.offloadProgId === programId) return "offload";
    return undefined;
  }
  return xdp.progId === programId ? XDP_ATTACHED_MODES[xdp.attached] : undefined;
}

/** A kprobe_multi link's details: a second call with room for the addresses and cookies the first counted. */
function kprobeMultiInfo(fd: number, first: Buffer) {
  const o = LINK_INFO.offset;
  const count = first.readUInt32LE(o["kprobe_multi.count"]);
  const addrs = Buffer.alloc(count * 8);
  const cookies = Buffer.alloc(count * 8);
  const info = Buffer.alloc(LINK_INFO.size);
  putPtr(info, o["kprobe_multi.addrs"], addrs);
  putPtr(info, o["kprobe_multi.cookies"], cookies);
  putU32(info, o["kprobe_multi.count"], count, "count");
  objGetInfoByFd(fd, info, { what: "link" });
  return {
    addresses: Array.from({ length: count }, (_, i) => addrs.readBigUInt64LE(i * 8)),
    cookies: Array.from({ length: count }, (_, i) => cookies.readBigUInt64LE(i * 8)),
    retprobe: (info.readUInt32LE(o["kprobe_multi.flags"]) & 1) !== 0,
    missed: info.readBigUInt64LE(o["kprobe_multi.missed"]),
  };
}

const ITER_MAP_TARGETS = ["bpf_map_elem", "bpf_sk_storage_map", "sockmap"];
const ITER_TASK_TARGETS = ["task", "task_file", "task_vma"];
const CGROUP_ITER_ORDERS = ["unspec", "self", "descendants_pre", "descendants_post", "ancestors_up"] as const;

/**
 * An iterator link's details. The kernel does not report the target name's length, so the call
 * gives a buffer (the longest target, bpf_sk_storage_map, is 18 bytes) and a bigger one on ENOSPC.
 */
function iterInfo(fd: number) {
  const o = LINK_INFO.offset;
  let info = Buffer.alloc(LINK_INFO.size);
  let name = Buffer.alloc(64);
  for (;;) {
    info = Buffer.alloc(LINK_INFO.size);
    putPtr(info, o["iter.target_name"], name);
    putU32(info, o["iter.target_name_len"], name.length, "target name length");
    try {
      objGetInfoByFd(fd, info, { what: "link" });
      break;
    } catch (e) {
      if (!(e instanceof BpfError && e.errnoName === "ENOSPC") || name.length >= 4096) throw e;
      name = Buffer.alloc(name.length * 4);
    }
  }
  const end = name.indexOf(0);
  const targetName = name.toString("utf8", 0, end < 0 ? name.length : end);
  const out: {
    targetName: string;
    mapId?: number;
    cgroupId?: bigint;
    order?: (typeof CGROUP_ITER_ORDERS)[number];
    tid?: number;
    pid?: number;
  } = { targetName };
  if (ITER_MAP_TARGETS.includes(targetName)) out.mapId = info.readUInt32LE(o["iter.map.map_id"]);
  if (ITER_TASK_TARGETS.includes(targetName)) {
    const tid = info.readUInt32LE(o["iter.task.tid"]);
    const pid = info.readUInt32LE(o["iter.task.pid"]);
    if (tid !== 0) out.tid = tid;
    else if (pid !== 0) out.pid = pid;
  }
  if (targetName === "cgroup") {
    out.cgroupId = info.readBigUInt64LE(o["iter.cgroup.cgroup_id"]);
    out.order = CGROUP_ITER_ORDERS[info.readUInt32LE(o["iter.cgroup.order"])] ?? "unspec";
  }
  return out;
}

/** Reads the kernel's info about the link behind `fd`. */
export function linkInfo(fd: number): LinkInfo {
  const o = LINK_INFO.offset;
  const info = Buffer.alloc(LINK_INFO.size);
  objGetInfoByFd(fd, info, { what: "link" });
  const base = { id: info.readUInt32LE(o.id), programId: info.readUInt32LE(o.prog_id) };
  const type = linkTypeName(info.readUInt32LE(o.type));
  const u32 = (at: number) => info.readUInt32LE(at);
  const u64 = (at: number) => info.readBigUInt64LE(at);
  switch (type) {
    case "raw_tracepoint":
      return {
        ...base,
        type,
        tracepoint: readName(fd, info, o["raw_tracepoint.tp_name"], o["raw_tracepoint.tp_name_len"]),
        cookie: u64(o["raw_tracepoint.cookie"]),
      };
    case "tracing":
      return {
        ...base,
        type,
        attachType: attachTypeName(u32(o["tracing.attach_type"])),
        targetObjectId: u32(o["tracing.target_obj_id"]),
        targetBtfId: u32(o["tracing.target_btf_id"]),
        cookie: u64(o["tracing.cookie"]),
      };
    case "cgroup":
      return {
        ...base,
        type,
        cgroupId: u64(o["cgroup.cgroup_id"]),
        attachType: attachTypeName(u32(o["cgroup.attach_type"])),
      };
    case "netns":
      return {
        ...base,
        type,
        netnsInode: u32(o["netns.netns_ino"]),
        attachType: attachTypeName(u32(o["netns.attach_type"])),
      };
    case "xdp": {
      const ifindex = u32(o["xdp.ifindex"]);
      const mode = ifindex === 0 ? undefined : xdpMode(ifindex, base.programId);
      return mode === undefined ? { ...base, type, ifindex } : { ...base, type, ifindex, mode };
    }
    case "tcx":
    case "netkit":
      return {
        ...base,
        type,
        ifindex: u32(o["tcx.ifindex"]),
        attachType: attachTypeName(u32(o["tcx.attach_type"])),
      };
    case "perf_event": {
      const eventType = u32(o["perf_event.type"]);
      if (eventType === PERF_TYPE_UPROBE || eventType === PERF_TYPE_URETPROBE) {
        return {
          ...base,
          type,
          eventType: perfEventTypeName(eventType),
          file: readName(fd, info, o["perf_event.uprobe.file_name"], o["perf_event.uprobe.name_len"]),
          offset: u32(o["perf_event.uprobe.offset"]),
          cookie: u64(o["perf_event.uprobe.cookie"]),
        };
      }
      if (eventType === PERF_TYPE_EVENT) {
        return {
          ...base,
          type,
          eventType: "event",
          perfType: u32(o["perf_event.event.type"]),
          config: u64(o["perf_event.event.config"]),
          cookie: u64(o["perf_event.event.cookie"]),
        };
      }
      if (eventType === PERF_TYPE_KPROBE || eventType === PERF_TYPE_KRETPROBE) {
        const name = readName(fd, info, o["perf_event.kprobe.func_name"], o["perf_event.kprobe.name_len"]);
        return {
          ...base,
          type,
          eventType: perfEventTypeName(eventType),
          ...(name === "" ? {} : { function: name }),
          offset: u32(o["perf_event.kprobe.offset"]),
          address: u64(o["perf_event.kprobe.addr"]),
          missed: u64(o["perf_event.kprobe.missed"]),
          cookie: u64(o["perf_event.kprobe.cookie"]),
        };
      }
      if (eventType !== PERF_TYPE_TRACEPOINT) {
        return { ...base, type, eventType: perfEventTypeName(eventType) };
      }
      return {
        ...base,
        type,
        eventType: "tracepoint",
        tracepoint: readName(
          fd,
          info,
          o["perf_event.tracepoint.tp_name"],
          o["perf_event.tracepoint.name_len"],
        ),
        cookie: u64(o["perf_event.tracepoint.cookie"]),
      };
    }
    case "uprobe_multi":
      return { ...base, type, ...uprobeMultiInfo(fd, info) };
    case "kprobe_multi":
      return { ...base, type, ...kprobeMultiInfo(fd, info) };
    case "struct_ops":
      return { ...base, type, mapId: u32(o["struct_ops.map_id"]) };
    case "netfilter":
      return {
        ...base,
        type,
        family: netfilterFamilyName(u32(o["netfilter.pf"])),
        hook: netfilterHookName(u32(o["netfilter.hooknum"])),
        priority: info.readInt32LE(o["netfilter.priority"]),
        defrag: (u32(o["netfilter.flags"]) & 1) !== 0,
      };
    case "sockmap":
      return {
        ...base,
        type,
        mapId: u32(o["sockmap.map_id"]),
        attachType: attachTypeName(u32(o["sockmap.attach_type"])),
      };
    case "iter":
      return { ...base, type, ...iterInfo(fd) };
    default:
      return { ...base, type };
  }
}
