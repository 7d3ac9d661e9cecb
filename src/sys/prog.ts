/** Program commands of bpf(): PROG_LOAD (with the complete verifier log) and PROG_TEST_RUN. */
import {
  bpfError,
  bpfRaw,
  type CallContext,
  Cmd,
  cString,
  putName,
  putPtr,
  putU32,
  scratchAttr,
} from "./bpf.js";
import { Errno } from "./errno.js";
import { PROG_LOAD, TEST_RUN } from "./layout.js";

/** Verifier log levels: BPF_LOG_LEVEL1, BPF_LOG_LEVEL2, BPF_LOG_STATS. */
export const LogLevel = { BASIC: 1, VERBOSE: 2, STATS: 4 } as const;

/** Largest log buffer the kernel accepts (UINT_MAX >> 2). */
export const MAX_LOG_SIZE = 0x3fffffff;
/** Log buffer used when a load fails and no log was asked for, before growing to log_true_size. */
const RETRY_LOG_SIZE = 1 << 20;
/** Small log buffer for the statistics line on success. */
const STATS_LOG_SIZE = 4096;

/** Attributes of BPF_PROG_LOAD. */
export interface ProgLoadAttr {
  progType: number;
  /** instruction bytes, 8 per slot */
  insns: Uint8Array;
  license: string;
  /** 0 (none), or a mix of LogLevel bits */
  logLevel?: number;
  /** initial log buffer size; grown to the kernel's log_true_size when too small */
  logSize?: number;
  kernVersion?: number;
  progFlags?: number;
  name?: string;
  ifindex?: number;
  expectedAttachType?: number;
  progBtfFd?: number;
  funcInfo?: Uint8Array;
  funcInfoRecSize?: number;
  lineInfo?: Uint8Array;
  lineInfoRecSize?: number;
  attachBtfId?: number;
  attachProgFd?: number;
  attachBtfObjFd?: number;
  /** descriptors the program refers to by index (ld_imm64 src=5/6, kfunc module BTFs) */
  fdArray?: Int32Array;
  /** CO-RE relocations for the kernel to apply (`struct bpf_core_relo` records, 16 bytes each); needs `progBtfFd` and func_info */
  coreRelos?: Uint8Array;
  /** size of one `coreRelos` record (default 16) */
  coreReloRecSize?: number;
}

/** What a successful load returns. */
export interface ProgLoadResult {
  fd: number;
  /** the verifier log (the statistics line at least) */
  log: string;
  /** the log level that produced `log` */
  logLevel: number;
}

interface Attempt {
  ret: number;
  log: string;
  trueSize: number;
}

