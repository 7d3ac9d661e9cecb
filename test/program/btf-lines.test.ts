import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { test } from "node:test";
import { assemble } from "../../src/isa/asm/index.js";
import { loadAssembled } from "../../src/program/assembled.js";
import { needsRoot } from "../support/privilege.js";

/** sum 1..10 with bpf_loop (a callback) and a call to twice(5) (a subprogram) whose result is dropped: returns 55 */
const SOURCE = `# sum 1..10 with bpf_loop
.type socket_filter
.license "GPL"

  *(u64 *)(r10 - 8) = 0
  r1 = 10
  r2 = add_index
  r3 = r10
  r3 += -8
  r4 = 0
  call bpf_loop
  r1 = 5
  call twice
  r0 = *(u64 *)(r10 - 8)
  exit

.callback add_index
  r3 = *(u64 *)(r2 + 0)
  r3 += r1
  r3 += 1
  *(u64 *)(r2 + 0) = r3
  r0 = 0
  exit

.func twice
  r0 = r1
  r0 += r1
  exit
`;

function withSource<T>(run: (file: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-lines-"));
  try {
    const file = join(dir, "sum_loop.s");
    writeFileSync(file, SOURCE);
    return run(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("an assembled .s file's lines reach the kernel: the level-2 log shows '; text @ file:line'", (t) => {
  if (!needsRoot(t)) return;
  withSource((file) => {
    const asm = assemble(readFileSync(file, "utf8"), { file });
    assert.equal(asm.lineInfo.length, asm.insns.length, "one line per instruction");
    using loaded = loadAssembled(asm, { logLevel: 2 });
    const { program } = loaded;
    assert.equal(program.testRun({ data: Buffer.alloc(14) }).retval, 55);
    const log = program.log;
    const sourceLines = log.split("\n").filter((l) => l.startsWith("; "));
    assert.ok(sourceLines.length > 0, "the verifier printed source lines");
    // every instruction of the program is visited, so every line appears (the kernel prints the base name)
    for (const li of asm.lineInfo) {
      const expected = `; ${li.text} @ ${basename(li.file)}:${li.line}`;
      assert.ok(log.includes(expected), `the log shows ${JSON.stringify(expected)}`);
    }
    // and each source line precedes its instruction in the log
    const lines = log.split("\n");
    const first = lines.indexOf(`; r2 = add_index @ sum_loop.s:7`);
    assert.ok(first >= 0);
    assert.match(lines[first + 1]!, /^2: \(18\) r2 = /);

    const f = program.functions();
    assert.equal(f.lineInfoCount, asm.lineInfo.length);
    assert.deepEqual(
      f.functions.map((x) => [x.name, x.linkage]),
      [
        ["main", "global"],
        ["add_index", "static"],
        ["twice", "static"],
      ],
    );
  });
});

test("bpftool reads the same line_info back: file, line and column of each instruction", (t) => {
  if (!needsRoot(t)) return;
  withSource((file) => {
    const asm = assemble(readFileSync(file, "utf8"), { file });
    using loaded = loadAssembled(asm);
    const id = loaded.program.info().id;
    const out = execFileSync("bpftool", ["prog", "dump", "xlated", "id", String(id), "linum"], {
      encoding: "utf8",
    });
    const seen = [...out.matchAll(/^; (.*) \[file:(.*) line_num:(\d+) line_col:(\d+)\]$/gm)].map(
      (m) => `${m[2]}:${m[3]}:${m[4]} ${m[1]}`,
    );
    const expected = asm.lineInfo.map((li) => `${li.file}:${li.line}:${li.column} ${li.text}`);
    assert.deepEqual(seen, expected);
  });
});
