/**
 * Errors as a script prints them: a child throws each kind of rawbpf error uncaught (Node prints
 * those with custom inspection off: `stack` and the enumerable fields) or passes it to
 * `console.error` (util.inspect.custom), and its stderr must be short — the summary, where, what
 * it means, where to look for more — with no typed arrays, no parsed log and no error printed twice.
 * A verifier rejection on a terminal (a pty from `script`) prints its terminal rendering.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { needsRoot } from "./support/privilege.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const api = JSON.stringify(join(root, "src", "index.ts"));
const dir = mkdtempSync(join(tmpdir(), "rawbpf-errors-print-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Case {
  name: string;
  kernel?: boolean;
  /** code that throws; `r` is the public API */
  code: string;
  /** what the summary line must say */
  summary: RegExp;
  /** other lines the short form must have */
  has?: RegExp[];
}

const CASES: Case[] = [
  {
    name: "ProgramRejectedError",
    kernel: true,
    code: "r.Program.load({ type: 'socket_filter', instructions: [r.mov(r.R1, 1), r.add(r.R0, r.R2), r.exit()] });",
    summary: /^ProgramRejectedError: socket_filter program refused by the verifier \(EACCES\): R2 !read_ok/m,
    has: [
      /^ {2}at instruction 1: r0 \+= r2$/m,
      /^ {2}fix: /m,
      /^ {2}more: err\.log\.text .*err\.render\("terminal"\)/m,
    ],
  },
  {
    name: "VerifierError",
    code: "throw r.verifierErrorFromLog('0: (0f) r0 += r2\\nR2 !read_ok\\nprocessed 1 insns\\n', { errno: 13 });",
    summary: /^VerifierError: verifier: R2 !read_ok at instruction 0/m,
    has: [/^ {2}why: /m, /^ {2}more: err\.log\.text/m],
  },
  {
    name: "AsmErrors",
    code: "r.assemble('r0 = \\nfoo bar\\n' + 'r11 = 1\\n'.repeat(40) + 'exit\\n');",
    summary: /^AsmErrors: 42 errors in <input>$/m,
    has: [
      /^ {2}more: err\.errors \(42 AsmErrors/m,
      /\[AsmError: <input>:2:1: error: unknown instruction 'foo'\]/,
    ],
  },
  {
    name: "BtfLoadError",
    kernel: true,
    code: "r.loadBtf(new Uint8Array([0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]), { logLevel: 1 });",
    summary: /^BtfLoadError: /m,
    has: [/^ {2}more: err\.log \(the BTF verifier's log/m],
  },
  {
    name: "ClosedError",
    kernel: true,
    code: "const m = r.BpfMap.create({ type: 'array', key: r.u32, value: r.u32, maxEntries: 1 }); m.close(); m.get(0);",
    summary: /^ClosedError: .* is closed/m,
  },
  {
    name: "DecodeError",
    code: "r.decode(new Uint8Array([0xff, 0, 0, 0, 0, 0, 0, 0]));",
    summary: /^DecodeError: cannot decode instruction at byte 0/m,
  },
  {
    name: "BtfError",
    code: "r.Btf.parse(new Uint8Array(64).fill(7));",
    summary: /^BtfError: BTF: /m,
  },
  {
    name: "UnknownHelperError",
    code: "r.assemble('call bpf_map_lookup_elme\\nexit\\n');",
    summary: /^AsmErrors: 1 error in <input>$/m,
    has: [/lookup_elme/],
  },
  {
    name: "BuildError",
    code: "new r.ProgramBuilder().emit(r.ja('nowhere'), r.exit()).build();",
    summary: /^UndefinedLabelError: /m,
  },
];

function child(name: string, body: string): string {
  const file = join(dir, `${name}.ts`);
  writeFileSync(file, `import * as r from ${api};\n${body}\nexport {};\n`);
  return file;
}

for (const c of CASES) {
  test(`an uncaught ${c.name} prints short`, (t) => {
    if (c.kernel && !needsRoot(t)) return;
    const file = child(`uncaught-${c.name}`, c.code);
    const p = spawnSync(process.execPath, ["--import", "tsx", file], { cwd: root, encoding: "utf8" });
    assert.notEqual(p.status, 0, `the child did not throw:\n${p.stdout}`);
    const err = p.stderr;
    assert.match(err, c.summary, err);
    for (const re of c.has ?? []) assert.match(err, re, err);
    const lines = err.trimEnd().split("\n").length;
    // Node's own lines (the throwing source line, "Node.js v20"), ~10 stack frames, the short form
    assert.ok(lines <= 70, `${lines} lines on stderr:\n${err}`);
    assert.doesNotMatch(err, /(Uint8|Uint16|Uint32|Int32|Float64)Array|VerifierLog \{|starts:|kinds:/, err);
    // the summary once: not again as a cause or under its own fields
    const summary = c.summary.exec(err)![0];
    assert.equal(err.split(summary).length - 1, 1, `the summary is printed more than once:\n${err}`);
  });

  test(`console.error of a ${c.name} prints the same short form`, (t) => {
    if (c.kernel && !needsRoot(t)) return;
    const file = child(
      `logged-${c.name}`,
      `try { ${c.code} } catch (e) { console.error(e); process.exitCode = 3; }`,
    );
    const p = spawnSync(process.execPath, ["--import", "tsx", file], { cwd: root, encoding: "utf8" });
    assert.equal(p.status, 3, `the child did not catch an error:\n${p.stderr}`);
    assert.match(p.stderr, c.summary, p.stderr);
    assert.ok(p.stderr.trimEnd().split("\n").length <= 60, p.stderr);
    assert.doesNotMatch(p.stderr, /Array\(\d+\)|\x1b\[/, p.stderr);
  });
}

test("an AsmErrors of many problems lists the first ones and says how many more", () => {
  const file = child(
    "logged-many",
    "try { r.assemble('foo\\n'.repeat(500)); } catch (e) { console.error(e); }",
  );
  const p = spawnSync(process.execPath, ["--import", "tsx", file], { cwd: root, encoding: "utf8" });
  assert.match(p.stderr, /^AsmErrors: 500 errors in <input>$/m, p.stderr);
  assert.match(p.stderr, /^ {2}\.\.\. and \d+ more lines \(err\.message has them all\)$/m, p.stderr);
  assert.ok(p.stderr.split("\n").length < 60, p.stderr);
});

test("console.error of a verifier rejection on a terminal shows its terminal rendering", (t) => {
  if (!needsRoot(t)) return;
  if (spawnSync("script", ["--version"]).status !== 0) {
    // util-linux's script gives the child a terminal; CI installs it
    assert.ok(process.env["CI"] !== "true", "script (util-linux) is missing");
    t.skip("script (util-linux) is missing");
    return;
  }
  const file = child(
    "tty",
    "try { r.Program.load({ type: 'socket_filter', instructions: [r.mov(r.R1, 1), r.add(r.R0, r.R2), r.exit()] }); } catch (e) { console.error(e); }",
  );
  const command = `${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(file)}`;
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: "xterm-256color" };
  delete env["NO_COLOR"];
  delete env["FORCE_COLOR"];
  // a user's terminal: Node's console turns colours off under CI (as under NO_COLOR), and with
  // them the terminal rendering, which is what the test is about
  delete env["CI"];
  const p = spawnSync("script", ["-qec", command, "/dev/null"], { cwd: root, encoding: "utf8", env });
  assert.equal(p.status, 0, p.stderr);
  const out = p.stdout.replace(/\r/g, "");
  // colours, and the listing with the failing instruction marked, as render("terminal") draws it
  assert.match(out, /\x1b\[/, out);
  assert.match(out, /> 1: \(0f\) r0 \+= r2/, out);
  const plain = out.replace(/\x1b\[[0-9;]*m/g, "");
  assert.match(plain, /^ProgramRejectedError: socket_filter program refused by the verifier/m, plain);
  assert.match(plain, /more: err\.log\.text/, plain);
});