function attempt(a: ProgLoadAttr, logLevel: number, logSize: number): Attempt {
  const attr = scratchAttr();
  const o = PROG_LOAD.offset;
  const insns = a.insns;
  const license = cString(a.license);
  // progLoad always asks for BPF_LOG_STATS, so logLevel is never 0 here and a log buffer always given
  // Stryker disable next-line ConditionalExpression,EqualityOperator: see above
  const logBuf = logLevel > 0 ? Buffer.alloc(logSize) : undefined;
  const { funcInfo, lineInfo, fdArray, coreRelos } = a;
  putU32(attr, o.prog_type, a.progType, "program type");
  putU32(attr, o.insn_cnt, insns.byteLength / 8, "instruction count");
  putPtr(attr, o.insns, insns);
  putPtr(attr, o.license, license);
  putU32(attr, o.log_level, logLevel, "log level");
  // Stryker disable next-line ConditionalExpression: see above
  if (logBuf) {
    putU32(attr, o.log_size, logSize, "log size");
    putPtr(attr, o.log_buf, logBuf);
  }
  putU32(attr, o.kern_version, a.kernVersion ?? 0, "kernel version");
  putU32(attr, o.prog_flags, a.progFlags ?? 0, "program flags");
  putName(attr, o.prog_name, a.name, "program");
  putU32(attr, o.prog_ifindex, a.ifindex ?? 0, "ifindex");
  putU32(attr, o.expected_attach_type, a.expectedAttachType ?? 0, "expected attach type");
  if (a.progBtfFd !== undefined) putU32(attr, o.prog_btf_fd, a.progBtfFd, "program BTF fd");
  if (funcInfo && funcInfo.byteLength > 0) {
    const rec = a.funcInfoRecSize ?? 8;
    putU32(attr, o.func_info_rec_size, rec, "func_info record size");
    putPtr(attr, o.func_info, funcInfo);
    putU32(attr, o.func_info_cnt, funcInfo.byteLength / rec, "func_info count");
  }
  if (lineInfo && lineInfo.byteLength > 0) {
    const rec = a.lineInfoRecSize ?? 16;
    putU32(attr, o.line_info_rec_size, rec, "line_info record size");
    putPtr(attr, o.line_info, lineInfo);
    putU32(attr, o.line_info_cnt, lineInfo.byteLength / rec, "line_info count");
  }
  putU32(attr, o.attach_btf_id, a.attachBtfId ?? 0, "attach BTF id");
  const attachFd = a.attachProgFd ?? a.attachBtfObjFd;
  if (attachFd !== undefined) putU32(attr, o.attach_prog_fd, attachFd, "attach fd");
  if (fdArray && fdArray.length > 0) {
    putPtr(attr, o.fd_array, fdArray);
    putU32(attr, o.fd_array_cnt, fdArray.length, "fd_array count");
  }
  if (coreRelos && coreRelos.byteLength > 0) {
    const rec = a.coreReloRecSize ?? 16;
    putU32(attr, o.core_relo_rec_size, rec, "core_relo record size");
    putPtr(attr, o.core_relos, coreRelos);
    putU32(attr, o.core_relo_cnt, coreRelos.byteLength / rec, "core_relo count");
  }
  const ret = bpfRaw(Cmd.PROG_LOAD, attr);
  const trueSize = attr.readUInt32LE(o.log_true_size);
  let log = "";
  if (logBuf) {
    const end = logBuf.indexOf(0);
    log = logBuf.toString("utf8", 0, end < 0 ? logBuf.length : end);
  }
  void [insns, license, funcInfo, lineInfo, fdArray, coreRelos];
  return { ret, log, trueSize };
}

/** How many times in a row a load interrupted by a signal (EAGAIN) is asked again; libbpf: 5. */
const PROG_LOAD_INTERRUPTS = 5;

/**
 * BPF_PROG_LOAD. On success returns the descriptor and the log (the statistics line at least:
 * BPF_LOG_STATS is always asked for). On failure throws a BpfError carrying the complete log:
 * when no log was asked for the load is retried with one, and when the log buffer was too small
 * (ENOSPC) it is grown to the kernel's log_true_size, so the tail that holds the error is never
 * lost. A load a signal interrupted (EAGAIN) is asked again, up to 5 times in a row.
 */
export function progLoad(a: ProgLoadAttr, ctx: CallContext = {}): ProgLoadResult {
  let level = (a.logLevel ?? 0) | LogLevel.STATS;
  let size = Math.min(
    a.logSize ?? (level & (LogLevel.BASIC | LogLevel.VERBOSE) ? RETRY_LOG_SIZE : STATS_LOG_SIZE),
    MAX_LOG_SIZE,
  );
  let interrupted = 0;
  for (let tries = 0; tries < 6; tries++) {
    const r = attempt(a, level, size);
    if (r.ret >= 0) return { fd: r.ret, log: r.log, logLevel: level };
    const errno = -r.ret;
    if (errno === Errno.EAGAIN && interrupted < PROG_LOAD_INTERRUPTS) {
      // the verifier stops with EAGAIN when a signal is pending for this thread (a profiler's
      // SIGPROF, a timer): ask again, as libbpf does, without counting it as a log retry
      interrupted++;
      tries--;
      continue;
    }
    if (errno === Errno.EAGAIN)
      throw bpfError(Cmd.PROG_LOAD, errno, {
        ...ctx,
        details: {
          ...ctx.details,
          log: r.log,
          hint:
            `signals interrupted the verifier ${interrupted + 1} times in a row (it gives up with EAGAIN ` +
            "when a signal is pending: a profiler such as node --cpu-prof, or a timer): load with fewer " +
            "signals, or a lower sampling rate",
        },
      });
    if (errno === Errno.ENOSPC && r.trueSize > size && r.trueSize <= MAX_LOG_SIZE) {
      size = r.trueSize;
      continue;
    }
    if (!(level & (LogLevel.BASIC | LogLevel.VERBOSE)) && errno !== Errno.EPERM && errno !== Errno.E2BIG) {
      // no verifier messages were asked for: ask again with them, to say why
      level |= LogLevel.BASIC;
      size = Math.max(size, RETRY_LOG_SIZE);
      continue;
    }
    throw bpfError(Cmd.PROG_LOAD, errno, { ...ctx, details: { ...ctx.details, log: r.log } });
  }
  throw bpfError(Cmd.PROG_LOAD, Errno.ENOSPC, {
    ...ctx,
    details: { ...ctx.details, hint: "the verifier log kept growing" },
  });
}

