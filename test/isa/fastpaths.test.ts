/** The assembler's and disassembler's fast paths agree with their plain forms. */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { assemble, encodeAssembled } from "../../src/isa/asm/assemble.js";
import { disassemble, disassembleUtf8 } from "../../src/isa/disasm.js";
import { encode } from "../../src/isa/encode.js";
import { arbitraryProgram } from "./arbitrary.js";

test("encodeAssembled(p) is encode(p.insns), and insns/lineInfo read the same every time", () => {
  fc.assert(
    fc.property(
      arbitraryProgram.filter((p) => p.length > 0),
      (insns) => {
        const text = disassemble(encode(insns));
        const p = assemble(text);
        const bytes = encodeAssembled(p);
        const first = p.insns;
        assert.deepEqual(Buffer.from(bytes), Buffer.from(encode(first)));
        assert.equal(p.insns, first, "the same cached array");
        assert.equal(p.lineInfo, p.lineInfo);
        assert.equal(p.lineInfo.length, first.length);
      },
    ),
    { numRuns: 300 },
  );
});

test("disassembleUtf8(x) is the UTF-8 of disassemble(x)", () => {
  fc.assert(
    fc.property(arbitraryProgram, fc.boolean(), fc.boolean(), (insns, labels, helperNames) => {
      const bytes = encode(insns);
      const options = { labels, helperNames };
      assert.equal(
        Buffer.from(disassembleUtf8(bytes, options)).toString("utf8"),
        disassemble(bytes, options),
      );
    }),
    { numRuns: 300 },
  );
});
