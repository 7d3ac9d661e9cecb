/** `Program`: a loaded eBPF program, made from a spec, owning its descriptor. */
import { MemoryHandle } from "../interp/elemops.js";
import type { InterpEnvironment } from "../interp/env.js";
import { InterpProgram } from "../interp/program.js";
import { decode } from "../isa/decode.js";
import type { Instruction } from "../isa/insn.js";
import { Errno } from "../sys/errno.js";
import { BpfError, ClosedError, InputError } from "../sys/error.js";
import { duplicateFd, expectFdKind, Fd } from "../sys/fd.js";
import { enableStats, getFdById, objGet, objPin } from "../sys/obj.js";
import { MAX_LOG_SIZE, progLoad, progTestRun } from "../sys/prog.js";
import { type ProgramBtfOption, resolveLoadBtf } from "./btf.js";
import { type ProgramFunctions, programFunctions } from "./functions.js";
import { type ProgramInfo, programInfo } from "./info.js";
import { mapFdOf, type ProgramInstructions, programBytes } from "./instructions.js";
import { type ListedProgram, listPrograms } from "./list.js";
import { withCapability } from "./reject.js";
import { isVerifierRejection, ProgramRejectedError } from "./rejected.js";
import { parseVerifierStatistics, type VerifierStatistics } from "./stats.js";
import {
  type AttachType,
  attachTypeName,
  attachTypeNumber,
  loadPrivilege,
  minTestRunData,
  type ProgramType,
  programTypeName,
  programTypeNumber,
  testRunPacketProblem,
} from "./types.js";
import {
  type JitedProgram,
  programJited,
  programXlatedListing,
  type XlatedProgram,
  xlatedText,
} from "./xlated.js";

/** What a program is made from. */
export interface ProgramSpec {
  /** the program type as bpftool spells it: `"socket_filter"`, `"xdp"`, `"sched_cls"` ... */
  type: ProgramType | (string & {});
  /** the instructions: an Instruction[], a built or assembled program, or raw bytes */
  instructions: ProgramInstructions;
  /** the license; GPL-only helpers need a GPL-compatible one (default `"GPL"`) */
  license?: string;
  /** a name for `bpftool prog` and for errors: at most 15 characters of [A-Za-z0-9_.] */
  name?: string;
  /** the expected attach type, for program types that need one (`"cgroup_inet_ingress"`) */
  expectedAttachType?: AttachType | (string & {});
  /** the BTF id of the function or hook to attach to (tracing, lsm, struct_ops, ext) */
  attachBtfId?: number;
  /** the BTF object (module BTF fd) or program (for ext / freplace) `attachBtfId` refers to */
  attachTarget?: number | Fd | { readonly fd: number | Fd };
  /** BPF_F_* load flags (`prog_flags`) */
  flags?: number;
  /** maps the instructions refer to by name (`ld_imm64` with a map reference) */
  maps?: Readonly<Record<string, unknown>>;
  /**
   * The program's BTF, which func_info and line_info point into. Left out, rawbpf emits it from
   * the program's functions and source lines when the program needs it (bpf-to-bpf functions,
   * callbacks, assembly lines). `false` loads without any BTF, even when the kernel will refuse
   * (to see what it says: bpf_loop callbacks need func_info). A descriptor (a number, an `Fd`, an
   * object with `fd`) or a blob (`Uint8Array`, loaded for this load only) supplies it by hand,
   * with `funcInfo` and `lineInfo`.
   */
  btf?: ProgramBtfOption;
  /** bpf_func_info records (8 bytes each: insn offset, type id), with a hand-supplied `btf` */
  funcInfo?: Uint8Array;
  /** bpf_line_info records (16 bytes each), with a hand-supplied `btf` */
  lineInfo?: Uint8Array;
  /**
   * CO-RE relocations for the KERNEL to apply at load (`struct bpf_core_relo` records, 16 bytes
   * each: instruction byte offset, local type id, access string offset, kind; see
   * `encodeCoreRelocations`), against vmlinux and module BTF. Needs a hand-supplied `btf` (the
   * program's, holding the local types and access strings) with `funcInfo`: the kernel reads
   * core_relos only when func_info is given. rawbpf relocates in TypeScript itself
   * (`applyCoreRelocations`); this path is the kernel's, an oracle for it.
   */
  coreRelocations?: Uint8Array;
  /**
   * Verifier log level: 0 (only the statistics, the default), 1 (the path that failed), 2 (every
   * instruction and state). The statistics level (4) is always added.
   */
  logLevel?: number;
  /**
   * where the program runs: `"kernel"` (the default, BPF_PROG_LOAD) or `"memory"`, the in-process
   * interpreter (src/interp): no bpf() call, maps must be memory maps too, `testRun` runs it
   */
  backend?: "kernel" | "memory";
  /** initial size of the verifier log buffer; grown to what the kernel needs when too small */
  logSize?: number;
  /** check each instruction's encoding before the kernel sees it (default true) */
  check?: boolean;
  /**
   * Emit BTF func_info (and line_info) from the program's function list and source lines
   * (default: when it has more than one function or carries source lines, and no `btf` was
   * given). `emitBtf: false` is the same as `btf: false`.
   */
  emitBtf?: boolean;
}

