/**
 * Differential runs of bpf_loop callbacks and bpf-to-bpf calls: random ALU bodies in a callback
 * (run a random number of times, breaking at a random index) and in a subprogram, assembled with
 * `.callback`/`.func` (the kernel gets func_info from the assembler's BTF), run with
 * BPF_PROG_TEST_RUN and in the interpreter: the same return value (all 64 bits of r0 folded in).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { assemble } from "../../src/isa/asm/index.js";
import { loadAssembled } from "../../src/program/assembled.js";
import { needsRoot } from "../support/privilege.js";

const RUNS = Number(process.env.DIFF_RUNS ?? 1500) / 5;

const imm = fc.oneof(
  fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  fc.constantFrom(0, 1, -1, 7, 31, 32, 63, 0x7fffffff, -0x80000000),
);
const OPS = ["+=", "-=", "*=", "&=", "|=", "^=", "<<=", ">>=", "s>>=", "/=", "%=", "="];

/** One ALU statement over `regs` (64- or 32-bit, register or immediate source). */
const statement = (regs: readonly number[]) =>
  fc
    .record({
      op: fc.constantFrom(...OPS),
      dst: fc.constantFrom(...regs),
      src: fc.constantFrom(...regs),
      x: fc.boolean(),
      wide: fc.boolean(),
      k: imm,
    })
    .map(({ op, dst, src, x, wide, k }) => {
      const p = wide ? "r" : "w";
      if (!x) {
        let v = k;
        if (op.includes("<<") || op.includes(">>")) v = (k >>> 0) % (wide ? 64 : 32);
        if ((op === "/=" || op === "%=") && v === 0) v = 3;
        return `${p}${dst} ${op} ${v}`;
      }
      return `${p}${dst} ${op} ${p}${src}`;
    });

const program = fc
  .record({
    seed: imm,
    n: fc.integer({ min: 0, max: 8 }),
    stop: fc.integer({ min: -1, max: 8 }),
    k4: imm,
    k5: imm,
    arg: imm,
    cb: fc.array(statement([1, 3, 4, 5]), { minLength: 1, maxLength: 12 }),
    sub: fc.array(statement([0, 1, 2]), { minLength: 1, maxLength: 12 }),
  })
  .map(
    ({ seed, n, stop, k4, k5, arg, cb, sub }) => `.type socket_filter
.license "GPL"
  r6 = ${seed}
  *(u64 *)(r10 - 8) = r6
  r1 = ${n}
  r2 = body
  r3 = r10
  r3 += -8
  r4 = 0
  call bpf_loop
  r7 = r0
  r1 = *(u64 *)(r10 - 8)
  r2 = ${arg}
  call sub
  r0 += r7
  r1 = r0
  r1 >>= 32
  r0 ^= r1
  exit

.callback body
  r3 = *(u64 *)(r2 + 0)
  r4 = ${k4}
  r5 = ${k5}
${cb.map((s) => `  ${s}`).join("\n")}
  *(u64 *)(r2 + 0) = r3
  r0 = 0
  if r1 != ${stop} goto more
  r0 = 1
more:
  exit

.func sub
  r0 = r1
${sub.map((s) => `  ${s}`).join("\n")}
  exit
`,
  );

test("random bpf_loop callbacks and bpf-to-bpf calls give the kernel's result in the interpreter", (t) => {
  if (!needsRoot(t)) return;
  let runs = 0;
  fc.assert(
    fc.property(program, (source) => {
      runs++;
      const asm = assemble(source);
      using kernel = loadAssembled(asm);
      using memory = loadAssembled(asm, { backend: "memory" });
      assert.equal(memory.program.backend, "memory");
      const data = new Uint8Array(20);
      const k = kernel.program.testRun({ data }).retval;
      const m = memory.program.testRun({ data }).retval;
      assert.equal(m, k, `kernel ${k}, interpreter ${m} for:\n${source}`);
    }),
    { numRuns: RUNS, includeErrorInReport: true },
  );
  t.diagnostic(`${runs} programs agreed`);
});
