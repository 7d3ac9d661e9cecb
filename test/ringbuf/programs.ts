/**
 * Programs that write ring buffer records, for the ring buffer tests and bench. They are socket
 * filters run with BPF_PROG_TEST_RUN: when a test run returns, the kernel has written the records.
 *
 * Both keep their state in an array map of one 16-byte value: a u64 sequence number (each run
 * takes the next one) and a u64 count of the runs whose ring buffer helper failed (no room).
 */

import {
  add,
  atomic,
  call,
  exit,
  ja,
  jeq,
  jgt,
  jne,
  jsge,
  ldFunc,
  ldMapFd,
  ldx,
  lsh,
  mod,
  mov,
  mul,
  ProgramBuilder,
  R0,
  R1,
  R2,
  R3,
  R4,
  R7,
  R8,
  R9,
  R10,
  st,
  stx,
} from "../../src/isa/builder/index.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";

/** Offsets of the state value's fields. */
const SEQ = 0;
const FAILED = 8;
const CONS_POS = 16;
const PROD_POS = 24;
const STATE_SIZE = 32;

/** The state map: one value of four u64 (sequence, failures, and two positions the big-record program reads). */
export function stateMap(): BpfMap {
  return BpfMap.create({ type: "array", keySize: 4, valueSize: STATE_SIZE, maxEntries: 1 });
}

/** The state's sequence number (how many runs took one) and failure count. */
export function readState(state: BpfMap): { seq: number; failed: number } {
  const v = state.get(Buffer.alloc(4)) as Buffer;
  return { seq: Number(v.readBigUInt64LE(SEQ)), failed: Number(v.readBigUInt64LE(FAILED)) };
}

/** The ring's consumer and producer positions as the kernel saw them (bpf_ringbuf_query) in the last run of `bigRecordProgram`. */
export function readPositions(state: BpfMap): { consumer: bigint; producer: bigint } {
  const v = state.get(Buffer.alloc(4)) as Buffer;
  return { consumer: v.readBigUInt64LE(CONS_POS), producer: v.readBigUInt64LE(PROD_POS) };
}

/** Sets the state: sequence `seq`, everything else zero. */
export function resetState(state: BpfMap, seq = 0): void {
  const v = Buffer.alloc(STATE_SIZE);
  v.writeBigUInt64LE(BigInt(seq), SEQ);
  state.set(Buffer.alloc(4), v);
}

/** Runs the program `runs` times in one test run; data is the smallest packet a socket filter takes. */
export function runTimes(program: Program, runs: number): void {
  program.testRun({ data: Buffer.alloc(14), repeat: runs });
}

/** A map as the builder refers to it. */
export interface Named {
  readonly name: string;
  readonly fd: number;
}

/** Emits: r7 = the state value (or exit), r8 = the next sequence number. */
export function takeSequence(b: ProgramBuilder, state: Named): void {
  b.emit(
    st("w", R10, -52, 0),
    mov(R2, R10),
    add(R2, -52),
    ldMapFd(R1, state),
    call("bpf_map_lookup_elem"),
    jeq(R0, 0, "out"),
    mov(R7, R0),
    mov(R8, 1),
    atomic.fetchAdd("dw", R7, SEQ, R8),
  );
}

/** Emits the failure count and the exit. */
export function countFailureAndExit(b: ProgramBuilder): void {
  b.label("failed").emit(mov(R1, 1), atomic.add("dw", R7, FAILED, R1));
  b.label("out").emit(mov(R0, 0), exit());
}

/**
 * `output`: record number `seq` is `1 + (seq % 7) * 5` bytes (1, 6, 11 ... 31: not multiples of
 * 8) of five u64 words `(seq << 4) + k` (k = 0..4), written with bpf_ringbuf_output. A failed
 * output counts in the state's failures. See {@link expectedRecord}.
 */
export function outputProgram(ring: Named, state: Named): Program {
  const b = new ProgramBuilder("rb_output");
  takeSequence(b, state);
  writeRecord(b);
  b.emit(
    ldMapFd(R1, ring),
    mov(R2, R10),
    add(R2, -48),
    mov(R3, R9),
    mov(R4, 0),
    call("bpf_ringbuf_output"),
    jsge(R0, 0, "out"),
    ja("failed"),
  );
  countFailureAndExit(b);
  return Program.load({ type: "socket_filter", name: "rb_output", instructions: b.build() });
}

/**
 * Emits the record of sequence number r8 on the stack: five u64 words `(seq << 4) + k` at
 * r10 - 48, and its size `1 + (seq % 7) * 5` in r9 (see {@link expectedRecord}).
 */
export function writeRecord(b: ProgramBuilder): void {
  b.emit(mov(R1, R8), lsh(R1, 4));
  for (let k = 0; k < 5; k++) b.emit(stx("dw", R10, -48 + 8 * k, R1), add(R1, 1));
  b.emit(
    mov(R9, R8),
    mod(R9, 7),
    mul(R9, 5),
    add(R9, 1),
    jgt(R9, 40, "out"), // never taken: it tells the verifier the size is at most 40 (it does not follow %)
  );
}

