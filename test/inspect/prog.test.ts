import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { test } from "node:test";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { u32, u64 } from "../../src/codec/int.js";
import { asm } from "../../src/isa/template.js";
import { NoSuchObjectError } from "../../src/map/list.js";
import { BpfMap } from "../../src/map/map.js";
import { programById } from "../../src/program/list.js";
import { Program } from "../../src/program/program.js";
import { InputError } from "../../src/sys/error.js";
import { skipUnlessCI } from "../support/ci.js";
import { settledFdCount } from "../support/fds.js";
import { needsRoot } from "../support/privilege.js";

function bpftool(...args: string[]): unknown {
  return JSON.parse(execFileSync("bpftool", ["-j", ...args], { encoding: "utf8" }));
}

async function cli(...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  const io = captureIo();
  const status = await main(argv, io);
  return { status, out: io.out, err: io.err };
}

/** bpftool's JSON and ours, with loaded_at allowed to differ by a second (both round the wall clock). */
function sameProgram(ours: Record<string, unknown>, theirs: Record<string, unknown>, what: string): void {
  const at = Number(ours.loaded_at) - Number(theirs.loaded_at);
  assert.ok(Math.abs(at) <= 1, `${what}: loaded_at ${ours.loaded_at} vs bpftool's ${theirs.loaded_at}`);
  assert.deepEqual({ ...ours, loaded_at: 0 }, { ...theirs, loaded_at: 0 }, what);
}

function loadWithMap() {
  const map = BpfMap.create({ type: "hash", key: u32, value: u64, maxEntries: 4, name: "insp_cnt" });
  const prog = Program.load({
    type: "socket_filter",
    name: "insp_prog",
    instructions: asm`
      r1 = map[fd:${map.fd}]
      r2 = r10
      r2 += -8
      r3 = 0
      *(u64 *)(r10 - 8) = r3
      call bpf_map_lookup_elem
      r0 = 0
      exit`,
  });
  return { map, prog };
}

test("rawbpf prog show / list --json: bpftool -j's fields, field for field, on the programs we loaded", async (t) => {
  if (!needsRoot(t)) return;
  const { map, prog } = loadWithMap();
  using _m = map;
  using _p = prog;
  // a 15-character name is completed from BTF, as bpftool does
  using long = Program.load({
    type: "socket_filter",
    name: "abcdefghijklmno",
    instructions: asm`r0 = 0; exit`,
  });
  for (const p of [prog, long]) {
    const id = p.info().id;
    const show = await cli("prog", "show", String(id), "--json");
    assert.equal(show.status, 0, show.err);
    const theirs = bpftool("prog", "show", "id", String(id)) as Record<string, unknown>;
    sameProgram(JSON.parse(show.out), theirs, `prog ${id}`);
  }
  const list = await cli("prog", "list", "--json");
  assert.equal(list.status, 0, list.err);
  const ours = JSON.parse(list.out) as Record<string, unknown>[];
  const theirs = bpftool("prog", "list") as Record<string, unknown>[];
  const id = prog.info().id;
  const a = ours.find((p) => p.id === id);
  const b = theirs.find((p) => p.id === id);
  assert.ok(a && b, `program ${id} is in both listings`);
  sameProgram(a, b, "the listing's entry");
  assert.deepEqual(a.map_ids, [map.info().id], "the map the program uses");
  // the library's listing holds it too
  const listed = Program.list().find((p) => p.id === id);
  assert.equal(listed?.name, "insp_prog");
  assert.equal(listed?.tag, prog.info().tag);

  const text = await cli("prog", "show", "id", String(id));
  assert.match(
    text.out,
    new RegExp(`^${id}: socket_filter  name insp_prog  tag ${prog.info().tag}  gpl$`, "m"),
  );
  assert.match(text.out, new RegExp(`map_ids ${map.info().id}$`, "m"));
});

