/**
 * `prog.disassemble()` of a loaded program interleaves its source lines, read back from the
 * kernel (line_info and the program's BTF): the TypeScript lines of a compiled program, the C
 * lines of a clang object, each above the instruction it starts. The oracle is
 * `bpftool prog dump xlated id N linum`, line for line.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { BpfObject, compile, type Program } from "../../src/index.js";
import { loadCompiled } from "../../src/program/compiled.js";
import { haveTools } from "../support/ci.js";
import { needsRoot } from "../support/privilege.js";
import { clangObject, clangPresent } from "./clang.js";
import { TWINS } from "./twin-programs.js";

const flows = TWINS.find((t) => t.name === "flows")!;

/** bpftool's linum dump, with each function's C prototype reduced to its name (ours prints `NAME:`). */
function bpftoolLinum(prog: Program): string[] {
  const out = execFileSync("bpftool", ["prog", "dump", "xlated", "id", String(prog.info().id), "linum"], {
    encoding: "utf8",
  });
  return out
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => (/^[^;\s].*\(.*\):$/.test(l) ? `${/(\w+)\(/.exec(l)![1]}:` : l));
}

function ours(prog: Program): string[] {
  return prog
    .disassemble({ lineNumbers: true })
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => l.replace(/ {2}# map '[^']*'$/, ""));
}

test("disassemble(): a loaded TypeScript program shows its TypeScript lines at bpftool's instructions", (t) => {
  if (!needsRoot(t)) return;
  if (!haveTools("bpftool")) return t.skip("bpftool is not installed");
  const m = compile(flows.ts, { file: "flows.ts" });
  using loaded = loadCompiled(m);
  const prog = loaded.programs.flows!;
  const text = ours(prog);
  assert.deepEqual(text, bpftoolLinum(prog), "line for line as bpftool prints it");
  // and the comments are the TypeScript source's lines, at their line numbers
  const source = flows.ts.split("\n");
  const comments = text.filter((l) => l.startsWith("; "));
  assert.ok(comments.length >= 8, `one comment per TypeScript line mark (${comments.length})`);
  for (const c of comments) {
    const got = /^; (.*) \[file:flows\.ts line_num:(\d+) line_col:(\d+)\]$/.exec(c);
    assert.ok(got, `a TypeScript line comment: ${c}`);
    // a function start with no line of its own gets its name, line 0 (rawbpf's BTF layer)
    if (got[2] === "0") assert.match(got[1]!, /^\w+\(\)$/, c);
    else assert.equal(source[Number(got[2]) - 1]!.trim(), got[1], c);
  }
  assert.ok(
    text.includes("mix:") && comments.some((c) => c.startsWith("; return (a * 31) ^ b;")),
    "the subprogram with its own line",
  );
  // without line numbers: the comment alone, as bpftool's plain dump
  assert.ok(prog.disassemble().split("\n").includes("; const k = mix(src, dst) % 64;"), "the plain comment");
});

test("disassemble(): a clang object's C lines, as bpftool shows them", (t) => {
  if (!needsRoot(t)) return;
  if (!haveTools("bpftool") || !clangPresent()) return t.skip("bpftool or clang-19 is not installed");
  using obj = BpfObject.open(clangObject(flows.c)).load({ programs: ["flows"] });
  const prog = obj.program("flows");
  const text = ours(prog);
  assert.deepEqual(text, bpftoolLinum(prog), "line for line as bpftool prints it");
  assert.ok(
    text.some((l) => /^; __u32 k = mix\(src, dst\) % 64; \[file:.*\.c line_num:\d+ line_col:\d+\]$/.test(l)),
    `a C line with its place:\n${text.join("\n")}`,
  );
});

test("rawbpf prog dump xlated ID linum [--json]: bpftool's, on a TypeScript program and a clang object", async (t) => {
  if (!needsRoot(t)) return;
  if (!haveTools("bpftool") || !clangPresent()) return t.skip("bpftool or clang-19 is not installed");
  const m = compile(flows.ts, { file: "flows.ts" });
  using loaded = loadCompiled(m);
  using obj = BpfObject.open(clangObject(flows.c)).load({ programs: ["flows"] });
  for (const prog of [loaded.programs.flows!, obj.program("flows")]) {
    const id = String(prog.info().id);
    const io = captureIo();
    assert.equal(await main(["prog", "dump", "xlated", id, "linum", "--json"], io), 0, io.err);
    const theirs = JSON.parse(
      execFileSync("bpftool", ["-j", "prog", "dump", "xlated", "id", id, "linum"], { encoding: "utf8" }),
    );
    const ours = (JSON.parse(io.out) as Record<string, unknown>[]).map(({ map: _map, ...rest }) => rest);
    assert.deepEqual(ours, theirs, `program ${id}: entry for entry`);
    const text = captureIo();
    assert.equal(await main(["prog", "dump", "xlated", id, "linum"], text), 0, text.err);
    const comments = (s: string) => s.split("\n").filter((l) => l.startsWith("; "));
    assert.deepEqual(
      comments(text.out),
      comments(prog.disassemble({ lineNumbers: true })),
      "the text's comments",
    );
    assert.ok(comments(text.out).length > 5, "with source lines");
  }
});
