/** What the kernel says about a loaded program: BPF_OBJ_GET_INFO_BY_FD on a program descriptor. */
import { getName, putPtr, putU32 } from "../sys/bpf.js";
import { PROG_INFO } from "../sys/layout.js";
import { objGetInfoByFd } from "../sys/obj.js";
import { programTypeName } from "./types.js";

/** A loaded program as the kernel describes it. */
export interface ProgramInfo {
  /** the program's id (stable while it is loaded) */
  id: number;
  /** the name given at load (at most 15 characters) */
  name: string;
  /** the program type name (`"xdp"`), or `type <n>` when unknown */
  type: string;
  /** the kernel's tag: a hash of the instructions, 16 hex digits as bpftool prints it */
  tag: string;
  /** size in bytes of the instructions after the verifier rewrote them */
  xlatedLength: number;
  /** size in bytes of the JIT-compiled code (0 when not JIT-compiled, or hidden) */
  jitedLength: number;
  /** load time in nanoseconds since boot */
  loadTime: bigint;
  /** uid of the process that loaded it */
  createdByUid: number;
  /** ids of the maps the program uses */
  mapIds: number[];
  /** whether the license is GPL-compatible */
  gplCompatible: boolean;
  /** id of the program's BTF, 0 when none */
  btfId: number;
  /** how many times it ran while statistics were enabled */
  runCount: bigint;
  /** total run time in nanoseconds while statistics were enabled */
  runTimeNs: bigint;
  /** runs skipped because of recursion */
  recursionMisses: bigint;
  /** instructions the verifier processed */
  verifiedInsns: number;
  /** the device a program offloaded to a NIC is bound to (0 when not offloaded) */
  ifindex: number;
  /** the network namespace of an offloaded program's device (st_dev and inode; 0 when none) */
  netnsDev: bigint;
  netnsIno: bigint;
  /** how many func_info and line_info records the kernel kept (0 without BTF) */
  funcInfoCount: number;
  lineInfoCount: number;
  /** the BTF object (0: vmlinux) and type id of what a tracing, lsm or ext program attaches to */
  attachBtfObjId: number;
  attachBtfId: number;
}

/** Reads the kernel's info about the program behind `fd`. */
export function programInfo(fd: number): ProgramInfo {
  const o = PROG_INFO.offset;
  const info = Buffer.alloc(PROG_INFO.size);
  objGetInfoByFd(fd, info, { what: "program" });
  const nrMaps = info.readUInt32LE(o.nr_map_ids);
  const mapIds: number[] = [];
  if (nrMaps > 0) {
    const ids = Buffer.alloc(nrMaps * 4);
    const again = Buffer.alloc(PROG_INFO.size);
    putU32(again, o.nr_map_ids, nrMaps, "map id count");
    putPtr(again, o.map_ids, ids);
    objGetInfoByFd(fd, again, { what: "program" });
    const n = Math.min(nrMaps, again.readUInt32LE(o.nr_map_ids));
    for (let i = 0; i < n; i++) mapIds.push(ids.readUInt32LE(i * 4));
  }
  return {
    id: info.readUInt32LE(o.id),
    name: getName(info, o.name),
    type: programTypeName(info.readUInt32LE(o.type)),
    tag: info.subarray(o.tag, o.tag + 8).toString("hex"),
    xlatedLength: info.readUInt32LE(o.xlated_prog_len),
    jitedLength: info.readUInt32LE(o.jited_prog_len),
    loadTime: info.readBigUInt64LE(o.load_time),
    createdByUid: info.readUInt32LE(o.created_by_uid),
    mapIds,
    gplCompatible: info.readUInt32LE(o.gpl_compatible) !== 0,
    btfId: info.readUInt32LE(o.btf_id),
    runCount: info.readBigUInt64LE(o.run_cnt),
    runTimeNs: info.readBigUInt64LE(o.run_time_ns),
    recursionMisses: info.readBigUInt64LE(o.recursion_misses),
    verifiedInsns: info.readUInt32LE(o.verified_insns),
    ifindex: info.readUInt32LE(o.ifindex),
    netnsDev: info.readBigUInt64LE(o.netns_dev),
    netnsIno: info.readBigUInt64LE(o.netns_ino),
    funcInfoCount: info.readUInt32LE(o.nr_func_info),
    lineInfoCount: info.readUInt32LE(o.nr_line_info),
    attachBtfObjId: info.readUInt32LE(o.attach_btf_obj_id),
    attachBtfId: info.readUInt32LE(o.attach_btf_id),
  };
}

/**
 * The program behind `fd` as the kernel runs it before JIT: its instructions after the verifier
 * rewrote them (BPF_OBJ_GET_INFO_BY_FD's xlated_prog_insns), dead code removed. Empty when the
 * kernel withholds them (it shows them only to a process that may see kernel addresses).
 */
export function programXlated(fd: number): Uint8Array {
  const o = PROG_INFO.offset;
  const info = Buffer.alloc(PROG_INFO.size);
  objGetInfoByFd(fd, info, { what: "program" });
  const length = info.readUInt32LE(o.xlated_prog_len);
  if (length === 0) return new Uint8Array(0);
  const insns = Buffer.alloc(length);
  const again = Buffer.alloc(PROG_INFO.size);
  putU32(again, o.xlated_prog_len, length, "translated length");
  putPtr(again, o.xlated_prog_insns, insns);
  objGetInfoByFd(fd, again, { what: "program" });
  // the kernel zeroes the pointer when it withholds the instructions
  if (again.readBigUInt64LE(o.xlated_prog_insns) === 0n) return new Uint8Array(0);
  return insns.subarray(0, Math.min(length, again.readUInt32LE(o.xlated_prog_len)));
}
