import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { verifierErrorFromLog } from "../../src/verifier/error.js";
import { useColor } from "../../src/verifier/view-terminal.js";
import { needsRoot } from "../support/privilege.js";
import { CASES, closeMaps } from "./support/cases.js";

after(() => closeMaps());

const ANSI = /\x1b\[/;

test("colours only for a terminal, never under NO_COLOR", () => {
  assert.equal(useColor(true, {}), true);
  assert.equal(useColor(false, {}), false);
  assert.equal(useColor(true, { NO_COLOR: "1" }), false);
  assert.equal(useColor(true, { NO_COLOR: "" }), true);
});

test("terminal view: the listing with the failing instruction marked, the explanation and the registers", (t) => {
  if (!needsRoot(t)) return;
  const r = CASES["null-pointer-dereference"]!();
  const err = verifierErrorFromLog(r.log, { errno: r.errno, insns: r.insns });
  const plain = err.render("terminal", { color: false });
  assert.doesNotMatch(plain, ANSI);
  const marked = plain.split("\n").filter((l) => l.includes("<- here"));
  assert.equal(marked.length, 1);
  assert.match(marked[0]!, /^ {2}> +6: \(79\) r0 = \*\(u64 \*\)\(r0 \+0\)/);
  assert.match(plain, /R0 +map_value_or_null\(id=1,ks=4,vs=8\)/);
  assert.match(plain, /fix: .*if r0 == 0 goto/);
  assert.match(err.render("terminal", { color: true, env: {} }), ANSI);
  assert.doesNotMatch(err.render("terminal", { color: true, env: { NO_COLOR: "1" } }), ANSI);
  // the one-line message: the kernel's error, the instruction, the short explanation
  assert.equal(
    err.message,
    "verifier: R0 invalid mem access 'map_value_or_null' at instruction 6: R0 may be NULL here (map_value_or_null): check it against 0 before using it",
  );
  assert.equal(err.toJSON().insn, 6);
  assert.equal(err.toJSON().explanation?.id, "null-pointer-dereference");
});

test("terminal view of a log without listing lists the program from its instructions", (t) => {
  if (!needsRoot(t)) return;
  const r = CASES["invalid-mem-access"]!();
  // keep only the closing lines, as a log level 0/4 load would give
  const short = r.log.slice(r.log.indexOf("R0 invalid mem access"));
  assert.match(short, /^R0 invalid mem access 'scalar'\n/);
  const out = verifierErrorFromLog(short, { insns: r.insns }).render("terminal");
  assert.match(out, /0: \(b7\) r0 = 0/);
  assert.match(out, /1: \(79\) r0 = \*\(u64 \*\)\(r0 \+ ?0\)/);
});

function chromium(): string | undefined {
  for (const c of ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"])
    if (existsSync(c)) return c;
  return undefined;
}

test("HTML view in headless Chromium: the failing instruction is marked and the explanation present after scripts ran", (t) => {
  if (!needsRoot(t)) return;
  const browser = chromium();
  if (!browser) {
    if (process.env["CI"] === "true") assert.fail("chromium is missing");
    t.skip("chromium is missing");
    return;
  }
  const r = CASES["unbounded-memory-access"]!();
  const err = verifierErrorFromLog(r.log, { errno: r.errno, insns: r.insns });
  const html = err.render("html", { title: "unbounded <test>" });
  assert.doesNotMatch(html, /https?:\/\//, "the page needs no network");
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-html-"));
  try {
    const file = join(dir, "log.html");
    writeFileSync(file, html);
    const res = spawnSync(
      browser,
      [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        `--user-data-dir=${join(dir, "profile")}`,
        "--dump-dom",
        `file://${file}`,
      ],
      { encoding: "utf8", timeout: 120_000, maxBuffer: 1 << 26 },
    );
    assert.equal(res.status, 0, res.stderr);
    const dom = res.stdout;
    assert.match(dom, /<body[^>]*data-ready="true"/, "the page's script ran");
    assert.match(dom, /<tr class="insn failing[^"]*" id="insn-9" data-index="9" data-marked="failing">/);
    assert.match(dom, /the offset added to R0 has no upper bound the verifier can prove/);
    assert.match(dom, /Bound the index before adding it/);
    // the script filled the state panel with the verifier's state at the failure
    assert.match(dom, /<div id="states"><h3>instruction 9<\/h3><p>state where it failed:<\/p>/);
    assert.match(dom, /R0=map_value\(ks=4,vs=8,smin=0,smax=umax=0xffffffff/);
    assert.match(dom, /<title>unbounded &lt;test&gt;<\/title>/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
