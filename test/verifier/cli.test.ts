import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { explainLoadFailure, run } from "../../src/cli/explain.js";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { needsRoot } from "../support/privilege.js";
import { CASES, closeMaps } from "./support/cases.js";

after(() => closeMaps());

test("rawbpf explain --help", async () => {
  const io = captureIo();
  assert.equal(await run(["--help"], io), 0);
  assert.match(io.out, /^usage: rawbpf explain/);
});

test("rawbpf explain reads a log from stdin and a file, prints text, --json and --html", async (t) => {
  if (!needsRoot(t)) return;
  const r = CASES["uninitialized-register"]!();
  const io = captureIo(r.log);
  assert.equal(await run([], io), 0);
  assert.match(io.out, /^error: R2 !read_ok \(instruction 0\)/);
  assert.match(io.out, /R2 is read before anything was written to it/);
  assert.doesNotMatch(io.out, /\x1b\[/);

  const dir = mkdtempSync(join(tmpdir(), "rawbpf-explain-cli-"));
  try {
    const file = join(dir, "v.log");
    writeFileSync(file, r.log);
    const j = captureIo();
    assert.equal(await run([file, "--json"], j), 0);
    const out = JSON.parse(j.out);
    assert.equal(out.error.insn, 0);
    assert.equal(out.error.explanation.id, "uninitialized-register");
    assert.equal(out.error.explanation.kernel, "R2 !read_ok");
    assert.equal(typeof out.stats.processedInsns, "number");

    const html = join(dir, "v.html");
    const h = captureIo();
    assert.equal(await run([file, "--html", html], h), 0);
    assert.match(readFileSync(html, "utf8"), /R2 is read before anything was written to it/);
    assert.match(h.out, /wrote /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("rawbpf explain: a missing file is an error on stderr with a non-zero status", async () => {
  const io = captureIo();
  assert.equal(await main(["explain", "/nonexistent/verifier.log"], io), 1);
  assert.match(io.err, /^rawbpf explain: cannot read \/nonexistent\/verifier.log/);
});

test("explainLoadFailure gives the load command its text and its JSON error object", (t) => {
  if (!needsRoot(t)) return;
  const r = CASES["wrong-argument-type"]!();
  const rep = explainLoadFailure(r.log, { errno: r.errno, insns: r.insns, color: false });
  assert.equal(rep.json.insn, 3);
  assert.equal(rep.json.explanation?.id, "wrong-argument-type");
  assert.equal(rep.json.message, rep.message);
  assert.match(rep.text, /> +3: \(85\) call bpf_map_lookup_elem#1/);
  assert.match(rep.message, /^verifier: R1 type=ctx expected=map_ptr at instruction 3: /);
});
