import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { assemble } from "../../src/isa/asm/index.js";
import { disassemble, disassembleRecords } from "../../src/isa/disasm.js";
import { encode } from "../../src/isa/encode.js";
import { arbitraryInstruction, arbitraryProgram } from "./arbitrary.js";

function roundTrip(bytes: Uint8Array, labels: boolean): Uint8Array {
  const text = disassemble(bytes, { labels, helperNames: labels });
  return encode(assemble(text, { dialect: "kernel" }).insns);
}

test("assembling the disassembly of any valid instruction gives the same bytes", () => {
  fc.assert(
    fc.property(arbitraryInstruction, (insn) => {
      const bytes = encode([insn]);
      assert.deepEqual(roundTrip(bytes, false), bytes);
    }),
    { numRuns: 5000 },
  );
});

test("assembling the disassembly of any valid program, with labels and helper names, gives the same bytes", () => {
  fc.assert(
    fc.property(
      arbitraryProgram.filter((p) => p.length > 0),
      (program) => {
        const bytes = encode(program);
        assert.deepEqual(roundTrip(bytes, true), bytes);
      },
    ),
    { numRuns: 1000 },
  );
});

test("jump targets get labels, calls get helper names and local functions", () => {
  const src = [
    "r1 = 0",
    "if r1 == 0 goto out",
    "call bpf_get_prandom_u32",
    "call sub",
    "out:",
    "exit",
    ".func sub",
    "r0 = 1",
    "exit",
  ].join("\n");
  const text = disassemble(encode(assemble(src).insns));
  assert.match(text, /if r1 == 0 goto L4\n/);
  assert.match(text, /call bpf_get_prandom_u32\n/);
  assert.match(text, /call fn5\n/);
  assert.match(text, /\nL4:\n {4}exit\n\n\.func fn5\n {4}r0 = 1\n/);
});

test("records carry slots, fields and labels", () => {
  const recs = disassembleRecords(encode(assemble("r1 = 0x1122334455667788 ll\ngoto +0\nexit").insns));
  assert.deepEqual(
    recs.map((r) => [r.slot, r.code, r.imm, r.imm2, r.label, r.text]),
    [
      [0, 0x18, 0x55667788, 0x11223344, undefined, "r1 = 0x1122334455667788 ll"],
      [2, 0x05, 0, undefined, undefined, "goto L3"],
      [3, 0x95, 0, undefined, "L3", "exit"],
    ],
  );
});

test("bytes that are not a program give a typed error", () => {
  assert.throws(() => disassemble(new Uint8Array([0x18, 0, 0, 0, 0, 0, 0, 0])), { name: "DecodeError" });
});