test("rawbpf prog dump xlated: source lines, prototype and map names as the kernel's BTF and bpftool say", async (t) => {
  if (!needsRoot(t)) return;
  const { map, prog } = loadWithMap();
  using _m = map;
  using _p = prog;
  const id = String(prog.info().id);
  const theirs = bpftool("prog", "dump", "xlated", "id", id) as Record<string, string>[];
  const dumped = await cli("prog", "dump", "xlated", id, "--json");
  assert.equal(dumped.status, 0, dumped.err);
  const ours = JSON.parse(dumped.out) as Record<string, unknown>[];
  // bpftool's fields, text for text; rawbpf adds the map each map load refers to
  assert.deepEqual(
    ours.map(({ map: _map, ...rest }) => rest),
    theirs,
  );
  assert.deepEqual(ours[0]!.map, { id: map.info().id, name: "insp_cnt" });
  const x = prog.xlated();
  assert.equal(x.instructions[0]?.source?.text, "r1 = map[fd:" + String(map.fd) + "]");
  assert.equal(x.instructions[0]?.function, "main");

  const text = await cli("prog", "dump", "xlated", id);
  assert.match(text.out, /^int main\(void \* ctx\):$/m);
  assert.match(
    text.out,
    new RegExp(`^ {3}0: \\(18\\) r1 = map\\[id:${map.info().id}\\]  # map 'insp_cnt'$`, "m"),
  );
});

test("rawbpf prog dump xlated --json of a program with two functions is bpftool's, entry for entry", async (t) => {
  if (!needsRoot(t)) return;
  using prog = Program.load({
    type: "socket_filter",
    instructions: asm`
      call helper
      exit
      .func helper
      r0 = 0
      exit`,
  });
  const id = String(prog.info().id);
  const ours = await cli("prog", "dump", "xlated", id, "--json");
  assert.equal(ours.status, 0, ours.err);
  // the call after JIT: the subprogram's kernel symbol, from /proc/kallsyms
  assert.deepEqual(JSON.parse(ours.out), bpftool("prog", "dump", "xlated", "id", id));
  assert.deepEqual(
    prog.xlated().instructions.map((x) => x.function),
    ["main", undefined, "helper", undefined],
  );
});

test("prog.xlated(): every instruction's text is the kernel's printer's, as bpftool shows it", (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "hash", key: u32, value: u64, maxEntries: 4 });
  using prog = Program.load({
    type: "socket_filter",
    instructions: asm`
      r6 = r1
      r2 = 0
      *(u32 *)(r10 - 4) = r2
      *(u64 *)(r10 - 16) = 7
      r1 = map[fd:${map.fd}]
      r2 = r10
      r2 += -4
      call bpf_map_lookup_elem
      if r0 == 0 goto out
      r1 = *(u64 *)(r0 + 0)
      r1 += 1
      r1 *= 3
      r1 &= 0xff
      r1 <<= 2
      w1 += 5
      if r1 > 100 goto out
      if r1 s< -5 goto out
      if w1 != 0x12345 goto out
      r1 = -1
      *(u64 *)(r0 + 0) = r1
      lock *(u64 *)(r0 + 0) += r1
    out:
      r0 = 0
      exit`,
  });
  const theirs = bpftool("prog", "dump", "xlated", "id", String(prog.info().id)) as { disasm: string }[];
  const ours = prog
    .xlated()
    .instructions.map((x) => `(${x.insn.code.toString(16).padStart(2, "0")}) ${x.text}`);
  assert.deepEqual(
    ours,
    theirs.map((x) => x.disasm),
  );
});

