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
  call,
  exit,
  ja,
  jeq,
  jsge,
  ldMapFd,
  mov,
  mov32,
  ProgramBuilder,
  R0,
  R1,
  R2,
  R3,
  R4,
  R5,
  R6,
  R9,
  R10,
  st,
} from "../../src/isa/builder/index.js";
import { Program } from "../../src/program/program.js";

import { countFailureAndExit, type Named, takeSequence, writeRecord } from "../ringbuf/programs.js";

export { expectedRecord, readState, resetState, runTimes, stateMap } from "../ringbuf/programs.js";

/**
 * `output`: sample number `seq` is `1 + (seq % 7) * 5` bytes (1, 6, 11 ... 31: not multiples of
 * 8) of five u64 words `(seq << 4) + k` (k = 0..4), written with
 * bpf_perf_event_output(ctx, map, BPF_F_CURRENT_CPU, data, size), as `expectedRecord(seq)`.
 * A failed output counts in the state's failures.
 */
export function perfOutputProgram(events: Named, state: Named): Program {
  const b = new ProgramBuilder("perf_output");
  b.emit(mov(R6, R1)); // the context, for the helper
  takeSequence(b, state);
  writeRecord(b);
  b.emit(
    mov(R1, R6),
    ldMapFd(R2, events),
    mov32(R3, -1), // BPF_F_CURRENT_CPU (0xffffffff, zero-extended: no ctx bytes)
    mov(R4, R10),
    add(R4, -48),
    mov(R5, R9),
    call("bpf_perf_event_output"),
    jsge(R0, 0, "out"),
    ja("failed"),
  );
  countFailureAndExit(b);
  return Program.load({ type: "socket_filter", name: "perf_output", instructions: b.build() });
}

/** The raw size the kernel gives a sample of `n` bytes: padded so that its u32 size and data end 8-aligned. */
export function paddedSize(n: number): number {
  return ((n + 4 + 7) & ~7) - 4;
}

/**
 * A program that writes the first `size` bytes of the value of `data` (key 0) as one sample,
 * and returns what bpf_perf_event_output returned (0, or a negative errno).
 */
export function valueOutputProgram(events: Named, data: Named, size: number): Program {
  const b = new ProgramBuilder("perf_value");
  b.emit(
    mov(R6, R1),
    st("w", R10, -4, 0),
    mov(R2, R10),
    add(R2, -4),
    ldMapFd(R1, data),
    call("bpf_map_lookup_elem"),
    jeq(R0, 0, "out"),
    mov(R4, R0),
    mov(R1, R6),
    ldMapFd(R2, events),
    mov32(R3, -1), // BPF_F_CURRENT_CPU
    mov(R5, size),
    call("bpf_perf_event_output"),
    exit(),
  );
  b.label("out").emit(mov(R0, 1), exit());
  return Program.load({ type: "socket_filter", name: "perf_value", instructions: b.build() });
}
