/** usdt/... sections: read with their target and loaded as uprobe_multi kprobe programs (test/usdt attaches them). */
import assert from "node:assert/strict";
import test from "node:test";
import { BpfObject } from "../../src/object/index.js";
import { needsRoot } from "../support/privilege.js";
import { compileFixture } from "./compile.js";

test("a usdt program is read with its BINARY:PROVIDER:NAME and loads for uprobe_multi; the others too", (t) => {
  const path = compileFixture("usdt");
  const obj = BpfObject.open(path);
  const usdt = obj.spec.programs.find((p) => p.name === "on_hit");
  assert.ok(usdt, "on_hit is read");
  assert.equal(usdt.def.notYet, undefined);
  assert.equal(usdt.def.attachType, "trace_uprobe_multi");
  assert.equal(usdt.def.target, "./rawbpf-target:rawbpf:hit");
  if (!needsRoot(t)) return;
  using loaded = BpfObject.open(path).load();
  assert.equal(loaded.program("on_hit").expectedAttachType, "trace_uprobe_multi");
  assert.equal(loaded.program("plain").testRun({ data: new Uint8Array(64) }).retval, 7, "plain runs");
});
