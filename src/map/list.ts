/**
 * Listing the maps the kernel holds, as `bpftool map list` does: every id (BPF_MAP_GET_NEXT_ID),
 * opened (BPF_MAP_GET_FD_BY_ID), described (BPF_OBJ_GET_INFO_BY_FD and /proc/self/fdinfo), closed.
 * A map that goes away between the listing and the opening is left out, not an error.
 */
import { readFileSync } from "node:fs";
import { BpfError, InputError } from "../sys/error.js";
import { Fd } from "../sys/fd.js";
import { allIds, getFdById, type ObjectKind } from "../sys/obj.js";
import { type MapInfo, readMapInfo } from "./info.js";

/** No object of this kind has this id (it never existed, or went away). */
export class NoSuchObjectError extends InputError {
  /** `"prog"`, `"map"`, `"btf"` or `"link"` */
  readonly kind: ObjectKind;
  /** the id asked for */
  readonly id: number;
  constructor(kind: ObjectKind, id: number, options?: ErrorOptions) {
    const what = { prog: "program", map: "map", btf: "BTF object", link: "link" }[kind];
    super(
      `no ${what} with id ${id} in the kernel (it was never loaded or is gone; list them with rawbpf ${kind} list)`,
      options,
    );
    this.kind = kind;
    this.id = id;
  }
}

/**
 * Opens object `id` of `kind` by id; undefined when no such object exists (ENOENT), so a listing
 * can skip one that vanished since. Other refusals (EPERM: no CAP_SYS_ADMIN) throw.
 */
export function openById(kind: ObjectKind, id: number, openFlags = 0): Fd | undefined {
  let raw: number;
  try {
    raw = getFdById(kind, id, openFlags, { what: `for ${kind} id ${id}` });
  } catch (e) {
    if (e instanceof BpfError && e.errnoName === "ENOENT") return undefined;
    throw e;
  }
  return new Fd(raw, `${kind} id ${id}`);
}

/** Checks an object id given by a user: an integer from 1 to 2^32-1. */
export function checkObjectId(id: unknown, what: string): number {
  if (typeof id !== "number" || !Number.isInteger(id) || id < 1 || id > 0xffffffff)
    throw new InputError(`${what} id must be an integer from 1 to 4294967295, got ${String(id)}`);
  return id;
}

/**
 * The `name:\tvalue` lines of /proc/self/fdinfo/FD (memlock, frozen, owner_prog_type ...): what
 * the kernel tells of a BPF object beyond its info. Empty when the file cannot be read.
 */
export function fdinfo(fd: number): Map<string, string> {
  const out = new Map<string, string>();
  let text: string;
  try {
    text = readFileSync(`/proc/self/fdinfo/${fd}`, "latin1");
  } catch {
    return out;
  }
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) out.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return out;
}

/** A map as a listing shows it: its info and what /proc/self/fdinfo adds. */
export interface ListedMap extends MapInfo {
  /** bytes the kernel charges for the map (fdinfo `memlock`) */
  memlock: number;
  /** whether the map was frozen (BPF_MAP_FREEZE) */
  frozen: boolean;
  /** for a prog_array: the program type that owns it (fdinfo `owner_prog_type`), once a program uses it */
  ownerProgramType?: number;
  /** for a prog_array: whether its owner is JIT-compiled */
  ownerJited?: boolean;
}

/** The listing of the map behind descriptor `fd`. */
export function listedMap(fd: number): ListedMap {
  const info = readMapInfo(fd, { what: "map" });
  const extra = fdinfo(fd);
  const listed: ListedMap = {
    ...info,
    memlock: Number(extra.get("memlock") ?? 0),
    frozen: extra.get("frozen") === "1",
  };
  const owner = extra.get("owner_prog_type");
  if (owner !== undefined) {
    listed.ownerProgramType = Number(owner);
    listed.ownerJited = extra.get("owner_jited") === "1";
  }
  return listed;
}

/** The listing of map `id`, or undefined when it does not exist (any more). */
export function mapById(id: number): ListedMap | undefined {
  const fd = openById("map", id);
  if (fd === undefined) return undefined;
  try {
    return listedMap(fd.value);
  } finally {
    fd.close();
  }
}

/** Every map in the kernel, in id order; maps that vanish while listing are left out. */
export function listMaps(): ListedMap[] {
  const out: ListedMap[] = [];
  for (const id of allIds("map")) {
    const m = mapById(id);
    if (m) out.push(m);
  }
  return out;
}
