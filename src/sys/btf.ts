/** BTF commands of bpf(): BTF_LOAD with the complete BTF verifier log; the kernel's BTF files (btffile.ts). */
import { bpfError, bpfRaw, type CallContext, Cmd, putPtr, putU32, scratchAttr } from "./bpf.js";
import { Errno } from "./errno.js";
import { BTF_LOAD } from "./layout.js";
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

export { mapKernelBtfFile, readKernelBtfFile } from "./btffile.js";
