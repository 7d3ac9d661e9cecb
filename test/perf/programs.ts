/**
 * A program that writes perf event samples, for the perf buffer tests. It is a socket filter run
 * with BPF_PROG_TEST_RUN: the test run runs it on the CPU the calling thread is on, and when it
 * returns the kernel has written the samples into that CPU's ring.
 *
 * It keeps its state in the ring buffer tests' state map (test/ringbuf/programs.ts): a u64
 * sequence number (each run takes the next one) and a u64 count of runs whose helper failed.
 */
import {
  add,
  atomic,
  call,
  exit,
  jeq,
  jgt,
  jsge,
  ldMapFd,
  lsh,
  mod,
  mov,
  mov32,
  mul,
  ProgramBuilder,
  R0,
  R1,
  R2,
  R3,
  R4,
  R5,
  R6,
  R7,
  R8,
  R9,
  R10,
  st,
  stx,
} from "../../src/isa/builder/index.js";
import { Program } from "../../src/program/program.js";

export { expectedRecord, readState, resetState, runTimes, stateMap } from "../ringbuf/programs.js";

interface Named {
  readonly name: string;
  readonly fd: number;
}

/**
 * `output`: sample number `seq` is `1 + (seq % 7) * 5` bytes (1, 6, 11 ... 31: not multiples of
 * 8) of five u64 words `(seq << 4) + k` (k = 0..4), written with
 * bpf_perf_event_output(ctx, map, BPF_F_CURRENT_CPU, data, size), as `expectedRecord(seq)`.
 * A failed output counts in the state's failures.
 */
export function perfOutputProgram(events: Named, state: Named): Program {
  const b = new ProgramBuilder("perf_output");
  b.emit(
    mov(R6, R1),
    st("w", R10, -52, 0),
    mov(R2, R10),
    add(R2, -52),
    ldMapFd(R1, state),
    call("bpf_map_lookup_elem"),
    jeq(R0, 0, "out"),
    mov(R7, R0),
    mov(R8, 1),
    atomic.fetchAdd("dw", R7, 0, R8),
    mov(R1, R8),
    lsh(R1, 4),
  );
  for (let k = 0; k < 5; k++) b.emit(stx("dw", R10, -48 + 8 * k, R1), add(R1, 1));
  b.emit(
    mov(R9, R8),
    mod(R9, 7),
    mul(R9, 5),
    add(R9, 1),
    jgt(R9, 40, "out"), // never taken: it tells the verifier the size is at most 40
    mov(R1, R6),
    ldMapFd(R2, events),
    mov32(R3, -1), // BPF_F_CURRENT_CPU (0xffffffff, zero-extended: no ctx bytes)
    mov(R4, R10),
    add(R4, -48),
    mov(R5, R9),
    call("bpf_perf_event_output"),
    jsge(R0, 0, "out"),
    mov(R1, 1),
    atomic.add("dw", R7, 8, R1),
  );
  b.label("out").emit(mov(R0, 0), exit());
  return Program.load({ type: "socket_filter", name: "perf_output", instructions: b.build() });
}

/** The raw size the kernel gives a sample of `n` bytes: padded so that its u32 size and data end 8-aligned. */
export function paddedSize(n: number): number {
  return ((n + 4 + 7) & ~7) - 4;
}