/** Attributes of BPF_PROG_TEST_RUN. */
export interface TestRunAttr {
  fd: number;
  dataIn?: Uint8Array;
  /** room for data out; grown once when the kernel says it needs more */
  dataSizeOut?: number;
  ctxIn?: Uint8Array;
  ctxSizeOut?: number;
  repeat?: number;
  flags?: number;
  cpu?: number;
  batchSize?: number;
}

/** The result of a test run. */
export interface TestRunResult {
  retval: number;
  /** average duration per run in nanoseconds */
  duration: number;
  dataOut: Buffer;
  ctxOut: Buffer;
}

/** BPF_PROG_TEST_RUN. */
export function progTestRun(a: TestRunAttr, ctx?: CallContext): TestRunResult {
  const dataIn = a.dataIn;
  const ctxIn = a.ctxIn;
  let outSize = a.dataSizeOut ?? (dataIn ? dataIn.byteLength + 256 : 0);
  const ctxOutSize = a.ctxSizeOut ?? (ctxIn ? ctxIn.byteLength : 0);
  for (let tries = 0; ; tries++) {
    const attr = scratchAttr();
    const o = TEST_RUN.offset;
    const dataOut = Buffer.alloc(outSize);
    const ctxOut = Buffer.alloc(ctxOutSize);
    putU32(attr, o.prog_fd, a.fd, "program fd");
    if (dataIn) {
      putU32(attr, o.data_size_in, dataIn.byteLength, "data size");
      putPtr(attr, o.data_in, dataIn);
    }
    if (outSize > 0) {
      putU32(attr, o.data_size_out, outSize, "data out size");
      putPtr(attr, o.data_out, dataOut);
    }
    if (ctxIn) {
      putU32(attr, o.ctx_size_in, ctxIn.byteLength, "ctx size");
      putPtr(attr, o.ctx_in, ctxIn);
    }
    if (ctxOutSize > 0) {
      putU32(attr, o.ctx_size_out, ctxOutSize, "ctx out size");
      putPtr(attr, o.ctx_out, ctxOut);
    }
    putU32(attr, o.repeat, a.repeat ?? 0, "repeat");
    putU32(attr, o.flags, a.flags ?? 0, "test run flags");
    putU32(attr, o.cpu, a.cpu ?? 0, "cpu");
    putU32(attr, o.batch_size, a.batchSize ?? 0, "batch size");
    const ret = bpfRaw(Cmd.PROG_TEST_RUN, attr);
    void [dataIn, ctxIn];
    const needOut = attr.readUInt32LE(o.data_size_out);
    if (ret === -Errno.ENOSPC && tries === 0 && needOut > outSize) {
      outSize = needOut;
      continue;
    }
    if (ret < 0) throw bpfError(Cmd.PROG_TEST_RUN, -ret, ctx);
    return {
      retval: attr.readUInt32LE(o.retval),
      duration: attr.readUInt32LE(o.duration),
      dataOut: dataOut.subarray(0, Math.min(needOut, outSize)),
      ctxOut: ctxOut.subarray(0, Math.min(attr.readUInt32LE(o.ctx_size_out), ctxOutSize)),
    };
  }
}
