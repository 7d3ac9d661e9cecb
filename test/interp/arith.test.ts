/**
 * The compiled 64-bit arithmetic against BigInt, without a kernel: the carry and borrow of
 * add and sub (found with 32-bit compares), mul's high word (`mulhu`), and the immediate forms
 * whose high word is 0 or -1, on random operands and the edges of both words.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { InterpProgram } from "../../src/interp/index.js";
import { mulhu } from "../../src/interp/runtime.js";
import { assemble } from "../../src/isa/asm/index.js";

const M64 = (1n << 64n) - 1n;
const edges = [0n, 1n, 0xffffffffn, 0x80000000n, 0x7fffffffn, 0x100000000n, M64, 1n << 63n, (1n << 63n) - 1n];
const u64 = fc.oneof(fc.bigInt({ min: 0n, max: M64 }), fc.constantFrom(...edges));
const imm = fc.oneof(
  fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  fc.constantFrom(0, -1, 1, 0x7fffffff, -0x80000000),
);

const OPS: Record<string, (a: bigint, b: bigint) => bigint> = {
  "+=": (a, b) => a + b,
  "-=": (a, b) => a - b,
  "*=": (a, b) => a * b,
  "|=": (a, b) => a | b,
  "&=": (a, b) => a & b,
  "^=": (a, b) => a ^ b,
};

function run(text: string): bigint {
  const p = new InterpProgram(assemble(text).insns);
  try {
    return p.run().r0;
  } finally {
    p.close();
  }
}

test("mulhu is the high word of the unsigned 32x32-bit product", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: -0x80000000, max: 0x7fffffff }),
      fc.integer({ min: -0x80000000, max: 0x7fffffff }),
      (a, b) => {
        const want = Number(BigInt.asIntN(32, (BigInt(a >>> 0) * BigInt(b >>> 0)) >> 32n));
        assert.equal(mulhu(a, b), want, `mulhu(${a >>> 0}, ${b >>> 0})`);
      },
    ),
    { numRuns: 5000 },
  );
});

test("64-bit add, sub, mul, or, and, xor with registers and immediates give BigInt's answers", () => {
  fc.assert(
    fc.property(fc.constantFrom(...Object.keys(OPS)), u64, u64, imm, (op, a, b, k) => {
      const f = OPS[op]!;
      const byReg = run(`r0 = ${a} ll\nr1 = ${b} ll\nr0 ${op} r1\nexit`);
      assert.equal(byReg, f(a, b) & M64, `${a} ${op} ${b}`);
      // an immediate is sign-extended to 64 bits
      const byImm = run(`r0 = ${a} ll\nr0 ${op} ${k}\nexit`);
      assert.equal(byImm, f(a, BigInt.asUintN(64, BigInt(k))) & M64, `${a} ${op} imm ${k}`);
    }),
    { numRuns: 400 },
  );
});
