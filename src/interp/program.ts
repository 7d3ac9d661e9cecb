/**
 * A program in the interpreter: instructions compiled once to a JavaScript function, run on a
 * context built like the kernel's BPF_PROG_TEST_RUN builds it for the program type.
 */
import type { Instruction } from "../isa/insn.js";
import { type CompiledFn, generate, slotTable } from "./compile.js";
import { type InterpEnvironment, live, startEnvironment } from "./env.js";
import { InterpInvalidProgramError } from "./errors.js";
import "./helpers.js";
import { registerObject, unregisterObject } from "./maps.js";
import * as M from "./memory.js";
import { B, invoke, mulhu, R, type RunnableProgram, type TraceHook } from "./runtime.js";

/** Options of a run. */
export interface InterpRunOptions {
  /** packet data (skb and XDP programs), as BPF_PROG_TEST_RUN's data_in */
  data?: Uint8Array;
  /** the context (`struct __sk_buff`, `struct xdp_md`) given in, as ctx_in; the packet fields are filled in */
  ctx?: Uint8Array;
  /**
   * uBPF-style memory: r1 points at (a copy of) these bytes and r2 holds their length; for
   * program types without a test-run context ("raw")
   */
  memory?: Uint8Array;
  /** the helpers' world (pid, comm, time, CPU, random seed, probe memory) */
  env?: Partial<InterpEnvironment>;
  /** most instructions one run may execute (default 10,000,000) */
  budget?: number;
  /** called before every instruction with the registers (programs loaded with `trace: true`) */
  onStep?: TraceHook;
}

/** What a run returned. */
export interface InterpRunResult {
  /** r0 at exit, 64 bits */
  r0: bigint;
  /** r0's low 32 bits, as BPF_PROG_TEST_RUN's retval */
  retval: number;
  /** the packet as the program left it (from data to data_end) */
  dataOut: Uint8Array;
  /** the context after the run */
  ctxOut: Uint8Array;
  /** the uBPF-style memory after the run */
  memoryOut: Uint8Array;
  /** instructions executed */
  steps: number;
  /** bpf_trace_printk lines */
  printk: string[];
}

/** Options of {@link InterpProgram}. */
export interface InterpProgramOptions {
  /** program type as bpftool names it ("xdp", "socket_filter", "sched_cls", ...) or "raw" */
  type?: string;
  name?: string;
  /** compile with a call to the step hook before every instruction */
  trace?: boolean;
}

const XDP_HEADROOM = 256;
/** a zero-length array, shared by results without a context or memory (nothing can be written to it) */
const EMPTY = new Uint8Array(0);
const SKB_SIZE = 192; // sizeof(struct __sk_buff)
const XDP_MD_SIZE = 24;
const SKB_TYPES = new Set([
  "socket_filter",
  "sched_cls",
  "sched_act",
  "cgroup_skb",
  "lwt_in",
  "lwt_out",
  "lwt_xmit",
  "sk_skb",
]);
const L2_TYPES = new Set(["sched_cls", "sched_act"]);

/** A program compiled for the interpreter. */
export class InterpProgram implements RunnableProgram {
  readonly fn: CompiledFn;
  readonly bySlot: readonly (Instruction | undefined)[];
  readonly type: string;
  readonly name: string;
  readonly traced: boolean;
  /** the JavaScript the program was compiled to */
  readonly source: string;
  /** a descriptor number for prog arrays (not a kernel descriptor) */
  readonly fd: number;
  // the packet and context memory of the last run (reused by the next one of the same size)
  #packetBytes: Uint8Array | undefined;
  #ctxBytes: Uint8Array | undefined;

  constructor(insns: readonly Instruction[], options: InterpProgramOptions = {}) {
    this.type = options.type ?? "raw";
    this.name = options.name ?? "";
    this.traced = options.trace === true;
    this.bySlot = slotTable(insns);
    if (this.bySlot.length > 1_000_000)
      throw new InterpInvalidProgramError(
        -1,
        undefined,
        `${this.bySlot.length} instructions: more than the kernel's 1,000,000`,
      );
    this.source = generate(this.bySlot, this.traced);
    const factory = new Function(
      "R",
      "T",
      "B",
      "ldb",
      "ldh",
      "ldw",
      "ldd",
      "stb",
      "sth",
      "stw",
      "std",
      "mulhu",
      `return function run(slot, depth, a1l, a1h, a2l, a2h, a3l, a3h, a4l, a4h, a5l, a5h) {\n${this.source}\n};`,
    );
    this.fn = factory(R, M.T, B, M.ldb, M.ldh, M.ldw, M.ldd, M.stb, M.sth, M.stw, M.std, mulhu) as CompiledFn;
    this.fd = registerObject(this);
  }

  /** Forgets the descriptor number (prog arrays no longer find the program). */
  close(): void {
    unregisterObject(this.fd);
  }

