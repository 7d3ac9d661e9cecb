/** What the kernel says about a map: BPF_OBJ_GET_INFO_BY_FD into struct bpf_map_info. */
import { type CallContext, getName } from "../sys/bpf.js";
import { MAP_INFO } from "../sys/layout.js";
import { objGetInfoByFd } from "../sys/obj.js";
import { mapFlagNames } from "./flags.js";
import { type MapTypeName, mapTypeName } from "./types.js";

/** A map's kernel-side description. */
export interface MapInfo {
  /** the kernel's id of the map (stable while the map exists; see `BpfMap.fromId`) */
  id: number;
  /** the type name, or `unknown(<n>)` for a type newer than rawbpf */
  type: MapTypeName | `unknown(${number})`;
  typeNumber: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  /** flag names, e.g. `["BPF_F_NO_PREALLOC"]` */
  flagNames: string[];
  name: string;
  ifindex: number;
  btfId: number;
  btfKeyTypeId: number;
  btfValueTypeId: number;
  btfVmlinuxValueTypeId: number;
  btfVmlinuxId: number;
  mapExtra: bigint;
}

/** Reads the info of map descriptor `fd`. */
export function readMapInfo(fd: number, ctx?: CallContext): MapInfo {
  const buf = Buffer.alloc(MAP_INFO.size);
  objGetInfoByFd(fd, buf, ctx);
  const o = MAP_INFO.offset;
  const typeNumber = buf.readUInt32LE(o.type);
  const flags = buf.readUInt32LE(o.map_flags);
  return {
    id: buf.readUInt32LE(o.id),
    type: mapTypeName(typeNumber) ?? `unknown(${typeNumber})`,
    typeNumber,
    keySize: buf.readUInt32LE(o.key_size),
    valueSize: buf.readUInt32LE(o.value_size),
    maxEntries: buf.readUInt32LE(o.max_entries),
    flags,
    flagNames: mapFlagNames(flags),
    name: getName(buf, o.name),
    ifindex: buf.readUInt32LE(o.ifindex),
    btfId: buf.readUInt32LE(o.btf_id),
    btfKeyTypeId: buf.readUInt32LE(o.btf_key_type_id),
    btfValueTypeId: buf.readUInt32LE(o.btf_value_type_id),
    btfVmlinuxValueTypeId: buf.readUInt32LE(o.btf_vmlinux_value_type_id),
    btfVmlinuxId: buf.readUInt32LE(o.btf_vmlinux_id),
    mapExtra: buf.readBigUInt64LE(o.map_extra),
  };
}
