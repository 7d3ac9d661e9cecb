/**
 * The functions of a loaded program as the kernel knows them: its func_info records (function
 * starts and their BTF FUNC types, when the program was loaded with BTF) and the addresses of
 * the JIT-compiled functions.
 */
import { parseKernelBtf, readBtfById } from "../btf/kernel.js";
import { putPtr, putU32 } from "../sys/bpf.js";
import { PROG_INFO } from "../sys/layout.js";
import { objGetInfoByFd } from "../sys/obj.js";

/** One function of a loaded program. */
export interface LoadedFunction {
  /** its name from the program's BTF; undefined when the program was loaded without BTF */
  name: string | undefined;
  /** `"global"`, `"static"` or `"extern"` from the BTF FUNC; undefined without BTF */
  linkage: string | undefined;
  /** the instruction (slot) where it starts, after the verifier's rewrites; undefined without BTF */
  insnOffset: number | undefined;
  /** the address of its JIT-compiled code (0n when hidden: kptr_restrict, or not JIT-compiled) */
  address: bigint;
}

/** What the kernel says about a loaded program's functions. */
export interface ProgramFunctions {
  /** id of the program's BTF (0 when loaded without) */
  btfId: number;
  /** how many func_info records the kernel kept (0 without BTF) */
  funcInfoCount: number;
  /** how many line_info records the kernel kept */
  lineInfoCount: number;
  /** the functions, main program first */
  functions: LoadedFunction[];
}

/** Reads the functions of the program behind `fd` (BPF_OBJ_GET_INFO_BY_FD, and its BTF by id). */
export function programFunctions(fd: number): ProgramFunctions {
  const o = PROG_INFO.offset;
  const info = Buffer.alloc(PROG_INFO.size);
  objGetInfoByFd(fd, info, { what: "program" });
  const btfId = info.readUInt32LE(o.btf_id);
  const nrFunc = info.readUInt32LE(o.nr_func_info);
  const recSize = info.readUInt32LE(o.func_info_rec_size) || 8;
  const nrLine = info.readUInt32LE(o.nr_line_info);
  const nrKsyms = info.readUInt32LE(o.nr_jited_ksyms);

  const again = Buffer.alloc(PROG_INFO.size);
  const funcInfo = Buffer.alloc(nrFunc * recSize);
  const ksyms = Buffer.alloc(nrKsyms * 8);
  if (nrFunc > 0) {
    putU32(again, o.nr_func_info, nrFunc, "func_info count");
    putU32(again, o.func_info_rec_size, recSize, "func_info record size");
    putPtr(again, o.func_info, funcInfo);
  }
  if (nrKsyms > 0) {
    putU32(again, o.nr_jited_ksyms, nrKsyms, "jited ksyms count");
    putPtr(again, o.jited_ksyms, ksyms);
  }
  if (nrFunc > 0 || nrKsyms > 0) objGetInfoByFd(fd, again, { what: "program" });
  const gotFunc = nrFunc > 0 ? Math.min(nrFunc, again.readUInt32LE(o.nr_func_info)) : 0;
  const gotKsyms = nrKsyms > 0 ? Math.min(nrKsyms, again.readUInt32LE(o.nr_jited_ksyms)) : 0;

  const btf = btfId !== 0 && gotFunc > 0 ? parseKernelBtf(readBtfById(btfId)) : undefined;
  const count = Math.max(gotFunc, gotKsyms);
  const functions: LoadedFunction[] = [];
  for (let i = 0; i < count; i++) {
    let name: string | undefined;
    let linkage: string | undefined;
    let insnOffset: number | undefined;
    if (btf && i < gotFunc) {
      insnOffset = funcInfo.readUInt32LE(i * recSize);
      const typeId = funcInfo.readUInt32LE(i * recSize + 4);
      const t = btf.type(typeId);
      if (t.kind === "func") {
        name = t.name;
        linkage = t.linkage;
      }
    }
    const address = i < gotKsyms ? ksyms.readBigUInt64LE(i * 8) : 0n;
    functions.push({ name, linkage, insnOffset, address });
  }
  return { btfId, funcInfoCount: gotFunc, lineInfoCount: nrLine, functions };
}
