/** cgroup hooks: a program on a cgroup v2 directory for one attach type (BPF_LINK_CREATE). */
import { openSync, statfsSync } from "node:fs";
import type { Program } from "../program/program.js";
import { type AttachType, attachTypeNumber } from "../program/types.js";
import { InputError } from "../sys/error.js";
import { closeRaw } from "../sys/fd.js";
import { linkCreate } from "../sys/link.js";
import { NotACgroupError } from "./errors.js";
import { adoptLink, type Link } from "./link.js";
import { programFd } from "./program.js";

/** The program type each cgroup attach type runs. */
const CGROUP_PROGRAM: Readonly<Record<string, string>> = {
  cgroup_inet_ingress: "cgroup_skb",
  cgroup_inet_egress: "cgroup_skb",
  cgroup_inet_sock_create: "cgroup_sock",
  cgroup_inet_sock_release: "cgroup_sock",
  cgroup_inet4_post_bind: "cgroup_sock",
  cgroup_inet6_post_bind: "cgroup_sock",
  cgroup_sock_ops: "sock_ops",
  cgroup_device: "cgroup_device",
  cgroup_sysctl: "cgroup_sysctl",
  cgroup_getsockopt: "cgroup_sockopt",
  cgroup_setsockopt: "cgroup_sockopt",
  lsm_cgroup: "lsm",
};
for (const hook of [
  "inet4_bind",
  "inet6_bind",
  "inet4_connect",
  "inet6_connect",
  "udp4_sendmsg",
  "udp6_sendmsg",
  "udp4_recvmsg",
  "udp6_recvmsg",
  "inet4_getpeername",
  "inet6_getpeername",
  "inet4_getsockname",
  "inet6_getsockname",
  "unix_connect",
  "unix_sendmsg",
  "unix_recvmsg",
  "unix_getpeername",
  "unix_getsockname",
]) {
  (CGROUP_PROGRAM as Record<string, string>)[`cgroup_${hook}`] = "cgroup_sock_addr";
}

/** The cgroup attach types, as bpftool spells them. */
export type CgroupAttachType = Extract<AttachType, `cgroup_${string}`> | "lsm_cgroup";

/** A cgroup: a cgroup v2 directory's path, or an open descriptor of one (which stays the caller's). */
export type Cgroup = string | number;

const CGROUP2_SUPER_MAGIC = 0x63677270;
const O_DIRECTORY = 0o200000;

export function openCgroup(path: string): number {
  let magic: number;
  try {
    magic = Number(statfsSync(path).type);
  } catch (e) {
    throw new NotACgroupError(
      `cannot use cgroup ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)} (give a cgroup v2 directory, e.g. /sys/fs/cgroup/unified/NAME after mkdir)`,
    );
  }
  if (magic !== CGROUP2_SUPER_MAGIC) {
    throw new NotACgroupError(
      `${path} is not in a cgroup v2 file system (its file system magic is 0x${magic.toString(16)}): ` +
        "BPF programs attach to cgroup v2 directories, mounted at /sys/fs/cgroup or /sys/fs/cgroup/unified (`mount -t cgroup2`)",
    );
  }
  try {
    return openSync(path, O_DIRECTORY);
  } catch (e) {
    throw new NotACgroupError(
      `cannot open cgroup ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
}

/**
 * Attaches a cgroup program to a cgroup v2 directory (a path, or a descriptor the caller keeps)
 * for one attach type (`"cgroup_inet_ingress"`, `"cgroup_inet_sock_create"`...): it then runs
 * for every process in the cgroup and its descendants. The program type must be the attach
 * type's (`cgroup_skb` for ingress and egress, `cgroup_sock` for sock_create...), loaded with
 * that `expectedAttachType` where the type needs one. Close the link to detach.
 */
export function attachCgroup(program: Program, cgroup: Cgroup, attachType: CgroupAttachType): Link {
  const wanted = typeof attachType === "string" ? CGROUP_PROGRAM[attachType] : undefined;
  if (wanted === undefined) {
    throw new InputError(
      `${JSON.stringify(attachType)} is not a cgroup attach type: one of ${Object.keys(CGROUP_PROGRAM).join(", ")}`,
    );
  }
  const fd = programFd(program, [wanted], `attachCgroup(${attachType})`);
  let target: number;
  let owned = false;
  if (typeof cgroup === "number") {
    if (!Number.isInteger(cgroup) || cgroup < 0)
      throw new InputError(`a cgroup descriptor must be a non-negative integer, got ${cgroup}`);
    target = cgroup;
  } else if (typeof cgroup === "string" && cgroup.length > 0) {
    target = openCgroup(cgroup);
    owned = true;
  } else {
    throw new InputError(`a cgroup is a cgroup v2 directory's path or a descriptor, got ${String(cgroup)}`);
  }
  try {
    const link = linkCreate(
      { progFd: fd, target, attachType: attachTypeNumber(attachType) },
      {
        what: `of ${program.type} program on cgroup ${String(cgroup)} (${attachType})`,
        privilege: "net",
      },
    );
    return adoptLink(link);
  } finally {
    if (owned) closeRaw(target);
  }
}
