/**
 * The encoding rules against the kernel's verifier: whatever validate() accepts, the kernel must
 * not refuse as an unknown opcode or reserved field; and whatever single-slot instruction
 * validate() refuses, the kernel refuses too (RFC 9669 is stricter in a few places, listed).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { encode } from "../../src/isa/encode.js";
import type { Instruction } from "../../src/isa/insn.js";
import { instructionProblem } from "../../src/isa/validate.js";
import { BpfError } from "../../src/sys/error.js";
import { closeRaw } from "../../src/sys/fd.js";
import { progLoad } from "../../src/sys/prog.js";
import { needsRoot } from "../support/privilege.js";
import { arbitraryInstruction } from "./arbitrary.js";

const ENCODING_REFUSAL =
  /unknown opcode|uses reserved fields|invalid BPF_\w+ opcode|invalid atomic|BPF_ATOMIC uses invalid|invalid may_goto|addr_space_cast insn can only convert|invalid BPF_LD_IMM|unrecognized bpf_ld_imm64|invalid bpf_ld_imm64|invalid BPF_LD mode|unknown insn class/;

/** Loads `r0..r9 = 0; insn; r0 = 0; exit` and returns the verifier's log ("" when accepted). */
function verdict(insn: Instruction): string {
  const prelude: Instruction[] = [];
  for (let r = 0; r <= 9; r++) prelude.push({ code: 0xb7, dst: r, src: 0, off: 0, imm: 0 });
  const tail: Instruction[] = [
    { code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 },
    { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
  ];
  const bytes = encode([...prelude, insn, ...tail], { check: false });
  try {
    const { fd } = progLoad({ progType: 1, insns: bytes, license: "GPL", logLevel: 1 });
    closeRaw(fd);
    return "";
  } catch (error) {
    assert.ok(error instanceof BpfError, String(error));
    return error.log || error.message;
  }
}

test("the kernel never calls an instruction validate() accepts an unknown opcode or reserved field", (t) => {
  if (!needsRoot(t)) return;
  fc.assert(
    fc.property(arbitraryInstruction, (generated) => {
      // jumps go to the next instruction, so the control-flow check (which runs first) passes
      // and the verifier reaches the instruction's own checks
      const cls = generated.code & 0x07;
      const jump = (cls === 0x05 || cls === 0x06) && generated.code !== 0x85 && generated.code !== 0x8d;
      const insn = jump
        ? { ...generated, off: 0, imm: generated.code === 0x06 ? 0 : generated.imm }
        : generated;
      // callx is LLVM's; Linux refuses it as a call with reserved fields
      fc.pre(insn.code !== 0x8d);
      const log = verdict(insn);
      assert.doesNotMatch(log, ENCODING_REFUSAL, JSON.stringify(insn));
    }),
    { numRuns: 1500 },
  );
});

test("the kernel refuses the single-slot instructions validate() refuses", (t) => {
  if (!needsRoot(t)) return;
  const slot = fc.record({
    code: fc.integer({ min: 0, max: 255 }).filter((c) => c !== 0x18),
    dst: fc.integer({ min: 0, max: 10 }),
    src: fc.integer({ min: 0, max: 10 }),
    off: fc.constantFrom(0, 1, 8, 16, 32, -1),
    imm: fc.constantFrom(0, 1, 16, 32, 64, 0xe1, 0xf1, 0x100, 0x110, 0x10000, -1),
  });
  fc.assert(
    fc.property(slot, (insn) => {
      const problem = instructionProblem(insn);
      fc.pre(problem !== undefined);
      // RFC 9669 wants these zero; Linux 6.18 does not look at them
      const exitOffset = insn.code === 0x95 && insn.dst === 0 && insn.src === 0 && insn.imm === 0;
      fc.pre(!exitOffset);
      const log = verdict(insn);
      assert.notEqual(log, "", `${JSON.stringify(insn)} (${problem}) was accepted by the kernel`);
    }),
    { numRuns: 1500 },
  );
});
