/**
 * Loops whose body is one block ending in a jump back to its start (what a counted loop compiles
 * to) run in the interpreter as JavaScript do-while loops rather than through its dispatch switch.
 * Random bodies of 64- and 32-bit ALU instructions, under every kind of loop condition (JMP and
 * JMP32, register and immediate, signed and unsigned), run in the kernel (BPF_PROG_TEST_RUN) and in
 * the interpreter: r0, r2 and r3 at the end and the step count must agree with the kernel's
 * arithmetic and the loop's length. An endless loop of that shape stops at the budget, at its block.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { BudgetExceededError } from "../../src/interp/errors.js";
import { MemoryMap } from "../../src/interp/maps.js";
import { InterpProgram } from "../../src/interp/program.js";
import { assemble } from "../../src/isa/asm/index.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { needsRoot } from "../support/privilege.js";

const OPS64 = ["+=", "-=", "*=", "^=", "|=", "&="];
const SHIFTS = ["<<=", ">>=", "s>>="];
const REGS = ["r0", "r2", "r3"];

const insn = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(...REGS),
      fc.constantFrom(...OPS64),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    )
    .map(([d, op, k]) => `${d} ${op} ${k}`),
  fc
    .tuple(fc.constantFrom(...REGS), fc.constantFrom(...OPS64), fc.constantFrom(...REGS))
    .map(([d, op, s]) => `${d} ${op} ${s}`),
  fc
    .tuple(fc.constantFrom(...REGS), fc.constantFrom(...OPS64), fc.constantFrom(...REGS))
    .map(([d, op, s]) => `${d.replace("r", "w")} ${op} ${s.replace("r", "w")}`),
  fc
    .tuple(fc.constantFrom(...REGS), fc.constantFrom(...SHIFTS), fc.integer({ min: 0, max: 63 }))
    .map(([d, op, k]) => `${d} ${op} ${k}`),
  fc.tuple(fc.constantFrom(...REGS), fc.constantFrom(...REGS)).map(([d, s]) => `${d} = ${s}`),
);

// r1 counts down from N; r4 = 0 and r5 = 1 for the register forms
const CONDITIONS = [
  "if r1 != 0 goto l",
  "if w1 != 0 goto l",
  "if r1 > r4 goto l",
  "if w1 s> 0 goto l",
  "if r1 >= r5 goto l",
  "if r1 s>= 1 goto l",
];

function program(body: string[], n: number, cond: string): string {
  return `.map result type=array key=4 value=24 entries=1
r1 = ${n}
r0 = 0x12345
r2 = 7
r3 = -3
r4 = 0
r5 = 1
l:
${body.join("\n")}
r1 -= 1
${cond}
*(u32 *)(r10 - 4) = 0
*(u64 *)(r10 - 32) = r0
*(u64 *)(r10 - 24) = r2
*(u64 *)(r10 - 16) = r3
r1 = map_fd(result)
r2 = r10
r2 += -4
r3 = r10
r3 += -32
r4 = 0
call bpf_map_update_elem
r0 = *(u32 *)(r10 - 32)
exit`;
}

test("one-block loops: the interpreter's do-while agrees with the kernel on random bodies and every condition", (t) => {
  if (!needsRoot(t)) return;
  fc.assert(
    fc.property(
      fc.array(insn, { minLength: 1, maxLength: 8 }),
      fc.integer({ min: 1, max: 200 }),
      fc.constantFrom(...CONDITIONS),
      (body, n, cond) => {
        const asm = assemble(program(body, n, cond));
        using kmap = BpfMap.create({ type: "array", keySize: 4, valueSize: 24, maxEntries: 1 });
        using prog = Program.load({ type: "socket_filter", instructions: asm, maps: { result: kmap } });
        const kernel = prog.testRun({ data: new Uint8Array(64) });
        const mmap = new MemoryMap({ type: "array", keySize: 4, valueSize: 24, maxEntries: 1 });
        const insns = asm.insns.map((x) =>
          x.ref?.kind === "map" ? { ...x, ref: undefined, imm: mmap.fd } : x,
        );
        const ours = new InterpProgram(insns, { type: "socket_filter" }).run({ data: new Uint8Array(64) });
        const theirs = Buffer.from(kmap.get(new Uint8Array(4)) ?? []).toString("hex");
        const mine = new Uint8Array(24);
        mmap.read(new Uint8Array(4), mine);
        const where = `\n${program(body, n, cond)}`;
        assert.equal(ours.retval, kernel.retval, `retval${where}`);
        assert.equal(Buffer.from(mine).toString("hex"), theirs, `r0, r2, r3 after the loop${where}`);
        // 6 set-up instructions, (body + 2) a round, 13 after it (ld_imm64 counted once)
        assert.equal(ours.steps, 6 + n * (body.length + 2) + 13, `steps${where}`);
      },
    ),
    { numRuns: 150 },
  );
});

test("an endless one-block loop stops at the budget, naming the loop's first instruction", () => {
  const asm = assemble("r0 = 0\nr1 = 1\nl:\nr0 += 1\nr0 &= 0xffff\nif r1 != 0 goto l\nexit");
  const p = new InterpProgram(asm.insns, { type: "socket_filter" });
  assert.throws(
    () => p.run({ data: new Uint8Array(64), budget: 1000 }),
    (e: Error) => e instanceof BudgetExceededError && /1000/.test(e.message) && /r0 \+= 1/.test(e.message),
  );
});