/** The bytes `outputProgram` writes for sequence number `seq`. */
export function expectedRecord(seq: number): Uint8Array {
  const words = Buffer.alloc(40);
  for (let k = 0; k < 5; k++) words.writeBigUInt64LE((BigInt(seq) << 4n) + BigInt(k), 8 * k);
  return new Uint8Array(words.subarray(0, 1 + (seq % 7) * 5));
}

/**
 * `reserve`: reserves 16 bytes with bpf_ringbuf_reserve, writes `seq` and `seq * 3` (u64), then
 * discards the record when `seq % 3 == 2` (bpf_ringbuf_discard) and submits it otherwise. A
 * failed reservation counts in the state's failures.
 */
export function reserveProgram(ring: Named, state: Named): Program {
  const b = new ProgramBuilder("rb_reserve");
  takeSequence(b, state);
  b.emit(
    ldMapFd(R1, ring),
    mov(R2, 16),
    mov(R3, 0),
    call("bpf_ringbuf_reserve"),
    jne(R0, 0, "got"),
    ja("failed"),
  );
  b.label("got").emit(
    stx("dw", R0, 0, R8),
    mov(R1, R8),
    mul(R1, 3),
    stx("dw", R0, 8, R1),
    mov(R1, R0),
    mov(R2, R8),
    mod(R2, 3),
    jeq(R2, 2, "discard"),
    mov(R2, 0),
    call("bpf_ringbuf_submit"),
    ja("out"),
  );
  b.label("discard").emit(mov(R2, 0), call("bpf_ringbuf_discard"), ja("out"));
  countFailureAndExit(b);
  return Program.load({ type: "socket_filter", name: "rb_reserve", instructions: b.build() });
}

/**
 * `big`: reserves one record of `size` bytes (8 to the ring's size minus 8), writes `seq` (u64)
 * at its start and submits it, leaving the rest as the ring had it (no copy: big records are
 * cheap). It then asks the kernel for the ring's consumer and producer positions
 * (bpf_ringbuf_query) into the state. A failed reservation counts in the state's failures.
 */
export function bigRecordProgram(ring: Named, state: Named, size: number): Program {
  const b = new ProgramBuilder("rb_big");
  takeSequence(b, state);
  b.emit(
    ldMapFd(R1, ring),
    mov(R2, size),
    mov(R3, 0),
    call("bpf_ringbuf_reserve"),
    jne(R0, 0, "got"),
    ja("failed"),
  );
  b.label("got").emit(
    stx("dw", R0, 0, R8),
    mov(R1, R0),
    mov(R2, 0),
    call("bpf_ringbuf_submit"),
    ldMapFd(R1, ring),
    mov(R2, 2), // BPF_RB_CONS_POS
    call("bpf_ringbuf_query"),
    stx("dw", R7, CONS_POS, R0),
    ldMapFd(R1, ring),
    mov(R2, 3), // BPF_RB_PROD_POS
    call("bpf_ringbuf_query"),
    stx("dw", R7, PROD_POS, R0),
    ja("out"),
  );
  countFailureAndExit(b);
  return Program.load({ type: "socket_filter", name: "rb_big", instructions: b.build() });
}

/** How many bpf_loop calls of at most 2^23 iterations `holdProgram` makes while it waits. */
const HOLD_LOOPS = 128;

/**
 * `hold`: reserves an 8-byte record, writes HOLD_MARK (u64) into it, then waits, holding the record
 * reserved and not submitted (its header has the BUSY bit), until the u64 in `flag` (an array map
 * of one u64) is non-zero, and only then submits it. It waits in bpf_loop, checking the flag at
 * each iteration, so it never waits long past the flag, and gives up after 2^30 checks (about a second here; it
 * submits then too). Returns 0, or 1 when the reservation failed.
 */
export function holdProgram(ring: Named, flag: Named): Program {
  const b = new ProgramBuilder("rb_hold");
  b.emit(
    ldMapFd(R1, ring),
    mov(R2, 8),
    mov(R3, 0),
    call("bpf_ringbuf_reserve"),
    jne(R0, 0, "got"),
    mov(R0, 1),
    exit(),
  );
  b.label("got").emit(mov(R9, R0), mov(R1, HOLD_MARK), stx("dw", R9, 0, R1));
  for (let i = 0; i < HOLD_LOOPS; i++) {
    b.emit(mov(R1, 1 << 23), ldFunc(R2, "flag_unset"), mov(R3, 0), mov(R4, 0), call("bpf_loop"));
  }
  b.emit(mov(R1, R9), mov(R2, 0), call("bpf_ringbuf_submit"), mov(R0, 0), exit());
  // flag_unset(index, ctx): 0 (go on) while the flag is 0, 1 (stop) once it is set
  b.function("flag_unset", (f) => {
    f.emit(
      st("w", R10, -4, 0),
      mov(R2, R10),
      add(R2, -4),
      ldMapFd(R1, flag),
      call("bpf_map_lookup_elem"),
      jeq(R0, 0, "stop"),
      ldx("dw", R1, R0, 0),
      jne(R1, 0, "stop"),
      mov(R0, 0),
      exit(),
    );
    f.label("stop").emit(mov(R0, 1), exit());
  });
  return Program.load({ type: "socket_filter", name: "rb_hold", instructions: b.build() });
}

/** What `holdProgram`'s record holds. */
export const HOLD_MARK = 0xb05e;
