/**
 * The kernel's BTF files (/sys/kernel/btf/vmlinux, a module's), read or mapped. A module of its
 * own, apart from btf.ts's bpf() commands, so that what only reads the kernel's types (`rawbpf
 * compile` of a tp_btf program) does not set up the rest of src/sys.
 */
import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { RawbpfError } from "./error.js";
import * as libc from "./libc.js";

/**
 * The bytes of /sys/kernel/btf/NAME: the kernel's own BTF ("vmlinux") or a module's (split on it).
 * @throws RawbpfError (code ENOKERNELBTF) when the kernel has no such file
 */
export function readKernelBtfFile(name = "vmlinux"): Buffer {
  const path = `/sys/kernel/btf/${name}`;
  try {
    return readFileSync(path);
  } catch (e) {
    throw new RawbpfError(
      "ENOKERNELBTF",
      `cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? String(e)}): ${
        name === "vmlinux"
          ? "this kernel was built without CONFIG_DEBUG_INFO_BTF"
          : `no module '${name}' with BTF is loaded`
      }`,
      { cause: e },
    );
  }
}

const PROT_READ = 1;
const MAP_PRIVATE = 0x02;
/** Unmaps a mapping of {@link mapKernelBtfFile} once the bytes viewing it are garbage. */
const unmapWhenGone = new FinalizationRegistry<{ address: number; length: number }>((m) => {
  libc.munmap(m.address, m.length);
});

/**
 * The bytes of a file of /sys/kernel/btf (`/sys/kernel/btf/vmlinux`, a module's) mapped into
 * this process instead of read: since Linux 6.16 the kernel lets these files be mapped read-only,
 * which saves reading them a page per read() (about 1,300 system calls and a copy for vmlinux).
 * The bytes are READ-ONLY memory (a write would crash the process), and are unmapped when they
 * are garbage. Undefined where the kernel refuses the mapping (older kernels): read the file then.
 */
export function mapKernelBtfFile(path: string): Uint8Array | undefined {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return undefined;
  }
  try {
    const length = fstatSync(fd).size;
    // Stryker disable next-line ConditionalExpression: mmap() of 0 bytes fails (EINVAL), which returns undefined below
    if (length === 0) return undefined;
    const address = Number(libc.mmap(0, length, PROT_READ, MAP_PRIVATE, fd, 0));
    if (address === -1) return undefined;
    const bytes = new Uint8Array(libc.viewOf(address, length));
    unmapWhenGone.register(bytes.buffer, { address, length });
    return bytes;
  } finally {
    closeSync(fd);
  }
}
