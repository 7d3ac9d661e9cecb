/** Object commands of bpf(): pin, get, info by fd, ids, fds by id, statistics. */
import { lstatSync } from "node:fs";
import {
  bpfCall,
  bpfError,
  bpfRaw,
  type CallContext,
  Cmd,
  cString,
  putPtr,
  putU32,
  scratchAttr,
} from "./bpf.js";
import { Errno } from "./errno.js";
import { ENABLE_STATS, GET_ID, INFO, OBJ } from "./layout.js";

/** BPF_OBJ_PIN: pins `fd` at `path` in a bpffs. */
export function objPin(fd: number, path: string, ctx?: CallContext): void {
  const attr = scratchAttr();
  const p = cString(path);
  putPtr(attr, OBJ.offset.pathname, p);
  putU32(attr, OBJ.offset.bpf_fd, fd, "fd");
  const ret = bpfRaw(Cmd.OBJ_PIN, attr);
  void p;
  if (ret < 0) throw bpfError(Cmd.OBJ_PIN, -ret, -ret === Errno.EEXIST ? pinExists(path, ctx) : ctx);
}

/** The context of a pin refused with EEXIST: the path is taken (and what by). */
function pinExists(path: string, ctx: CallContext = {}): CallContext {
  let what = "something is pinned there, or it is a file";
  try {
    if (lstatSync(path).isDirectory()) what = "it is a directory";
  } catch {
    // gone since: keep the general words
  }
  const hint = what.startsWith("it is a directory")
    ? `${path} already exists and is a directory: pin at a new name inside it (${path.replace(/\/+$/, "")}/NAME)`
    : `${path} already exists (${what}): remove it first (rm ${path}) or pin at another name`;
  return { ...ctx, details: { hint, ...ctx.details } };
}

/** BPF_F_RDONLY / BPF_F_WRONLY for OBJ_GET and GET_FD_BY_ID. */
export const OpenFlags = { RDONLY: 1 << 3, WRONLY: 1 << 4 } as const;

/** BPF_OBJ_GET: opens the object pinned at `path`; returns a descriptor the caller owns. */
export function objGet(path: string, flags = 0, ctx?: CallContext): number {
  const attr = scratchAttr();
  const p = cString(path);
  putPtr(attr, OBJ.offset.pathname, p);
  putU32(attr, OBJ.offset.file_flags, flags, "open flags");
  const fd = bpfCall(Cmd.OBJ_GET, attr, ctx);
  void p;
  return fd;
}

/**
 * BPF_OBJ_GET_INFO_BY_FD into `info` (sized for `layout`, possibly with pointers written into it
 * by the caller). Returns the info length the kernel filled.
 */
export function objGetInfoByFd(fd: number, info: Buffer, ctx?: CallContext): number {
  const attr = scratchAttr();
  putU32(attr, INFO.offset.bpf_fd, fd, "fd");
  putU32(attr, INFO.offset.info_len, info.byteLength, "info length");
  putPtr(attr, INFO.offset.info, info);
  bpfCall(Cmd.OBJ_GET_INFO_BY_FD, attr, ctx);
  void info;
  return attr.readUInt32LE(INFO.offset.info_len);
}

/** The hint of an EPERM from a by-id command: CAP_SYS_ADMIN, which CAP_BPF does not stand in for. */
const BY_ID_HINT =
  "walking or opening BPF objects by id needs CAP_SYS_ADMIN, and CAP_BPF is not enough: run as root or grant CAP_SYS_ADMIN " +
  "(or open the object from a pin path or a descriptor instead)";

/** The context of a by-id command: CAP_SYS_ADMIN named on EPERM, with its own hint. */
function byId(ctx: CallContext | undefined): CallContext {
  return { privilege: "admin", ...ctx, details: { hint: BY_ID_HINT, ...ctx?.details } };
}

/** Kinds of object with ids. */
export type ObjectKind = "prog" | "map" | "btf" | "link";

const NEXT_ID: Record<ObjectKind, number> = {
  prog: Cmd.PROG_GET_NEXT_ID,
  map: Cmd.MAP_GET_NEXT_ID,
  btf: Cmd.BTF_GET_NEXT_ID,
  link: Cmd.LINK_GET_NEXT_ID,
};
const FD_BY_ID: Record<ObjectKind, number> = {
  prog: Cmd.PROG_GET_FD_BY_ID,
  map: Cmd.MAP_GET_FD_BY_ID,
  btf: Cmd.BTF_GET_FD_BY_ID,
  link: Cmd.LINK_GET_FD_BY_ID,
};

/**
 * BPF_{PROG,MAP,BTF,LINK}_GET_NEXT_ID: the next id after `start`, or undefined at the end. Needs
 * CAP_SYS_ADMIN (CAP_BPF is not enough).
 */
export function getNextId(kind: ObjectKind, start: number, ctx?: CallContext): number | undefined {
  const attr = scratchAttr();
  putU32(attr, GET_ID.offset.start_id, start, "start id");
  const cmd = NEXT_ID[kind];
  const ret = bpfRaw(cmd, attr);
  if (ret === -Errno.ENOENT) return undefined;
  if (ret < 0) throw bpfError(cmd, -ret, -ret === Errno.EPERM ? byId(ctx) : ctx);
  return attr.readUInt32LE(GET_ID.offset.next_id);
}

/** Every id of a kind, in order. */
export function allIds(kind: ObjectKind): number[] {
  const ids: number[] = [];
  for (let id = getNextId(kind, 0); id !== undefined; id = getNextId(kind, id)) ids.push(id);
  return ids;
}

/** BPF_{PROG,MAP,BTF,LINK}_GET_FD_BY_ID: a descriptor the caller owns. Needs CAP_SYS_ADMIN. */
export function getFdById(kind: ObjectKind, id: number, openFlags = 0, ctx?: CallContext): number {
  const attr = scratchAttr();
  putU32(attr, GET_ID.offset.start_id, id, "id");
  putU32(attr, GET_ID.offset.open_flags, openFlags, "open flags");
  const ret = bpfRaw(FD_BY_ID[kind], attr);
  if (ret < 0) throw bpfError(FD_BY_ID[kind], -ret, -ret === Errno.EPERM ? byId(ctx) : ctx);
  return ret;
}

/** The hint of an EPERM from BPF_ENABLE_STATS, which checks CAP_SYS_ADMIN alone. */
const STATS_HINT =
  "turning on run-time statistics needs CAP_SYS_ADMIN, and CAP_BPF is not enough: run as root or grant CAP_SYS_ADMIN " +
  "(or set the sysctl kernel.bpf_stats_enabled=1 instead)";

/** BPF_STATS_RUN_TIME. */
export const STATS_RUN_TIME = 0;

/**
 * BPF_ENABLE_STATS: returns a descriptor that keeps run-time statistics enabled while open.
 */
export function enableStats(type: number = STATS_RUN_TIME, ctx?: CallContext): number {
  const attr = scratchAttr();
  putU32(attr, ENABLE_STATS.offset.type, type, "stats type");
  return bpfCall(Cmd.ENABLE_STATS, attr, {
    privilege: "admin",
    ...ctx,
    details: { hint: STATS_HINT, ...ctx?.details },
  });
}
