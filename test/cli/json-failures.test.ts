/**
 * With `--json` (or `--format json` for asm, disasm and btf dump), every failure of every command is
 * one JSON object on standard output in load's shape, and nothing goes to standard error; the
 * README documents that shape. Assembler errors carry their diagnostics, capped.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { needsRoot } from "../support/privilege.js";
import { needsSetpriv, srcModule, withCapabilities } from "../support/setpriv.js";

const dir = mkdtempSync(join(tmpdir(), "rawbpf-json-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, data: Uint8Array | string) => {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
};

async function cli(argv: string[]) {
  const io = captureIo();
  const status = await main(argv, io);
  return { status, out: io.out, err: io.err };
}

interface Failure {
  error: {
    message: string;
    kind: string;
    errno: string | null;
    insn: number | null;
    verifier: string | null;
    explanation: string | null;
    capability?: string;
    diagnostics?: { file: string; line: number; column: number; message: string; source: string }[];
    more?: number;
  };
  log: string;
}

/** The failure JSON of `argv`, after checking the exit status, an empty stderr and the shape. */
async function failure(argv: string[], status: number): Promise<Failure> {
  const r = await cli(argv);
  const what = argv.join(" ");
  assert.equal(r.status, status, `${what}: exit ${r.status}\n${r.out}${r.err}`);
  assert.equal(r.err, "", `${what} wrote to stderr: ${r.err}`);
  const lines = r.out.trimEnd().split("\n");
  assert.equal(lines.length, 1, `${what}: one JSON line, got ${r.out}`);
  const out = JSON.parse(lines[0]!) as Failure;
  for (const key of ["message", "kind", "errno", "insn", "verifier", "explanation"])
    assert.ok(key in out.error, `${what}: error.${key}`);
  assert.equal(typeof out.log, "string", `${what}: log`);
  return out;
}

const bad = "r0 = 0\nfoo r1\nexit\n";

test("asm, disasm and btf dump with --format json: failures are JSON on stdout", async () => {
  const s = file("bad.s", bad);
  const asm = await failure(["asm", s, "--format", "json"], 1);
  assert.equal(asm.error.kind, "AsmErrors");
  assert.equal(asm.error.message, `1 error in ${s}`);
  assert.deepEqual(asm.error.diagnostics, [
    { file: s, line: 2, column: 1, message: "unknown instruction 'foo'", source: "foo r1" },
  ]);
  assert.equal(asm.error.more, 0);
  for (const argv of [
    ["asm", s, "--format=json"],
    ["asm", "--format", "json", s],
  ])
    assert.equal((await failure(argv, 1)).error.kind, "AsmErrors", argv.join(" "));

  const usage = await failure(["asm", s, "--format", "json", "--bogus"], 2);
  assert.equal(usage.error.kind, "usage");
  assert.match(usage.error.message, /unknown option --bogus/);

  const missing = await failure(["asm", join(dir, "nope.s"), "--format", "json"], 1);
  assert.match(missing.error.message, /cannot read .*nope\.s: ENOENT/);

  const empty = await failure(["disasm", file("empty.bin", ""), "--format", "json"], 1);
  assert.match(empty.error.message, /is empty: there are no instructions/);
  const partial = await failure(["disasm", file("odd.bin", new Uint8Array(12)), "--format=json"], 1);
  assert.match(partial.error.message, /not a multiple of 8/);

  const short = await failure(["btf", "dump", file("short.btf", new Uint8Array(3)), "--format", "json"], 1);
  assert.equal(short.error.kind, "BtfError");
  const shortF = await failure(["btf", "dump", "-f", "json", file("short2.btf", new Uint8Array(3))], 1);
  assert.equal(shortF.error.kind, "BtfError");

  // without --format json the same failures stay text on stderr
  const text = await cli(["asm", s, "--format", "hex"]);
  assert.equal(text.status, 1);
  assert.equal(text.out, "");
  assert.match(text.err, /bad\.s:2:1: error: unknown instruction 'foo'/);
});