test("rawbpf prog dump jited: the kernel's machine code, disassembled by llvm-objdump where installed", async (t) => {
  if (!needsRoot(t)) return;
  using prog = Program.load({ type: "socket_filter", name: "insp_jit", instructions: asm`r0 = 7; exit` });
  const info = prog.info();
  const jited = prog.jited();
  assert.equal(jited.code.byteLength, info.jitedLength, "all the JIT-compiled bytes");
  const out = await cli("prog", "dump", "jited", String(info.id), "--json");
  assert.equal(out.status, 0, out.err);
  const j = JSON.parse(out.out) as { functions: { bytes: string; length: number; disassembly?: string[] }[] };
  assert.equal(j.functions[0]!.bytes, Buffer.from(jited.code).toString("hex"));
  const lines = j.functions[0]!.disassembly;
  if (!lines) {
    skipUnlessCI(t, "llvm-objdump-19 is not installed");
    return;
  }
  // llvm-objdump read every byte the kernel gave, in order, at the function's kernel address
  const bytes = lines
    .map((l) => /^[0-9a-f]+: ((?:[0-9a-f]{2} )+)/.exec(l)?.[1]?.replaceAll(" ", "") ?? "")
    .join("");
  assert.equal(bytes, j.functions[0]!.bytes, "the disassembly covers the code byte for byte");
  if (jited.functions[0]!.address !== 0n)
    assert.ok(lines[0]!.startsWith(`${jited.functions[0]!.address.toString(16)}:`), lines[0]);
  if (process.arch === "x64")
    assert.ok(
      lines.some((l) => /\$7\b/.test(l)),
      `r0 = 7 becomes a move of 7: ${lines.join("; ")}`,
    );
});

test("rawbpf prog pin ID PATH: pins the program by id", async (t) => {
  if (!needsRoot(t)) return;
  using prog = Program.load({ type: "socket_filter", instructions: asm`r0 = 0; exit` });
  const path = `/sys/fs/bpf/rawbpf-inspect-prog-${process.pid}`;
  rmSync(path, { force: true });
  try {
    const r = await cli("prog", "pin", String(prog.info().id), path);
    assert.equal(r.status, 0, r.err);
    using again = Program.open(path);
    assert.equal(again.info().id, prog.info().id);
    const twice = await cli("prog", "pin", String(prog.info().id), path);
    assert.equal(twice.status, 1, "a second pin at the same path fails");
    assert.match(twice.err, /already exists/);
  } finally {
    rmSync(path, { force: true });
  }
  assert.ok(!existsSync(path));
});

test("rawbpf prog: gone and wrong ids are one-line typed errors, and leak no descriptor", async (t) => {
  if (!needsRoot(t)) return;
  const prog = Program.load({ type: "socket_filter", instructions: asm`r0 = 0; exit` });
  const id = prog.info().id;
  prog.close();
  assert.equal(programById(id), undefined, "a program gone since listing is left out");
  const before = settledFdCount("anon_inode:bpf-prog");
  for (const argv of [
    ["prog", "show", String(id)],
    ["prog", "dump", "xlated", String(id)],
    ["prog", "dump", "jited", String(id)],
    ["prog", "pin", String(id), "/sys/fs/bpf/x"],
  ]) {
    const r = await cli(...argv);
    assert.equal(r.status, 1, argv.join(" "));
    assert.equal(r.err.trimEnd().split("\n").length, 1, `one line: ${r.err}`);
    assert.match(r.err, new RegExp(`no program with id ${id}`));
    const j = await cli(...argv, "--json");
    assert.equal(JSON.parse(j.out).error.kind, "NoSuchObjectError");
  }
  assert.equal(settledFdCount("anon_inode:bpf-prog"), before, "no program descriptor left open");
  assert.ok(new NoSuchObjectError("prog", 1) instanceof InputError, "a typed input error");
  for (const argv of [
    ["prog"],
    ["prog", "frob"],
    ["prog", "show", "x"],
    ["prog", "dump", "raw", "1"],
    ["prog", "pin", "1"],
  ]) {
    const r = await cli(...argv);
    assert.equal(r.status, 2, argv.join(" "));
    assert.match(r.err, /rawbpf prog: .*\(rawbpf prog --help\)/);
  }
});
