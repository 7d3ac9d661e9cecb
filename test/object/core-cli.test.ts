/**
 * `rawbpf object FILE.o --core`: every CO-RE relocation with its C access, target and patch,
 * checked against libbpf's own account of the same relocations (its debug log through
 * `bpftool -d prog loadall`: "relo #N: patched insn #I (CLASS) imm A -> B").
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import test from "node:test";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { needsRoot } from "../support/privilege.js";
import { compileFixture } from "./compile.js";

interface Row {
  program: string;
  insn: number;
  kind: string;
  local: string;
  target: string | null;
  patch: string;
  poisoned: boolean;
  reason: string | null;
}

test("rawbpf object --core lists each relocation as libbpf patches it", async (t) => {
  if (!needsRoot(t)) return;
  const path = compileFixture("core");
  const io = captureIo();
  assert.equal(await main(["object", path, "--core", "--json"], io), 0, io.err);
  const rows = JSON.parse(io.out).core as Row[];
  assert.ok(rows.length >= 20, `relocations listed (${rows.length})`);

  const pin = `/sys/fs/bpf/rawbpf-core-cli-${process.pid}`;
  const r = spawnSync("bpftool", ["-d", "prog", "loadall", path, pin], { encoding: "utf8" });
  rmSync(pin, { recursive: true, force: true });
  const log = `${r.stdout}\n${r.stderr}`;
  let checked = 0;
  for (const m of log.matchAll(/prog '(\w+)': relo #\d+: patched insn #(\d+) \([^)]*\) (.*)$/gm)) {
    const [, program, insn, patch] = m;
    if (program === "parent_tgid" || program === "record_comm") continue; // .text, seen inside the programs
    const ours = rows.find((x) => x.program === program && x.insn === Number(insn));
    assert.ok(ours, `rawbpf lists the relocation of ${program} insn ${insn}`);
    assert.equal(ours.patch, patch, `${program} insn ${insn}: same patch as libbpf`);
    checked++;
  }
  for (const m of log.matchAll(/prog '(\w+)': relo #\d+: substituting insn #(\d+) w\/ invalid insn/g)) {
    const ours = rows.find((x) => x.program === m[1] && x.insn === Number(m[2]));
    assert.ok(ours?.poisoned, `${m[1]} insn ${m[2]} poisoned as libbpf does`);
    assert.match(ours.reason ?? "", /no_such_field_anywhere|has this field/, "the reason is given");
    checked++;
  }
  assert.ok(checked >= 12, `libbpf's log was read (${checked} relocations compared)`);

  const text = captureIo();
  assert.equal(await main(["object", path, "--core"], text), 0, text.err);
  assert.match(
    text.out,
    /#\d+ insn \d+ byte_off {2}struct task_struct: real_parent {2}-> {2}\[\d+\] struct task_struct: real_parent {2}imm 8 -> \d+/,
  );
  assert.match(text.out, /struct task_struct___old: no_such_field_anywhere {2}-> {2}no target {2}poisoned/);
  const bad = captureIo();
  assert.notEqual(await main(["object", path, "--btf", "/nonexistent"], bad), 0, "--btf without --core");
});