test("assembler diagnostics in JSON are capped like the text: the first 20, and how many more", async () => {
  const many = file("many.s", "foo\n".repeat(57));
  const r = await failure(["asm", many, "--format", "json"], 1);
  assert.equal(r.error.message, `57 errors in ${many}`);
  assert.equal(r.error.diagnostics?.length, 20);
  assert.equal(r.error.more, 37);
  assert.deepEqual(
    r.error.diagnostics?.map((d) => d.line),
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
  // load of a bad .s: the same capped list in JSON, and in text
  const load = await failure(["load", many, "--type", "xdp", "--json"], 1);
  assert.equal(load.error.more, 37);
  const text = await cli(["load", many, "--type", "xdp"]);
  assert.equal(text.status, 1);
  assert.match(text.err, /\.\.\. and 37 more errors\n$/);
  assert.equal(text.err.match(/error: unknown instruction/g)?.length, 20, text.err);
});

test("link show of a missing link, explain --html to an unwritable path, and a verifier rejection: JSON with a kind", async (t) => {
  if (!needsRoot(t)) return;
  const gone = await failure(["link", "show", "4294967295", "--json"], 1);
  assert.match(gone.error.message, /no link with id 4294967295/);
  assert.equal(gone.error.kind, "InputError");
  const textGone = await cli(["link", "show", "4294967295"]);
  assert.equal(textGone.err, "rawbpf link: no link with id 4294967295\n");

  const log = file("v.log", "0: (79) r0 = *(u64 *)(r1 +800)\ninvalid bpf_context access off=800 size=8\n");
  const unwritable = await failure(
    ["explain", log, "--json", "--html", join(dir, "no", "such", "x.html")],
    1,
  );
  assert.match(unwritable.error.message, /cannot write .*x\.html: ENOENT/);

  const rejected = await failure(
    ["load", file("rej.s", ".type xdp\nr0 = *(u64 *)(r1 + 800)\nexit\n"), "--json"],
    1,
  );
  assert.equal(rejected.error.kind, "ProgramRejectedError");
  assert.equal(rejected.error.insn, 0);
  assert.match(rejected.error.verifier ?? "", /invalid bpf_context access off=800/);
  assert.ok(rejected.log.length > 0, "the verifier log");
});

test("feature --json without CAP_BPF: the refusal is JSON naming the capability", (t) => {
  if (!needsRoot(t) || !needsSetpriv(t)) return;
  const r = withCapabilities(
    [],
    `
import { main } from ${srcModule("cli/main.ts")};
process.exitCode = await main(["feature", "--json"]);
`,
  );
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr, "", "nothing on stderr");
  const out = JSON.parse(r.stdout) as Failure;
  assert.equal(out.error.capability, "CAP_BPF");
  assert.match(out.error.message, /probing needs CAP_BPF/);
});

test("the README's command-line section documents the JSON failure shape for every command that has JSON", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const from = readme.indexOf("## Command line");
  const section = readme.slice(from, readme.indexOf("\n## ", from + 3));
  const json = section.slice(section.indexOf("With `--json`"));
  assert.ok(json.length < section.length, "the README has a paragraph on JSON failures");
  const keys = ["message", "kind", "code", "errno", "capability", "insn", "verifier", "explanation"];
  for (const key of [...keys, "details", "log", "diagnostics", "more"])
    assert.ok(json.includes(`\`${key}\``), `README documents ${key}`);
  // every command whose usage line offers JSON is named in that paragraph's first sentence
  const usage = section.slice(section.indexOf("```"), section.indexOf("```", section.indexOf("```") + 3));
  const first = json.slice(0, json.indexOf("\n\n"));
  for (const line of usage.split("\n").filter((l) => /json/.test(l))) {
    const command = /^rawbpf (btf dump|\S+)/.exec(line)?.[1];
    assert.ok(command, line);
    assert.ok(
      first.includes(`\`${command}\``),
      `README names ${command} among the commands with JSON failures`,
    );
  }
});