/**
 * The kernel's EINVAL for a test-run packet it refuses for what the packet says
 * ({@link testRunPacketProblem}), with the reason: both back ends throw it alike.
 */
function refusedPacket(problem: string, what: string): BpfError {
  return new BpfError("BPF_PROG_TEST_RUN", Errno.EINVAL, { hint: problem }, what);
}

/** Options of {@link Program.testRun}. */
export interface TestRunOptions {
  /**
   * packet data in (for skb and XDP programs at least an Ethernet header, 14 bytes; for the
   * socket-buffer families, a packet whose Ethernet type says IPv4 or IPv6 also needs that whole
   * header, or the kernel refuses it with EINVAL, and the memory back end with it)
   */
  data?: Uint8Array;
  /** room for the data out (default: the size of `data` plus 256) */
  dataOutSize?: number;
  /** the context in (`struct __sk_buff`, `struct xdp_md`, or a syscall program's arguments) */
  ctx?: Uint8Array;
  /** room for the context out (default: the size of `ctx`) */
  ctxOutSize?: number;
  /** how many times to run (duration is the average); 0 or 1 runs once */
  repeat?: number;
  /** BPF_F_TEST_* flags */
  flags?: number;
  /** the CPU to run on (with BPF_F_TEST_RUN_ON_CPU) */
  cpu?: number;
  /**
   * memory back end only: what the helpers answer (pid, tgid, uid, gid, comm, the clock, the
   * CPU, the random seed, memory for `bpf_probe_read_*`); the kernel's helpers answer from the
   * real process, so a kernel program refuses this option
   */
  env?: Partial<InterpEnvironment>;
  /** memory back end only: the most instructions one run may execute (default 10,000,000) */
  budget?: number;
}

/** What a test run returned. */
export interface TestRunResult {
  /** the program's return value (r0) */
  retval: number;
  /** average run time in nanoseconds */
  duration: number;
  /** the data after the run (a packet as the program left it) */
  dataOut: Buffer;
  /** the context after the run */
  ctxOut: Buffer;
  /** memory back end only: instructions executed in the last run */
  steps?: number;
  /** memory back end only: the lines `bpf_trace_printk` wrote in the last run */
  printk?: string[];
}

/** A handle that keeps the kernel's run-time statistics enabled until it is closed. */
export interface StatsHandle extends Disposable {
  /** Turns the statistics off again (when no other handle keeps them on). */
  close(): void;
}

const NAME_RE = /^[A-Za-z0-9_.]*$/;

function checkUint(value: number | undefined, what: string, max: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new InputError(`${what} must be an integer from 0 to ${max}, got ${value}`);
  }
}

