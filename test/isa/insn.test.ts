import assert from "node:assert/strict";
import { test } from "node:test";
import { LD_IMM64, slots } from "../../src/isa/insn.js";

test("ld_imm64 takes two slots, everything else one", () => {
  assert.equal(slots({ code: LD_IMM64, dst: 1, src: 0, off: 0, imm: 1, imm2: 0 }), 2);
  assert.equal(slots({ code: 0xb7, dst: 0, src: 0, off: 0, imm: 4 }), 1);
});
