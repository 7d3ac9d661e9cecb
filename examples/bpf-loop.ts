/**
 * bpf-loop: the helper bpf_loop calls a function of the program N times. The function is passed
 * as a pointer — `ld_imm64` with source 4 (BPF_PSEUDO_FUNC), `r2 = add_index` — and the verifier
 * only accepts that with BTF: without func_info it stops at that instruction with "missing btf
 * func_info". With the BTF rawbpf emits (the callback a static FUNC), the same bytes load, and a
 * test run sums 1..N in the callback into an 8-byte stack slot whose address the callback gets as
 * its context.
 *
 * Run alone: `node --import tsx examples/bpf-loop.ts`
 */
import {
  add,
  call,
  exit,
  ldFunc,
  ldx,
  mov,
  Program,
  ProgramBuilder,
  ProgramRejectedError,
  R0,
  R1,
  R2,
  R3,
  R4,
  R10,
  st,
  stx,
} from "../src/index.js";
import { type Log, runIfMain } from "./main.js";

/** How many times the callback runs by default. */
export const LOOPS = 100;

/** What the demo saw. */
export interface BpfLoopResult {
  /** the verifier's closing message without BTF ("missing btf func_info") */
  withoutBtf: { errno: string; message: string; insnText: string | undefined; log: string };
  /** what the program returned when loaded with BTF and run */
  retval: number;
  /** what it should return: 1 + 2 + ... + loops */
  expected: number;
  loops: number;
}

/**
 * `sum_loop`: `*(u64 *)(r10 - 8) = 0; bpf_loop(loops, add_index, r10 - 8, 0); return *(r10 - 8)`,
 * and `add_index(index, ctx)`: `*(u64 *)ctx += index + 1; return 0` (0 continues the loop).
 */
export function buildSumLoop(loops = LOOPS): ReturnType<ProgramBuilder["build"]> {
  const b = new ProgramBuilder("sum_loop");
  b.emit(
    st("dw", R10, -8, 0), // the sum, on the stack
    mov(R1, loops), // nr_loops
    ldFunc(R2, "add_index"), // callback_fn: ld_imm64 src=4
    mov(R3, R10), // callback_ctx = &sum
    add(R3, -8),
    mov(R4, 0), // flags
    call("bpf_loop"),
    ldx("dw", R0, R10, -8),
    exit(),
  );
  b.function("add_index", (f) =>
    f.emit(
      // r1 = index (0..loops-1), r2 = ctx (&sum)
      ldx("dw", R3, R2, 0),
      add(R3, R1),
      add(R3, 1),
      stx("dw", R2, 0, R3),
      mov(R0, 0),
      exit(),
    ),
  );
  return b.build();
}

export async function run(log: Log, loops = LOOPS): Promise<BpfLoopResult> {
  const built = buildSumLoop(loops);
  const pointer = built.insns.findIndex((i) => i.ref?.kind === "func");
  log(
    `built 'sum_loop': bpf_loop(${loops}, add_index, &sum, 0); add_index starts at slot ` +
      `${built.functions[1]!.startSlot} and is passed by pointer (instruction ${pointer}: ld_imm64 src=4)`,
  );

  let withoutBtf: BpfLoopResult["withoutBtf"] | undefined;
  try {
    Program.load({ type: "socket_filter", name: "sum_loop", instructions: built, btf: false, logLevel: 1 });
  } catch (e) {
    if (!(e instanceof ProgramRejectedError) || !e.explanation) throw e;
    withoutBtf = {
      errno: e.errnoName,
      message: e.explanation.message,
      insnText: e.explanation.insnText,
      log: e.log.text,
    };
  }
  if (!withoutBtf)
    throw new Error("the kernel accepted a callback without BTF: this kernel behaves differently");
  log("loaded with btf: false, the kernel refuses:");
  log(
    `  ${withoutBtf.errno}: "${withoutBtf.message}"${withoutBtf.insnText ? ` at \`${withoutBtf.insnText}\`` : ""}`,
  );
  log("  (a function pointer must name a function the BTF describes: func_info is how it does)");

  using program = Program.load({ type: "socket_filter", name: "sum_loop", instructions: built });
  const fns = program.functions();
  log(
    `loaded with rawbpf's BTF (id ${fns.btfId}): ${fns.functions.map((f) => `${f.linkage} ${f.name}`).join(", ")}`,
  );
  const retval = program.testRun({ data: Buffer.alloc(14) }).retval;
  const expected = (loops * (loops + 1)) / 2;
  log(`test run returned ${retval}; 1 + 2 + ... + ${loops} = ${expected}`);
  return { withoutBtf, retval, expected, loops };
}

runIfMain(import.meta.url, (log) => run(log));