function fdOf(x: unknown, what: string): number | undefined {
  if (x === undefined) return undefined;
  const fd = mapFdOf(x);
  if (fd === undefined)
    throw new InputError(`${what} must be a descriptor or an object with an 'fd', got ${String(x)}`);
  return fd;
}

/**
 * A loaded eBPF program. Create one with {@link Program.load}, {@link Program.open} (a pinned
 * path) or {@link Program.fromId}. It owns its descriptor: `close()` (or `using`) releases it.
 */
export class Program implements Disposable {
  readonly #fd: Fd | MemoryHandle;
  readonly #interp: InterpProgram | undefined;
  /** the program type name (`"socket_filter"`) */
  readonly type: string;
  /** the verifier log of the load (at least the statistics lines; empty for opened programs) */
  readonly log: string;
  /** the verifier's statistics, parsed from the log; undefined for opened programs */
  readonly stats: VerifierStatistics | undefined;
  /** the instructions as loaded (after references were resolved), when they were given as instructions */
  readonly instructions: readonly Instruction[] | undefined;
  /** the number of 8-byte instruction slots loaded (0 for opened programs) */
  readonly insnCount: number;
  /**
   * the attach type the program was loaded with (`"trace_fentry"`), as bpftool names it; undefined
   * when none was given, and for opened programs (the kernel's program info does not report it)
   */
  readonly expectedAttachType: string | undefined;

  private constructor(
    fd: Fd | MemoryHandle,
    type: string,
    log: string,
    insns: readonly Instruction[] | undefined,
    insnCount: number,
    expectedAttachType?: string,
    interp?: InterpProgram,
  ) {
    this.#fd = fd;
    this.#interp = interp;
    this.type = type;
    this.expectedAttachType = expectedAttachType;
    this.log = log;
    this.stats = log ? parseVerifierStatistics(log) : undefined;
    this.instructions = insns;
    this.insnCount = insnCount;
  }

