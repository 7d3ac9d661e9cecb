/**
 * Bad input: random bytes and random (valid-encoding) instructions stop with a typed error
 * (a DecodeError or an InterpError: invalid program, memory access, budget, helper, depth),
 * never another exception and never a hang (the budget bounds every run).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  BudgetExceededError,
  InterpError,
  InterpProgram,
  MemoryAccessError,
} from "../../src/interp/index.js";
import { assemble } from "../../src/isa/asm/index.js";
import { decode } from "../../src/isa/decode.js";
import { DecodeError } from "../../src/isa/errors.js";
import type { Instruction } from "../../src/isa/insn.js";
import { arbitraryInstruction } from "../isa/arbitrary.js";

function runAny(insns: Instruction[]): void {
  try {
    new InterpProgram(insns, { type: "xdp" }).run({ data: new Uint8Array(64), budget: 20_000 });
  } catch (e) {
    assert.ok(e instanceof InterpError, `not a typed error: ${(e as Error)?.stack ?? String(e)}`);
  }
}

test("random bytes give typed errors only", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 8, maxLength: 400 }), (bytes) => {
      const whole = bytes.subarray(0, bytes.length - (bytes.length % 8));
      let insns: Instruction[];
      try {
        insns = decode(whole, { check: false });
      } catch (e) {
        assert.ok(e instanceof DecodeError, `decode threw ${String(e)}`);
        return;
      }
      runAny(insns);
    }),
    { numRuns: 3000 },
  );
});

test("random instructions give typed errors only, and loops stop at the budget", () => {
  fc.assert(
    fc.property(fc.array(arbitraryInstruction, { minLength: 1, maxLength: 60 }), (insns) => runAny(insns)),
    { numRuns: 3000 },
  );
});

test("a runaway loop stops at the budget with the slot and instruction", () => {
  const p = new InterpProgram(assemble("r0 = 0\nl:\nr0 += 1\ngoto l\nexit").insns);
  assert.throws(
    () => p.run({ budget: 1000 }),
    (e: unknown) => e instanceof BudgetExceededError && e.slot >= 1 && /budget of 1000/.test(e.message),
  );
});

test("an access outside its region says the slot, the address, the region and the instruction", () => {
  const p = new InterpProgram(assemble("r0 = *(u64 *)(r10 - 520)\nexit").insns);
  assert.throws(
    () => p.run(),
    (e: unknown) =>
      e instanceof MemoryAccessError &&
      e.slot === 0 &&
      e.region === "stack of frame 0" &&
      e.instruction === "r0 = *(u64 *)(r10 - 520)" &&
      /0xffff0001800001f8|outside/.test(e.message),
  );
  const q = new InterpProgram(assemble("r1 = 0\nr0 = *(u32 *)(r1 + 0)\nexit").insns);
  assert.throws(
    () => q.run(),
    (e: unknown) => e instanceof MemoryAccessError && /NULL/.test(e.message),
  );
});
