/** Reading BTF objects out of the kernel by id (BPF_BTF_GET_FD_BY_ID + BPF_OBJ_GET_INFO_BY_FD). */
import { putPtr, putU32 } from "../sys/bpf.js";
import { Fd } from "../sys/fd.js";
import { BTF_INFO } from "../sys/layout.js";
import { getFdById, objGetInfoByFd } from "../sys/obj.js";
import { Btf } from "./decode.js";
import { vmlinuxBtf } from "./vmlinux.js";

export { vmlinuxBtf };

/** A BTF object as the kernel holds it. */
export interface KernelBtfObject {
  readonly id: number;
  /** "vmlinux", a module's name, or "" for a program's BTF */
  readonly name: string;
  /** whether it is the kernel's or a module's BTF (split on vmlinux when it is a module's) */
  readonly kernel: boolean;
  readonly bytes: Uint8Array;
}

/** Reads the BTF object with this id from the kernel. */
export function readBtfById(id: number): KernelBtfObject {
  using fd = new Fd(getFdById("btf", id, 0, { what: `for BTF id ${id}` }), `BTF object ${id}`);
  const info = Buffer.alloc(BTF_INFO.size);
  objGetInfoByFd(fd.value, info);
  const size = info.readUInt32LE(BTF_INFO.offset.btf_size);
  const bytes = Buffer.alloc(size);
  const name = Buffer.alloc(64);
  info.fill(0);
  putPtr(info, BTF_INFO.offset.btf, bytes);
  putU32(info, BTF_INFO.offset.btf_size, size, "BTF size");
  putPtr(info, BTF_INFO.offset.name, name);
  putU32(info, BTF_INFO.offset.name_len, name.length, "name length");
  objGetInfoByFd(fd.value, info);
  const end = name.indexOf(0);
  return {
    id,
    name: name.toString("utf8", 0, end < 0 ? name.length : end),
    kernel: info.readUInt32LE(BTF_INFO.offset.kernel_btf) !== 0,
    bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length),
  };
}

/**
 * Parses a BTF object read from the kernel: a module's BTF is split on vmlinux ({@link vmlinuxBtf},
 * or `base` when given).
 */
export function parseKernelBtf(obj: KernelBtfObject, base?: Btf): Btf {
  if (obj.kernel && obj.name !== "vmlinux") {
    const b = base ?? vmlinuxBtf();
    return Btf.parse(obj.bytes, { base: b });
  }
  return Btf.parse(obj.bytes);
}
