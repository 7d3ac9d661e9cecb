import assert from "node:assert/strict";
import { after, test } from "node:test";
import { CATALOG } from "../../src/verifier/catalog.js";
import { explain } from "../../src/verifier/explain.js";
import { parseVerifierLog } from "../../src/verifier/parse.js";
import { skipUnlessCI } from "../support/ci.js";
import { privileged } from "../support/privilege.js";
import { CASES, closeMaps } from "./support/cases.js";

after(() => closeMaps());

test("the catalog has at least 40 distinct messages", () => {
  const ids = new Set(CATALOG.map((e) => e.id));
  assert.equal(ids.size, CATALOG.length);
  assert.ok(CATALOG.length >= 40, `only ${CATALOG.length} entries`);
  for (const e of CATALOG) {
    assert.ok(e.rule.length > 20 && e.fix.length > 10, `${e.id} needs a rule and a fix`);
  }
});

for (const entry of CATALOG) {
  test(`the kernel emits and we explain: ${entry.id}`, (t) => {
    if (!privileged()) {
      if (process.env["CI"] === "true") assert.fail("needs root (CAP_BPF, CAP_SYS_ADMIN)");
      t.skip("needs root");
      return;
    }
    const make = CASES[entry.id];
    assert.ok(make, `no program in test/verifier/support/cases.ts makes the kernel say ${entry.id}`);
    const r = make();
    if (r.skip) return skipUnlessCI(t, r.skip);
    assert.notEqual(r.errno, 0, "the kernel accepted the program");
    const log = parseVerifierLog(r.log);
    assert.ok(log.error, `no error found in the log:\n${r.log}`);
    assert.ok(
      log.error.lines.some((l) => entry.pattern.test(l)),
      `the kernel said ${JSON.stringify(log.error.lines)}, not ${entry.pattern}`,
    );
    const ex = explain(log);
    assert.ok(ex);
    if (r.thrown) {
      // the project's loader threw a VerifierError carrying the same explanation
      assert.equal(r.thrown.explanation?.id, ex.id);
      assert.equal(r.thrown.insn, ex.insn);
      assert.ok(!r.thrown.message.includes("\n"));
    }
    const ids = [ex.id, ...ex.related.map((x) => x.id)];
    assert.ok(ids.includes(entry.id), `explained as ${ids.join(", ")}`);
    if (ex.id === entry.id) {
      assert.ok(ex.summary.length > 0 && ex.summary !== ex.message);
      assert.equal(ex.rule, entry.rule);
      if (!entry.structural && log.failingLine >= 0) {
        assert.equal(typeof ex.insn, "number", "the failing instruction is known");
        assert.ok(ex.insnText, "the failing instruction's text is known");
        // the failing instruction is the last one the kernel printed before its error
        const m = new RegExp(`^${ex.insn}: \\([0-9a-f]{2}\\) `, "m");
        assert.match(r.log, m);
      }
      if (entry.registers && ex.line >= 0 && log.kind(ex.line) === 1) {
        assert.ok(ex.registers.length > 0, "the registers involved are described");
      }
    }
  });
}
