/**
 * The running kernel's BTF, read once per process. Apart from kernel.ts (BTF objects by id, which
 * needs bpf() and so the rest of src/sys), so that the compiler imports only the file reading.
 */
import { mapKernelBtfFile, readKernelBtfFile } from "../sys/btffile.js";
import { Btf } from "./decode.js";

let vmlinux: Btf | undefined;

/**
 * The running kernel's BTF (/sys/kernel/btf/vmlinux), read and indexed once per process: mapped
 * where the kernel allows it (Linux 6.16 and later; its bytes are then read-only memory), else read.
 */
export function vmlinuxBtf(): Btf {
  // the kernel checked its BTF at boot: its types are indexed as far as they are read
  vmlinux ??= Btf.parse(mapKernelBtfFile("/sys/kernel/btf/vmlinux") ?? readKernelBtfFile("vmlinux"), {
    lazyIndex: true,
  });
  return vmlinux;
}
