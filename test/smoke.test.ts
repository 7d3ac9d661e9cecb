import assert from "node:assert/strict";
import { test } from "node:test";
import { Class } from "../src/isa/insn.js";

test("instruction classes are the RFC 9669 values", () => {
  assert.deepEqual(Object.values(Class), [0, 1, 2, 3, 4, 5, 6, 7]);
});