  /**
   * Loads a program. Bad input (an unknown type, no instructions, a name too long...) throws an
   * InputError before the kernel is asked. When the verifier refuses the program it throws a
   * {@link ProgramRejectedError} — a `VerifierError` with the parsed log (`log`, `log.text`), the
   * explanation, the errno name and the `BpfError` as `cause`; the log is asked again when none
   * was requested and grown when too small. Other refusals (no privilege, a bad attribute) throw
   * the `BpfError`.
   */
  static load(spec: ProgramSpec): Program {
    if (spec === null || typeof spec !== "object") throw new InputError("Program.load needs a spec object");
    const progType = programTypeNumber(spec.type);
    const typeName = programTypeName(progType);
    const name = spec.name;
    if (name !== undefined && (typeof name !== "string" || name.length > 15 || !NAME_RE.test(name))) {
      throw new InputError(
        `program name '${String(name)}' is not accepted by the kernel: at most 15 characters of letters, digits, '_' and '.'`,
      );
    }
    const logLevel = spec.logLevel ?? 0;
    if (!Number.isInteger(logLevel) || logLevel < 0 || logLevel > 7) {
      throw new InputError(`log level must be 0, 1, 2 (or with 4 for statistics), got ${logLevel}`);
    }
    checkUint(spec.logSize, "log size", MAX_LOG_SIZE);
    if (spec.logSize !== undefined && spec.logSize < 1)
      throw new InputError("log size must be at least 1 byte");
    checkUint(spec.flags, "program flags", 0xffffffff);
    checkUint(spec.attachBtfId, "attach BTF id", 0xffffffff);
    const license = spec.license ?? "GPL";
    if (typeof license !== "string" || license.includes("\0"))
      throw new InputError("license must be a string without NUL bytes");
    const expected =
      spec.expectedAttachType === undefined ? undefined : attachTypeNumber(spec.expectedAttachType);
    const { bytes, insns } = programBytes(spec.instructions, {
      maps: spec.maps,
      ...(spec.check === undefined ? {} : { check: spec.check }),
    });
    if (spec.backend === "memory") {
      const interp = new InterpProgram(insns ?? decode(bytes), {
        type: typeName,
        ...(name === undefined ? {} : { name }),
      });
      return new Program(
        new MemoryHandle(interp.fd),
        typeName,
        "",
        insns,
        bytes.byteLength / 8,
        undefined,
        interp,
      );
    }
    if (spec.backend !== undefined && spec.backend !== "kernel")
      throw new InputError(`backend must be "kernel" or "memory", got ${JSON.stringify(spec.backend)}`);
    const attachFd = fdOf(spec.attachTarget, "attach target");
    const btf = resolveLoadBtf(spec.instructions, spec.btf, {
      funcInfo: spec.funcInfo,
      lineInfo: spec.lineInfo,
      emit: spec.emitBtf,
    });
    const btfFd = btf.fd;
    const core = spec.coreRelocations;
    if (core !== undefined) {
      if (!(core instanceof Uint8Array) || core.byteLength % 16 !== 0) {
        btf.release();
        throw new InputError("coreRelocations must be a Uint8Array of whole 16-byte bpf_core_relo records");
      }
      if (core.byteLength > 0 && (btfFd === undefined || !btf.funcInfo)) {
        btf.release();
        throw new InputError(
          "coreRelocations need the program's BTF ('btf', holding the local types and access strings) and 'funcInfo': the kernel ignores core_relos without func_info",
        );
      }
    }
    const { funcInfo, lineInfo } = btf;
    const what = name ? `program '${name}'` : `${typeName} program`;
    let result: ReturnType<typeof progLoad>;
    try {
      result = progLoad(
        {
          progType,
          insns: bytes,
          license,
          logLevel,
          ...(spec.logSize === undefined ? {} : { logSize: spec.logSize }),
          ...(spec.flags === undefined ? {} : { progFlags: spec.flags }),
          ...(name === undefined ? {} : { name }),
          ...(expected === undefined ? {} : { expectedAttachType: expected }),
          ...(spec.attachBtfId === undefined ? {} : { attachBtfId: spec.attachBtfId }),
          ...(attachFd === undefined ? {} : { attachProgFd: attachFd }),
          ...(btfFd === undefined ? {} : { progBtfFd: btfFd }),
          ...(funcInfo ? { funcInfo } : {}),
          ...(lineInfo ? { lineInfo } : {}),
          ...(core && core.byteLength > 0 ? { coreRelos: core } : {}),
        },
        { privilege: loadPrivilege(typeName), what },
      );
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
      const error = withCapability(e, what);
      if (isVerifierRejection(error)) throw new ProgramRejectedError(error, what, insns ?? bytes);
      throw error;
    } finally {
      btf.release();
    }
    return new Program(
      new Fd(result.fd, what),
      typeName,
      result.log,
      insns,
      bytes.byteLength / 8,
      expected === undefined ? undefined : attachTypeName(expected),
    );
  }

  /** Opens the program pinned at `path` in a bpffs. */
  static open(path: string): Program {
    if (typeof path !== "string" || path.length === 0)
      throw new InputError("a pin path must be a non-empty string");
    const fd = objGet(path, 0, { what: `program pinned at ${path}` });
    return Program.#adopt(fd, `program pinned at ${path}`);
  }

  /**
   * Every program loaded in the kernel (its info, memlock and whole name), in id order, as
   * `bpftool prog list` shows them; programs unloaded while listing are left out. Needs
   * CAP_SYS_ADMIN.
   */
  static list(): ListedProgram[] {
    return listPrograms();
  }

  /** Opens the loaded program with id `id` (needs CAP_SYS_ADMIN). */
  static fromId(id: number): Program {
    checkUint(id, "program id", 0xffffffff);
    const fd = getFdById("prog", id, 0, { what: `program id ${id}` });
    return Program.#adopt(fd, `program id ${id}`);
  }

