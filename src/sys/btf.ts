/** BTF commands of bpf(): BTF_LOAD with the complete BTF verifier log; the kernel's BTF files. */
import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { bpfError, bpfRaw, type CallContext, Cmd, putPtr, putU32, scratchAttr } from "./bpf.js";
import { Errno } from "./errno.js";
import { RawbpfError } from "./error.js";
import { BTF_LOAD } from "./layout.js";
import * as libc from "./libc.js";
import { MAX_LOG_SIZE } from "./prog.js";

/** Attributes of BPF_BTF_LOAD. */
export interface BtfLoadAttr {
  blob: Uint8Array;
  /** 0: no log unless the load fails; 1 or 2: always */
  logLevel?: number;
  logSize?: number;
  flags?: number;
}

/** What a successful BTF load returns. */
export interface BtfLoadResult {
  fd: number;
  log: string;
}

/**
 * BPF_BTF_LOAD. On failure throws a BpfError with the BTF verifier's complete log (retried with
 * a log when none was asked for, grown to btf_log_true_size on ENOSPC).
 */
export function btfLoad(a: BtfLoadAttr, ctx: CallContext = {}): BtfLoadResult {
  let level = a.logLevel ?? 0;
  let size = Math.min(a.logSize ?? 1 << 16, MAX_LOG_SIZE);
  for (let tries = 0; tries < 6; tries++) {
    const attr = scratchAttr();
    const o = BTF_LOAD.offset;
    const blob = a.blob;
    const logBuf = level > 0 ? Buffer.alloc(size) : undefined;
    putPtr(attr, o.btf, blob);
    putU32(attr, o.btf_size, blob.byteLength, "BTF size");
    if (logBuf) {
      putPtr(attr, o.btf_log_buf, logBuf);
      putU32(attr, o.btf_log_size, size, "log size");
      putU32(attr, o.btf_log_level, level, "log level");
    }
    putU32(attr, o.btf_flags, a.flags ?? 0, "BTF flags");
    const ret = bpfRaw(Cmd.BTF_LOAD, attr);
    void blob;
    let log = "";
    if (logBuf) {
      const end = logBuf.indexOf(0);
      log = logBuf.toString("utf8", 0, end < 0 ? logBuf.length : end);
    }
    if (ret >= 0) return { fd: ret, log };
    const errno = -ret;
    const trueSize = attr.readUInt32LE(o.btf_log_true_size);
    if (errno === Errno.ENOSPC && trueSize > size && trueSize <= MAX_LOG_SIZE) {
      size = trueSize;
      continue;
    }
    if (level === 0 && errno !== Errno.EPERM) {
      level = 1;
      continue;
    }
    throw bpfError(Cmd.BTF_LOAD, errno, { ...ctx, details: { ...ctx.details, log } });
  }
  throw bpfError(Cmd.BTF_LOAD, Errno.ENOSPC, ctx);
}

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
