/**
 * The whole bpf_conformance suite in the interpreter, including the tests the Linux verifier
 * refuses (test/isa/conformance-refused.json): they run here as RFC 9669 defines them.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { InterpProgram } from "../../src/interp/index.js";
import { caseFiles, readCase } from "./conformance-data.js";

test("every conformance test gives its expected r0 in the interpreter", (t) => {
  const files = caseFiles("tests");
  assert.ok(files.length > 300, `only ${files.length} test files`);
  const failures: string[] = [];
  for (const file of files) {
    const c = readCase("tests", file);
    try {
      const prog = new InterpProgram(c.insns, { type: "raw" });
      const r = prog.run(c.mem === undefined ? {} : { memory: c.mem });
      if (c.expected !== undefined && r.r0 !== c.expected)
        failures.push(`${file}: r0 = 0x${r.r0.toString(16)}, expected 0x${c.expected.toString(16)}`);
    } catch (e) {
      failures.push(`${file}: ${(e as Error).message}`);
    }
  }
  assert.deepEqual(failures, []);
  t.diagnostic(`${files.length} passed`);
});

test("the negative case with a wrong expected result does not give it", () => {
  const c = readCase("negative", "incorrect_return_value_high_bits.data");
  const r = new InterpProgram(c.insns).run({ memory: c.mem! });
  assert.notEqual(r.r0, c.expected, "the interpreter gave the result the case says is wrong");
  assert.equal(r.r0, 0x8877665544332211n);
});
