/** usdt/... sections: read and listed, but refused at load with a clear "not yet" (typed) error. */
import assert from "node:assert/strict";
import test from "node:test";
import { BpfObject, UnsupportedSectionError } from "../../src/object/index.js";
import { needsRoot } from "../support/privilege.js";
import { compileFixture } from "./compile.js";

test("a usdt program is read, marked not yet, and refused at load; the others still load", (t) => {
  const path = compileFixture("usdt");
  const obj = BpfObject.open(path);
  const usdt = obj.spec.programs.find((p) => p.name === "on_hit");
  assert.ok(usdt, "on_hit is read");
  assert.equal(usdt.def.notYet, "USDT probes");
  assert.equal(usdt.def.target, "./rawbpf-target:rawbpf:hit");
  assert.equal(obj.spec.programs.find((p) => p.name === "plain")?.def.notYet, undefined);
  assert.throws(
    () => obj.load(),
    (e: unknown) =>
      e instanceof UnsupportedSectionError &&
      e.section === "usdt/./rawbpf-target:rawbpf:hit" &&
      /on_hit.*USDT probes are not supported yet/.test(e.message),
  );
  if (!needsRoot(t)) return;
  using loaded = BpfObject.open(path).load({ programs: ["plain"] });
  assert.equal(loaded.program("plain").testRun({ data: new Uint8Array(64) }).retval, 7, "plain runs");
});