  /** Runs the program once. */
  run(options: InterpRunOptions = {}): InterpRunResult {
    M.resetRegions();
    startEnvironment(options.env);
    B[0] = 0;
    B[1] = options.budget ?? 10_000_000;
    R.tail = false;
    R.tailCount = 0;
    R.depth = 0;
    R.traceHook = options.onStep;
    let r1l = 0;
    let r1h = 0;
    let r2l = 0;
    const r2h = 0;
    let packet: M.Region | undefined;
    let ctx: M.Region | undefined;
    let mem: M.Region | undefined;
    const data = options.data ?? EMPTY;
    if (this.type === "xdp") {
      // the packet and context memory of the last run are reused when the packet is as long
      // (a run's outputs are copies): a short program's run was mostly allocation
      const size = XDP_HEADROOM + data.byteLength;
      let buf = this.#packetBytes;
      if (buf === undefined || buf.byteLength !== size) buf = this.#packetBytes = new Uint8Array(size);
      else buf.fill(0, 0, XDP_HEADROOM);
      buf.set(data, XDP_HEADROOM);
      packet = M.setRegion(M.PACKET_ID, "packet", buf, true);
      packet.start = XDP_HEADROOM;
      const c = (this.#ctxBytes ??= new Uint8Array(XDP_MD_SIZE));
      c.fill(0);
      if (options.ctx) c.set(options.ctx.subarray(0, XDP_MD_SIZE));
      ctx = M.setRegion(M.CTX_ID, "context (struct xdp_md)", c, false);
      const lo = M.pointer(M.PACKET_ID, XDP_HEADROOM);
      const hi = M.T[0];
      const endLo = M.pointer(M.PACKET_ID, buf.byteLength);
      ctx.ptrs = new Map([
        [0, [hi, lo]],
        [4, [hi, endLo]],
        [8, [hi, lo]],
      ]);
    } else if (SKB_TYPES.has(this.type)) {
      const l2 = L2_TYPES.has(this.type);
      const start = l2 ? 0 : Math.min(14, data.byteLength);
      let buf = this.#packetBytes;
      if (buf === undefined || buf.byteLength !== data.byteLength)
        buf = this.#packetBytes = new Uint8Array(data.byteLength);
      buf.set(data);
      packet = M.setRegion(M.PACKET_ID, "packet", buf, this.type !== "socket_filter");
      packet.start = start;
      const c = (this.#ctxBytes ??= new Uint8Array(SKB_SIZE));
      c.fill(0);
      if (options.ctx) c.set(options.ctx.subarray(0, SKB_SIZE));
      const v = new DataView(c.buffer);
      v.setUint32(0, buf.byteLength - start, true); // len
      if (data.byteLength >= 14) v.setUint32(16, (data[12]! << 8) | data[13]!, true); // protocol, network order kept as the kernel shows it
      ctx = M.setRegion(M.CTX_ID, "context (struct __sk_buff)", c, true);
      const lo = M.pointer(M.PACKET_ID, start);
      const hi = M.T[0];
      const endLo = M.pointer(M.PACKET_ID, buf.byteLength);
      if (this.type !== "socket_filter")
        ctx.ptrs = new Map([
          [76, [hi, lo]],
          [80, [hi, endLo]],
          [140, [hi, lo]],
        ]);
    } else if (options.ctx) {
      ctx = M.setRegion(M.CTX_ID, "context", options.ctx.slice(), true);
    }
    if (options.memory !== undefined) {
      const bytes = options.memory.slice();
      const id = M.regionOf(bytes, "memory", true);
      mem = M.regions[id];
      r1l = M.pointer(id, 0);
      r1h = M.T[0];
      r2l = bytes.byteLength;
    } else if (ctx !== undefined) {
      r1l = M.pointer(M.CTX_ID, 0);
      r1h = M.T[0];
    }
    const saved = M.where.insns;
    R.prog = this;
    M.where.insns = this.bySlot;
    let lo: number;
    try {
      lo = this.fn(0, 0, r1l, r1h, r2l, r2h, 0, 0, 0, 0, 0, 0);
    } finally {
      M.where.insns = saved;
      R.traceHook = undefined;
    }
    const hi = M.T[0];
    const r0 = hi === 0 ? BigInt(lo >>> 0) : (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    let dataOut = new Uint8Array(0);
    if (packet !== undefined) {
      if (this.type === "xdp" || L2_TYPES.has(this.type))
        dataOut = packet.bytes.slice(packet.start, packet.end);
      else {
        // the kernel's bpf_prog_test_run_skb pushes the Ethernet header back for the types that
        // start at the network header, zeroed (memset(__skb_push(skb, hh_len), 0, hh_len))
        dataOut = packet.bytes.slice(0, packet.end);
        dataOut.fill(0, 0, packet.start);
      }
    }
    return {
      r0,
      retval: lo >>> 0,
      dataOut,
      ctxOut: ctx === undefined ? EMPTY : ctx.bytes.slice(),
      memoryOut: mem === undefined ? EMPTY : mem.bytes.slice(),
      steps: B[0],
      printk: live.printed,
    };
  }
}

export { invoke };
