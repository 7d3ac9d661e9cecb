/**
 * Listing the programs the kernel holds, as `bpftool prog list` does: every id
 * (BPF_PROG_GET_NEXT_ID), opened (BPF_PROG_GET_FD_BY_ID), described (BPF_OBJ_GET_INFO_BY_FD and
 * /proc/self/fdinfo), closed. A program that goes away between the listing and the opening is left
 * out, not an error.
 */
import { fdinfo, openById } from "../map/list.js";
import { allIds } from "../sys/obj.js";
import { programFunctions } from "./functions.js";
import { type ProgramInfo, programInfo } from "./info.js";

/** A program as a listing shows it: its info and what /proc/self/fdinfo and its BTF add. */
export interface ListedProgram extends ProgramInfo {
  /**
   * the whole name: the kernel keeps 15 characters, so a name that long is completed from the
   * program's BTF (its first function), as bpftool does
   */
  fullName: string;
  /** bytes the kernel charges for the program (fdinfo `memlock`) */
  memlock: number;
}

/** The listing of the program behind descriptor `fd`. */
export function listedProgram(fd: number): ListedProgram {
  const info = programInfo(fd);
  let fullName = info.name;
  if (info.name.length === 15 && info.btfId !== 0 && info.funcInfoCount > 0) {
    const first = programFunctions(fd).functions[0]?.name;
    if (first) fullName = first;
  }
  return { ...info, fullName, memlock: Number(fdinfo(fd).get("memlock") ?? 0) };
}

/** The listing of program `id`, or undefined when it does not exist (any more). */
export function programById(id: number): ListedProgram | undefined {
  const fd = openById("prog", id);
  if (fd === undefined) return undefined;
  try {
    return listedProgram(fd.value);
  } finally {
    fd.close();
  }
}

/** Every program in the kernel, in id order; programs that vanish while listing are left out. */
export function listPrograms(): ListedProgram[] {
  const out: ListedProgram[] = [];
  for (const id of allIds("prog")) {
    const p = programById(id);
    if (p) out.push(p);
  }
  return out;
}
