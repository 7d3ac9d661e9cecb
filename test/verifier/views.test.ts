import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { verifierErrorFromLog } from "../../src/verifier/error.js";
import { useColor } from "../../src/verifier/view-terminal.js";
import { skipUnlessCI } from "../support/ci.js";
import { needsRoot } from "../support/privilege.js";
import { CASES, closeMaps } from "./support/cases.js";
import { byId, findAll, hasClass, parseHtml, textOf } from "./support/html.js";

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

/** The instruction the kernel failed at, read from its log alone: the last instruction line it printed. */
function failingFromLog(log: string): { index: number; opcode: string; text: string } {
  const lines = [...log.matchAll(/^(\d+): \(([0-9a-f]{2})\) ([^;\n]*?)\s*(?:;.*)?$/gm)];
  const last = lines.at(-1);
  assert.ok(last, `no instruction line in the log:\n${log}`);
  return { index: Number(last[1]), opcode: last[2]!, text: last[3]! };
}

const MARKED_CASES = [
  "invalid-mem-access",
  "null-pointer-dereference",
  "unbounded-memory-access",
  "negative-min-value",
  "map-value-out-of-bounds",
  "pointer-math-unbounded",
  "division-by-zero",
  "variable-context-access",
];

test("HTML view, parsed: the one row marked failing is the instruction the kernel's log stops at", (t) => {
  if (!needsRoot(t)) return;
  for (const name of MARKED_CASES) {
    const r = CASES[name]!();
    assert.equal(r.skip, undefined, `${name}: ${r.skip}`);
    const kernel = failingFromLog(r.log);
    const err = verifierErrorFromLog(r.log, { errno: r.errno, insns: r.insns });
    const doc = parseHtml(err.render("html", { title: name }));
    const rows = findAll(byId(doc, "program"), (e) => e.tag === "tr" && hasClass(e, "insn"));
    assert.ok(rows.length > 1, `${name}: ${rows.length} rows`);
    // one row an instruction, in order (a 16-byte ld_imm64 takes two indexes)
    let previous = -1;
    for (const row of rows) {
      const index = Number(row.attrs.get("data-index"));
      assert.ok(index > previous, `${name}: row of instruction ${index} after ${previous}`);
      assert.equal(row.attrs.get("id"), `insn-${index}`, `${name}: the id of row ${index}`);
      previous = index;
    }
    const marked = rows.filter((row) => hasClass(row, "failing"));
    assert.deepEqual(
      marked.map((row) => Number(row.attrs.get("data-index"))),
      [kernel.index],
      `${name}: the marked rows, where the log stops at ${kernel.index}: ${kernel.opcode} ${kernel.text}`,
    );
    const cells = marked[0]!.children.filter((c) => typeof c !== "string").map(textOf);
    assert.equal(cells[0], String(kernel.index), `${name}: index cell`);
    assert.equal(cells[1], `(${kernel.opcode})`, `${name}: opcode cell`);
    assert.equal(
      cells[2]!.replace(/\s+/g, ""),
      kernel.text.replace(/\s+/g, ""),
      `${name}: the marked row shows the instruction the kernel printed`,
    );
    // the page's script marks and shows the instruction its data names: the same one
    const data = JSON.parse(textOf(byId(doc, "data"))) as { failing: number; failState: string[] };
    assert.equal(data.failing, kernel.index, `${name}: the script's failing instruction`);
    assert.ok(data.failState.length > 0, `${name}: the state at the failure is embedded`);
    assert.match(textOf(byId(doc, "error")), new RegExp(`\\(instruction ${kernel.index}\\)$`), name);
  }
});

test("the HTML reader reads what the syntax says, not what our renderer writes", () => {
  const doc = parseHtml(
    `<!doctype html><html><head><title>a &lt;b&gt;</title><script>if (1 < 2) x = "</p>";</script></head><body><table id=t><tr class='insn  failing' data-index="3"><td>a &amp; b&#39;s</td></tr></table><br><p>x<!-- <tr class="failing"> --></p></body></html>`,
  );
  const rows = findAll(doc, (e) => e.tag === "tr");
  assert.equal(rows.length, 1, "the commented-out row is not a row");
  assert.ok(hasClass(rows[0]!, "failing") && hasClass(rows[0]!, "insn"), "class list with extra spaces");
  assert.equal(rows[0]!.attrs.get("data-index"), "3");
  assert.equal(textOf(rows[0]!), "a & b's");
  assert.equal(textOf(findAll(doc, (e) => e.tag === "title")[0]!), "a <b>");
  assert.equal(byId(doc, "t").tag, "table", "an unquoted attribute");
  assert.throws(() => parseHtml("<div><span></div>"), /closes <span>/);
});

function chromium(): string | undefined {
  for (const c of ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"])
    if (existsSync(c)) return c;
  return undefined;
}

test("HTML view in headless Chromium: the failing instruction is marked and the explanation present after scripts ran", (t) => {
  if (!needsRoot(t)) return;
  const browser = chromium();
  if (!browser) return skipUnlessCI(t, "chromium is missing (the parsed-HTML test above checks the markup)");
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