  /**
   * A Program for the program that descriptor `fd` of this process refers to (one passed by a
   * parent process, say). `fd` stays the caller's: the Program owns a duplicate of it, so closing
   * the Program never closes `fd`, and closing `fd` never pulls the program from under the Program.
   * @throws InputError when `fd` is not open or refers to something else than a BPF program
   *   ("fd 18 is /etc/hostname, not a BPF program"); `fd` is left as it was
   */
  static fromFd(fd: number): Program {
    expectFdKind(fd, "prog");
    return Program.#adopt(duplicateFd(fd, `program fd ${fd}`), `program fd ${fd}`);
  }

  /** Takes ownership of a program descriptor we made (closed again if it is not a program). */
  static #adopt(fd: number, what: string): Program {
    const owner = new Fd(fd, what);
    let type: string;
    try {
      expectFdKind(fd, "prog");
      type = programInfo(fd).type;
    } catch (e) {
      owner.close();
      throw e;
    }
    return new Program(owner, type, "", undefined, 0);
  }

  /**
   * Enables the kernel's run-time statistics (run count and run time in {@link Program.info})
   * until the returned handle is closed or disposed.
   */
  static enableStats(): StatsHandle {
    const fd = new Fd(enableStats(), "run-time statistics");
    return {
      close: () => fd.close(),
      [Symbol.dispose]: () => fd.close(),
    };
  }

  /** The descriptor number (throws ClosedError after close). */
  get fd(): number {
    return this.#fd.value;
  }

  /** `"memory"` when the interpreter runs this program, else `"kernel"`. */
  get backend(): "kernel" | "memory" {
    return this.#interp === undefined ? "kernel" : "memory";
  }

  /** Whether close() has been called. */
  get closed(): boolean {
    return this.#fd.closed;
  }

  /**
   * Runs the program once (or `repeat` times) on the given data and context with
   * BPF_PROG_TEST_RUN, and returns what it returned and how it left the data.
   */
  testRun(options: TestRunOptions = {}): TestRunResult {
    const { data, ctx } = options;
    if (data !== undefined && !(data instanceof Uint8Array))
      throw new InputError("test run data must be a Uint8Array");
    if (ctx !== undefined && !(ctx instanceof Uint8Array))
      throw new InputError("test run ctx must be a Uint8Array");
    const min = minTestRunData(this.type);
    if (min > 0 && (data?.byteLength ?? 0) < min) {
      throw new InputError(
        `a ${this.type} program needs at least ${min} bytes of test data (an Ethernet header), got ${data?.byteLength ?? 0}`,
      );
    }
    checkUint(options.dataOutSize, "data out size", 0xffffffff);
    checkUint(options.ctxOutSize, "ctx out size", 0xffffffff);
    checkUint(options.repeat, "repeat", 0xffffffff);
    checkUint(options.flags, "test run flags", 0xffffffff);
    checkUint(options.cpu, "cpu", 0xffffffff);
    const interp = this.#interp;
    if (interp === undefined && (options.env !== undefined || options.budget !== undefined))
      throw new InputError(
        `${options.env !== undefined ? "env" : "budget"} is an option of the memory back end (Program.load({ backend: "memory" })): the kernel's helpers answer from the real process, and the verifier bounds the run`,
      );
    const packetProblem = testRunPacketProblem(this.type, data);
    if (interp !== undefined) {
      if (this.#fd.closed) throw new ClosedError(`${this.type} program (memory)`);
      // refused as the kernel refuses it, so that the two back ends agree
      if (packetProblem !== undefined) throw refusedPacket(packetProblem, `${this.type} program (memory)`);
      checkUint(options.budget, "budget", Number.MAX_SAFE_INTEGER);
      if (options.env !== undefined && (typeof options.env !== "object" || options.env === null))
        throw new InputError(
          "test run env must be an object (pid, tgid, comm, timeNs, cpu, seed, memory ...)",
        );
      const times = Math.max(options.repeat ?? 1, 1);
      const env = options.cpu === undefined ? options.env : { ...options.env, cpu: options.cpu };
      const run = {
        ...(data ? { data } : {}),
        ...(ctx ? { ctx } : {}),
        ...(env === undefined ? {} : { env }),
        ...(options.budget === undefined ? {} : { budget: options.budget }),
      };
      const t0 = process.hrtime.bigint();
      let r = interp.run(run);
      for (let k = 1; k < times; k++) r = interp.run(run);
      const duration = Number((process.hrtime.bigint() - t0) / BigInt(times));
      return {
        retval: r.retval,
        duration,
        dataOut: Buffer.from(r.dataOut),
        ctxOut: Buffer.from(r.ctxOut),
        steps: r.steps,
        printk: r.printk,
      };
    }
    const r = this.#kernelTestRun(options, packetProblem);
    return { retval: r.retval, duration: r.duration, dataOut: r.dataOut, ctxOut: r.ctxOut };
  }

  /** BPF_PROG_TEST_RUN; the kernel's EINVAL for a packet it refuses for what it says, with the reason. */
  #kernelTestRun(options: TestRunOptions, packetProblem: string | undefined) {
    const { data, ctx } = options;
    try {
      return progTestRun(
        {
          fd: this.fd,
          ...(data ? { dataIn: data } : {}),
          ...(options.dataOutSize === undefined ? {} : { dataSizeOut: options.dataOutSize }),
          ...(ctx ? { ctxIn: ctx } : {}),
          ...(options.ctxOutSize === undefined ? {} : { ctxSizeOut: options.ctxOutSize }),
          ...(options.repeat === undefined ? {} : { repeat: options.repeat }),
          ...(options.flags === undefined ? {} : { flags: options.flags }),
          ...(options.cpu === undefined ? {} : { cpu: options.cpu }),
        },
        { what: `${this.type} program` },
      );
    } catch (e) {
      if (packetProblem !== undefined && e instanceof BpfError && e.errno === Errno.EINVAL)
        throw refusedPacket(packetProblem, `${this.type} program`);
      throw e;
    }
  }

  /** What the kernel says about this program: id, name, tag, sizes, maps, run statistics. */
  info(): ProgramInfo {
    return programInfo(this.fd);
  }

  /**
   * The program's functions as the kernel knows them: names and linkage from its BTF (none when
   * it was loaded without BTF), where each starts, and the JIT-compiled addresses.
   */
  functions(): ProgramFunctions {
    return programFunctions(this.fd);
  }

  /**
   * The instructions as the kernel runs them after the verifier's rewrites, each with its text
   * (maps as `map[id:N]`, helpers by kernel symbol), the function and source line that start there
   * (from the program's BTF func_info and line_info) and the map it refers to, as
   * `bpftool prog dump xlated` shows them. Empty when the kernel withholds them.
   */
  xlated(): XlatedProgram {
    return programXlatedListing(this.fd);
  }

  /**
   * The translated instructions as text, each function's name above its code and each source
   * line of the program's line_info (read back from the kernel with its BTF) as a `; ` comment
   * above the instructions it starts: a program compiled from TypeScript shows its TypeScript
   * lines, a clang object built with -g its C lines; `bpftool prog dump xlated` prints the same.
   * With `lineNumbers`, each comment ends in `[file:F line_num:N line_col:C]` (bpftool's `linum`).
   * Empty when the kernel withholds the instructions.
   */
  disassemble(options: { lineNumbers?: boolean } = {}): string {
    return xlatedText(programXlatedListing(this.fd), { lineNumbers: options.lineNumbers === true });
  }

  /** The JIT-compiled machine code and its functions (empty when not JIT-compiled or hidden). */
  jited(): JitedProgram {
    return programJited(this.fd);
  }

  /** Pins the program at `path` in a bpffs (it then outlives this process). */
  pin(path: string): void {
    if (typeof path !== "string" || path.length === 0)
      throw new InputError("a pin path must be a non-empty string");
    objPin(this.fd, path, { what: `program at ${path}` });
  }

  /** Closes the descriptor; a second call does nothing. */
  close(): void {
    this.#fd.close();
  }

  /** The same as `close()`, for `using`: released when the block that declared it ends. */
  [Symbol.dispose](): void {
    this.#fd.close();
  }
}
