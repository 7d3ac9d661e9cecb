/** BPF_PROG_QUERY (what is attached to a hook) and BPF_TASK_FD_QUERY (what a process's descriptor runs). */
import { bpfError, bpfRaw, type CallContext, Cmd, putPtr, putU32, scratchAttr } from "./bpf.js";
import { Errno } from "./errno.js";
import { QUERY, TASK_FD_QUERY } from "./layout.js";

/** BPF_F_QUERY_EFFECTIVE: what runs for a cgroup, its ancestors' programs included. */
export const QUERY_EFFECTIVE = 1;

/** What BPF_PROG_QUERY says of one hook. */
export interface ProgQueryResult {
  /** the hook's attach flags (BPF_F_ALLOW_MULTI, BPF_F_ALLOW_OVERRIDE; 0 for tcx) */
  attachFlags: number;
  /** the programs attached, in the order they run */
  progIds: number[];
  /** for each program, the link that holds it (0 when attached without a link); tcx, netkit */
  linkIds: number[];
  /** for each program, its attach flags (prog_attach_flags) */
  progFlags: number[];
  /** for each program, its link's attach flags (link_attach_flags) */
  linkFlags: number[];
  /** the hook's revision (tcx, netkit; 0 elsewhere) */
  revision: bigint;
}

/** The most programs a query asks for at once (grown when the kernel says there are more). */
const FIRST_ROOM = 64;

/**
 * BPF_PROG_QUERY on `target` (a cgroup or netns descriptor, or an ifindex for tcx/netkit) for
 * `attachType`. Needs CAP_NET_ADMIN (or CAP_SYS_ADMIN for cgroups).
 */
export function progQuery(
  target: number,
  attachType: number,
  queryFlags = 0,
  ctx?: CallContext,
): ProgQueryResult {
  let room = FIRST_ROOM;
  for (;;) {
    const ids = Buffer.alloc(room * 4);
    const links = Buffer.alloc(room * 4);
    const progFlagsBuf = Buffer.alloc(room * 4);
    const linkFlagsBuf = Buffer.alloc(room * 4);
    const attr = scratchAttr();
    const o = QUERY.offset;
    putU32(attr, o.target_fd, target, "query target");
    putU32(attr, o.attach_type, attachType, "attach type");
    putU32(attr, o.query_flags, queryFlags, "query flags");
    putPtr(attr, o.prog_ids, ids);
    putU32(attr, o.prog_cnt, room, "program count");
    putPtr(attr, o.link_ids, links);
    // the kernel refuses per-program flags on an effective cgroup query (EINVAL)
    if ((queryFlags & QUERY_EFFECTIVE) === 0) putPtr(attr, o.prog_attach_flags, progFlagsBuf);
    putPtr(attr, o.link_attach_flags, linkFlagsBuf);
    const ret = bpfRaw(Cmd.PROG_QUERY, attr);
    const count = attr.readUInt32LE(o.prog_cnt);
    if (ret < 0 && -ret === Errno.ENOSPC && count > room) {
      room = count;
      continue;
    }
    if (ret < 0) throw bpfError(Cmd.PROG_QUERY, -ret, ctx);
    const n = Math.min(count, room);
    const progIds: number[] = [];
    const linkIds: number[] = [];
    const progFlags: number[] = [];
    const linkFlags: number[] = [];
    for (let i = 0; i < n; i++) {
      progIds.push(ids.readUInt32LE(i * 4));
      linkIds.push(links.readUInt32LE(i * 4));
      progFlags.push(progFlagsBuf.readUInt32LE(i * 4));
      linkFlags.push(linkFlagsBuf.readUInt32LE(i * 4));
    }
    void ids;
    void links;
    return {
      attachFlags: attr.readUInt32LE(o.attach_flags),
      progIds,
      linkIds,
      progFlags,
      linkFlags,
      revision: attr.readBigUInt64LE(o.revision),
    };
  }
}

/** BPF_FD_TYPE_*: what a queried descriptor is. */
export const FD_TYPE_NAMES = [
  "raw_tracepoint",
  "tracepoint",
  "kprobe",
  "kretprobe",
  "uprobe",
  "uretprobe",
] as const;

/** What BPF_TASK_FD_QUERY says of a process's descriptor. */
export interface TaskFdQueryResult {
  progId: number;
  /** BPF_FD_TYPE_* */
  fdType: number;
  /** the tracepoint, the kprobe's function, or the uprobe's file ("" when none) */
  name: string;
  probeOffset: bigint;
  probeAddr: bigint;
}

/**
 * BPF_TASK_FD_QUERY: the program behind descriptor `fd` of process `pid` (a perf event or raw
 * tracepoint), or undefined when that descriptor runs none (ENOENT, ENOTSUPP, EBADF: not one).
 */
export function taskFdQuery(pid: number, fd: number, ctx?: CallContext): TaskFdQueryResult | undefined {
  let buf = Buffer.alloc(256);
  for (;;) {
    const attr = scratchAttr();
    const o = TASK_FD_QUERY.offset;
    putU32(attr, o.pid, pid, "pid");
    putU32(attr, o.fd, fd, "fd");
    putPtr(attr, o.buf, buf);
    putU32(attr, o.buf_len, buf.length, "buffer length");
    const ret = bpfRaw(Cmd.TASK_FD_QUERY, attr);
    const len = attr.readUInt32LE(o.buf_len);
    if (ret < 0 && -ret === Errno.ENOSPC && len >= buf.length) {
      buf = Buffer.alloc(len + 1);
      continue;
    }
    if (ret < 0) {
      const e = -ret;
      if (
        e === Errno.ENOENT ||
        e === Errno.ENOTSUPP ||
        e === Errno.EOPNOTSUPP ||
        e === Errno.EBADF ||
        e === Errno.EINVAL ||
        e === 3 /* ESRCH: the process is gone */
      )
        return undefined;
      throw bpfError(Cmd.TASK_FD_QUERY, e, ctx);
    }
    const end = buf.indexOf(0);
    return {
      progId: attr.readUInt32LE(o.prog_id),
      fdType: attr.readUInt32LE(o.fd_type),
      name: buf.toString("utf8", 0, end < 0 ? Math.min(len, buf.length) : end),
      probeOffset: attr.readBigUInt64LE(o.probe_offset),
      probeAddr: attr.readBigUInt64LE(o.probe_addr),
    };
  }
}
