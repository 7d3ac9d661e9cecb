import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { asm } from "../../src/isa/template.js";
import { Program } from "../../src/program/program.js";
import { skipUnlessCI } from "../support/ci.js";
import { needsRoot } from "../support/privilege.js";

async function cli(...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  const io = captureIo();
  const status = await main(argv, io);
  return { status, out: io.out || io.bytes.toString("utf8"), err: io.err };
}

test("rawbpf btf list / show --json: bpftool -j btf's fields on the BTF of a program we loaded", async (t) => {
  if (!needsRoot(t)) return;
  // two functions: rawbpf gives the program BTF (func_info)
  using prog = Program.load({
    type: "socket_filter",
    instructions: asm`
      call helper
      exit
      .func helper
      r0 = 0
      exit`,
  });
  const btfId = prog.info().btfId;
  assert.ok(btfId > 0, "the program has BTF");
  const ours = await cli("btf", "show", String(btfId), "--json");
  assert.equal(ours.status, 0, ours.err);
  const theirs = JSON.parse(
    execFileSync("bpftool", ["-j", "btf", "show", "id", String(btfId)], { encoding: "utf8" }),
  );
  assert.deepEqual(JSON.parse(ours.out), theirs);
  const list = JSON.parse((await cli("btf", "list", "--json")).out) as { id: number }[];
  assert.deepEqual(
    list.find((b) => b.id === btfId),
    theirs,
  );
  assert.deepEqual(
    list.find((b) => b.id === 1),
    JSON.parse(execFileSync("bpftool", ["-j", "btf", "show", "id", "1"], { encoding: "utf8" })),
    "vmlinux",
  );
  const text = await cli("btf", "show", String(btfId));
  assert.match(text.out, new RegExp(`^${btfId}: name <anon>  size \\d+B  prog_ids ${prog.info().id}$`, "m"));
  const gone = await cli("btf", "show", "4294967295");
  assert.equal(gone.status, 1);
  assert.match(gone.err, /no BTF object with id 4294967295/);
});

test("rawbpf btf dump --type NAME: the type and what it holds, as bpftool's raw lines and as C clang accepts", async (t) => {
  const raw = await cli("btf", "dump", "--type", "ethhdr");
  assert.equal(raw.status, 0, raw.err);
  const entries = raw.out.split(/\n(?=\[)/).map((e) => e.trimEnd());
  assert.ok(
    entries.some((e) => e.startsWith("[") && e.includes("STRUCT 'ethhdr' size=14 vlen=3")),
    raw.out,
  );
  const all = spawnSync("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "raw"], {
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  if (all.status !== 0) {
    skipUnlessCI(t, "bpftool cannot dump vmlinux here");
    return;
  }
  const theirs = new Set(all.stdout.split(/\n(?=\[)/).map((e) => e.trimEnd()));
  for (const e of entries) assert.ok(theirs.has(e), `bpftool lists the same entry: ${e}`);

  const c = await cli("btf", "dump", "--type", "task_struct", "--format", "c");
  assert.equal(c.status, 0, c.err);
  assert.match(c.out, /^struct task_struct \{$/m);
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-btf-type-"));
  try {
    const file = join(dir, "t.c");
    writeFileSync(file, `${c.out}\nint size = sizeof(struct task_struct);\n`);
    const cc = spawnSync("clang-19", ["-target", "bpf", "-fsyntax-only", file], { encoding: "utf8" });
    if (cc.error) {
      skipUnlessCI(t, "clang-19 is not installed");
      return;
    }
    assert.equal(cc.status, 0, `clang accepts the header: ${cc.stderr.slice(0, 2000)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const none = await cli("btf", "dump", "--type", "no_such_type_here");
  assert.equal(none.status, 1);
  assert.match(none.err, /no type named 'no_such_type_here'/);
});
