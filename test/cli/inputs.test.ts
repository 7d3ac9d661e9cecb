/**
 * Every input the command line takes is checked for what it is (issue 10, part 3): ELF objects
 * recognised by their magic, reads bounded, logs that are not verifier logs refused, pin paths
 * checked, asm directives checked, help and unknown commands, node:util flags, JSON failures.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { captureIo, PROGRAM_LIMIT, TEXT_LIMIT } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { filesystemOf } from "../../src/cli/pin.js";
import { encode } from "../../src/isa/encode.js";
import { returnValue } from "../program/insns.js";
import { needsRoot } from "../support/privilege.js";

const dir = mkdtempSync(join(tmpdir(), "rawbpf-inputs-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, data: Uint8Array | string) => {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
};

/** Runs the command line in process; stdin, when given, is an endless or long stream of `chunk`. */
async function cli(argv: string[], stdin?: { chunk: Uint8Array; times: number }) {
  const io = captureIo();
  let given = 0;
  if (stdin) {
    io.stdin = () =>
      (async function* () {
        for (; given < stdin.times; given++) yield stdin.chunk;
      })();
  }
  const status = await main(argv, io);
  return { status, out: io.out, err: io.err, given };
}

/** A tool on PATH, or a skip (a failure under CI=true). */
function tool(t: { skip: (m: string) => void }, name: string): boolean {
  if (spawnSync(name, ["--version"], { stdio: "ignore" }).error === undefined) return true;
  if (process.env.CI === "true") assert.fail(`${name} is needed (.ci/run installs it)`);
  t.skip(`no ${name}`);
  return false;
}

test("an ELF file is refused by disasm by its magic, and read as a BPF object by load and run", async () => {
  // node itself is an ELF file; a .bin name does not make it instructions
  const elf = file("prog.bin", execFileSync("head", ["-c", "65536", process.execPath]));
  const r = await cli(["disasm", elf]);
  assert.equal(r.status, 1, "disasm");
  assert.match(r.err, /^rawbpf disasm: .*prog\.bin is an ELF object; rawbpf disasm takes/, r.err);
  for (const argv of [
    ["load", elf, "--type", "tracepoint"],
    ["run", elf, "--type", "xdp", "--data", "00".repeat(14)],
  ]) {
    const o = await cli(argv);
    assert.equal(o.status, 1, argv.join(" "));
    assert.match(o.err, new RegExp(`^rawbpf ${argv[0]}: .*prog\\.bin cannot be read as a BPF object`), o.err);
  }
  const asm = await cli(["asm", elf]);
  assert.equal(asm.status, 1);
  assert.match(asm.err, /is an ELF object, not assembly text/);
});

test("load decodes instruction bytes as disasm does before the kernel is asked", async () => {
  // an unknown opcode: the decoder's message, the same one disasm gives
  const bad = file("bad.bin", Uint8Array.from([0x39, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]));
  const load = await cli(["load", bad, "--type", "socket_filter"]);
  const disasm = await cli(["disasm", bad]);
  assert.equal(load.status, 1);
  assert.equal(disasm.status, 1);
  const reason = /(cannot decode instruction at byte 0.*)/.exec(disasm.err)?.[1];
  assert.ok(reason, disasm.err);
  assert.ok(load.err.includes(reason), `load says what disasm says: ${load.err}`);
  assert.doesNotMatch(load.err, /BPF_PROG_LOAD|EINVAL/);
  const empty = await cli(["load", file("empty.bin", ""), "--type", "xdp"]);
  assert.equal(empty.status, 1);
  assert.match(empty.err, /is empty/);
});

test("btf dump of a clang object reads its .BTF section, as bpftool does", async (t) => {
  if (!tool(t, "clang-19") || !tool(t, "bpftool")) return;
  const src = file("t.c", "struct pair { int a; long b; };\nint f(struct pair *p) { return p->a; }\n");
  const obj = join(dir, "t.o");
  execFileSync("clang-19", ["-g", "-O2", "-target", "bpf", "-c", src, "-o", obj]);
  const ours = await cli(["btf", "dump", obj]);
  assert.equal(ours.status, 0, ours.err);
  const theirs = execFileSync("bpftool", ["btf", "dump", "file", obj], { encoding: "utf8" });
  assert.equal(ours.out, theirs);
  assert.match(ours.out, /STRUCT 'pair' size=16 vlen=2/);
  // an ELF file with no .BTF says so
  const none = await cli(["btf", "dump", process.execPath]);
  assert.equal(none.status, 1);
  assert.match(none.err, /is an ELF object with no \.BTF section/);
});

test("reads from devices, pipes and stdin stop at their limit with a clear error", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["load", "/dev/urandom", "--type", "xdp"],
      /\/dev\/urandom is larger than 8,000,000 bytes, the limit for instruction bytes/,
    ],
    [["disasm", "/dev/zero"], /\/dev\/zero is larger than 8,000,000 bytes/],
    [["btf", "dump", "/dev/zero"], /\/dev\/zero is larger than 16,777,216 bytes, the limit for BTF/],
    [
      ["run", "/dev/null", "--type", "xdp", "--data", "@/dev/zero"],
      /--data: \/dev\/zero is larger than 1,048,576 bytes/,
    ],
    [["explain", "/dev/zero"], /\/dev\/zero is larger than 67,108,864 bytes, the limit for text/],
  ];
  for (const [argv, re] of cases) {
    const r = await cli(argv);
    assert.equal(r.status, 1, argv.join(" "));
    assert.match(r.err, re, argv.join(" "));
  }
  // standard input: the reader stops at the limit instead of taking all that is offered
  const line = Buffer.from("r0 = 0\n".repeat(150_000)); // ~1 MiB of valid assembly
  const times = 1000; // ~1 GiB offered
  for (const cmd of ["asm", "explain"]) {
    const r = await cli([cmd, "-"], { chunk: line, times });
    assert.equal(r.status, 1, cmd);
    assert.match(r.err, /standard input is larger than 67,108,864 bytes/, cmd);
    assert.ok(
      r.given * line.length <= TEXT_LIMIT.bytes + line.length,
      `${cmd} stopped at the limit (${r.given} chunks)`,
    );
  }
  const bytes = Buffer.from(encode(returnValue(0)).subarray(0, 8)); // mov r0, 0 over and over
  const zeros = await cli(["disasm", "-"], { chunk: Buffer.concat(Array(8192).fill(bytes)), times });
  assert.equal(zeros.status, 1);
  assert.match(zeros.err, /standard input is larger than 8,000,000 bytes/);
  assert.ok(
    zeros.given * 65536 <= PROGRAM_LIMIT.bytes + 65536,
    `disasm stopped at the limit (${zeros.given})`,
  );
});

test("a regular file over the limit is refused without being read (a sparse 1 GiB file)", async () => {
  const big = join(dir, "big.bin");
  // text at its head (so no command refuses it for what it is), then a hole up to 1 GiB
  writeFileSync(big, "r0 = 0\n".repeat(100));
  execFileSync("truncate", ["-s", "1G", big]);
  for (const argv of [
    ["disasm", big],
    ["asm", big],
    ["btf", "dump", big],
  ]) {
    const r = await cli(argv);
    assert.equal(r.status, 1, argv.join(" "));
    assert.match(r.err, /is larger than [\d,]+ bytes/, argv.join(" "));
  }
  rmSync(big);
});

test("asm refuses binary input and caps its diagnostics", async () => {
  const random = file("random.bin", execFileSync("head", ["-c", String(1 << 20), "/dev/urandom"]));
  const r = await cli(["asm", random]);
  assert.equal(r.status, 1);
  assert.match(r.err, /is not text .*rawbpf disasm/);
  assert.ok(r.err.split("\n").length < 5, "one message, not one per line");
  const many = file("many.s", "foo r1\n".repeat(1000));
  const m = await cli(["asm", many, "--format", "hex"]);
  assert.equal(m.status, 1);
  assert.match(m.err, /^1000 errors in /);
  assert.match(m.err, /\n\.\.\. and 980 more errors\n$/);
  assert.equal(m.err.match(/error: unknown instruction 'foo'/g)?.length, 20);
});

test("asm checks .type and .map type= as load does, with the nearest name", async () => {
  const type = await cli(["asm", file("t.s", ".type socket_filtr\nr0 = 0\nexit\n"), "--format", "hex"]);
  assert.equal(type.status, 1);
  assert.match(
    type.err,
    /t\.s:1:7: error: unknown program type 'socket_filtr' \(did you mean 'socket_filter'\?\)/,
  );
  const map = await cli([
    "asm",
    file("m.s", ".map m type=hsah key=4 value=4 entries=1\nr0 = 0\nexit\n"),
    "--format",
    "hex",
  ]);
  assert.equal(map.status, 1);
  assert.match(map.err, /m\.s:1:13: error: unknown map type 'hsah' \(did you mean 'hash'\?\)/);
  const ok = await cli([
    "asm",
    file("ok.s", ".type xdp\n.map m type=hash key=4 value=4 entries=1\nr0 = 0\nexit\n"),
    "--format",
    "hex",
  ]);
  assert.equal(ok.status, 0, ok.err);
  // load gives the same error, at the same place
  const load = await cli(["load", join(dir, "t.s")]);
  assert.equal(load.status, 1);
  assert.match(load.err, /t\.s:1:7: error: unknown program type 'socket_filtr'/);
});

test("explain refuses what is not a verifier log (exit 2)", async () => {
  for (const input of ["hello world\n", "", "loaded xdp program: id 3, tag 00\n"]) {
    const r = await cli(["explain"], { chunk: Buffer.from(input), times: 1 });
    assert.equal(r.status, 2, JSON.stringify(input));
    assert.match(r.err, /no verifier log found in standard input/);
    assert.equal(r.out, "");
  }
  // a message the catalog knows is a log, even alone
  const known = await cli(["explain"], { chunk: Buffer.from("unreachable insn 1\n"), times: 1 });
  assert.equal(known.status, 0, known.err);
  assert.match(known.out, /unreachable insn 1/);
});

test("explain skips rawbpf's own lines: load --log-level 2 | explain says the log has no error", async (t) => {
  if (!needsRoot(t)) return;
  const ok = file("ok.s", ".type socket_filter\nr0 = 0\nexit\n");
  const load = await cli(["load", ok, "--log-level", "2"]);
  assert.equal(load.status, 0, load.err);
  assert.match(load.out, /^loaded socket_filter program/m);
  const r = await cli(["explain", "-"], { chunk: Buffer.from(load.out), times: 1 });
  assert.equal(r.status, 0, r.err);
  assert.doesNotMatch(r.out, /loaded socket_filter|error:/);
  assert.match(r.out, /no error/);
  // and a rejection's log with rawbpf's own lines around it is still explained by its own error
  const bad = file("bad.s", ".type socket_filter\nr0 = r5\nexit\n");
  const rejected = await cli(["load", bad, "--log-level", "1"]);
  assert.equal(rejected.status, 1);
  const x = await cli(["explain", "-"], { chunk: Buffer.from(rejected.err), times: 1 });
  assert.equal(x.status, 0, x.err);
  assert.match(x.out, /^error: R5 !read_ok/);
});

test("--pin: a directory not on a bpffs, a path that exists, a directory that does not", async (t) => {
  const prog = file("p.s", ".type xdp\nr0 = 2\nexit\n");
  // the filesystem type as stat(1) reads it from statfs, the independent oracle
  const type = execFileSync("stat", ["-f", "-c", "%T", dir], { encoding: "utf8" }).trim();
  assert.notEqual(type, "bpf_fs");
  const tmp = await cli(["load", prog, "--pin", join(dir, "pinned")]);
  assert.equal(tmp.status, 1);
  assert.match(tmp.err, /is on a filesystem of type \S+ .*not a bpffs/);
  assert.doesNotMatch(tmp.err, /EPERM|root/);
  const exists = await cli(["load", prog, "--pin", dir]);
  assert.equal(exists.status, 1);
  assert.match(exists.err, /exists \(it is a directory\)/);
  const missing = await cli(["load", prog, "--pin", join(dir, "nope", "p")]);
  assert.equal(missing.status, 1);
  assert.match(missing.err, /the directory .*nope does not exist/);
  if (
    !existsSync("/sys/fs/bpf") ||
    execFileSync("stat", ["-f", "-c", "%T", "/sys/fs/bpf"], { encoding: "utf8" }).trim() !== "bpf_fs"
  )
    return t.skip("no bpffs at /sys/fs/bpf");
  const mountinfo = execFileSync("cat", ["/proc/self/mountinfo"], { encoding: "utf8" });
  assert.equal(filesystemOf("/sys/fs/bpf", mountinfo)?.type, "bpf");
  assert.notEqual(filesystemOf(dir, mountinfo)?.type, "bpf");
  const pinned = await cli(["load", prog, "--pin", "/sys/fs/bpf"]);
  assert.match(pinned.err, /\/sys\/fs\/bpf exists \(it is a directory\); pin at a new name/);
  assert.doesNotMatch(pinned.err, /EEXIST|BPF_NOEXIST/);
});

test("help: rawbpf help CMD and rawbpf CMD --help; unknown and empty commands", async () => {
  for (const cmd of ["load", "run", "asm", "disasm", "btf", "explain", "feature", "link", "demo"]) {
    const a = await cli(["help", cmd]);
    const b = await cli([cmd, "--help"]);
    assert.equal(a.status, 0, cmd);
    assert.equal(b.status, 0, cmd);
    assert.match(a.out, new RegExp(`usage: rawbpf ${cmd}`), cmd);
    assert.equal(a.out, b.out, cmd);
  }
  for (const name of ["__proto__", "constructor", "toString", "hasOwnProperty", "lod"]) {
    const r = await cli([name]);
    assert.equal(r.status, 2, name);
    assert.match(r.err, new RegExp(`^rawbpf: unknown command '${name}'`), name);
    assert.doesNotMatch(r.err, /is not a function/);
    assert.equal(r.out, "");
  }
  assert.match((await cli(["lod"])).err, /did you mean 'load'\?/);
  const empty = await cli([""]);
  assert.equal(empty.status, 2);
  assert.equal(empty.out, "");
  assert.match(empty.err, /empty string/);
  const none = await cli([]);
  assert.equal(none.status, 2);
  assert.match(none.err, /^usage: rawbpf COMMAND/);
  const unknownHelp = await cli(["help", "constructor"]);
  assert.equal(unknownHelp.status, 2);
  assert.match(unknownHelp.err, /unknown command 'constructor'/);
  // demo usage errors are usage errors: exit 2
  assert.equal((await cli(["demo", "helo"])).status, 2);
  assert.equal((await cli(["demo", "hello", "extra"])).status, 2);
  // disasm of empty input is an error
  const nothing = await cli(["disasm"], { chunk: Buffer.alloc(0), times: 1 });
  assert.equal(nothing.status, 1);
  assert.match(nothing.err, /<stdin> is empty/);
});

test("flags as node:util parses them: --flag=value, --, unknown flags with the nearest name", async () => {
  const src = file("f.s", "r0 = 1\nexit\n");
  const eq = await cli(["asm", src, "--format=hex"]);
  assert.equal(eq.status, 0, eq.err);
  assert.equal(eq.out, "b7 00 00 00 01 00 00 00\n95 00 00 00 00 00 00 00\n");
  // after '--', '--json' is a file name, not a flag
  const afterDashes = await cli(["explain", "--", "--json"]);
  assert.equal(afterDashes.status, 1);
  assert.match(afterDashes.err, /cannot read --json: ENOENT/);
  const typo = await cli(["asm", src, "--formt", "hex"]);
  assert.equal(typo.status, 2);
  assert.match(typo.err, /unknown option --formt — did you mean --format\?/);
  const missing = await cli(["asm", src, "--format"]);
  assert.equal(missing.status, 2);
  assert.match(missing.err, /--format needs a value/);
  const boolValue = await cli(["explain", "--json=yes"]);
  assert.equal(boolValue.status, 2);
  assert.match(boolValue.err, /--json takes no value/);
  const short = await cli(["asm", src, "-o", join(dir, "f.bin")]);
  assert.equal(short.status, 0, short.err);
});

test("with --json every failure is one JSON object on stdout, in load's shape", async (t) => {
  if (!needsRoot(t)) return;
  const sf = file("sf.s", ".type socket_filter\nr0 = 0\nexit\n");
  for (const [argv, status, re] of [
    [["run", sf, "--json"], 1, /at least 14 bytes/],
    [["run", sf, "--json", "--bogus"], 2, /unknown option --bogus/],
    [["load", "/dev/zero", "--type", "xdp", "--json"], 1, /larger than 8,000,000 bytes/],
    [["explain", "--json", "/nonexistent"], 1, /cannot read \/nonexistent/],
    [["link", "show", "x", "--json"], 2, /link id/],
  ] as [string[], number, RegExp][]) {
    const r = await cli(argv);
    assert.equal(r.status, status, argv.join(" "));
    assert.equal(r.err, "", argv.join(" "));
    const out = JSON.parse(r.out);
    assert.match(out.error.message, re, argv.join(" "));
    for (const key of ["errno", "insn", "verifier", "explanation"]) assert.ok(key in out.error, key);
    assert.equal(typeof out.log, "string");
  }
});

test("run on a socket filter says what happened to the Ethernet header", async (t) => {
  if (!needsRoot(t)) return;
  const data = "00112233445566778899aabbccdd" + "eeff0102";
  const sf = file("sf2.s", ".type socket_filter\nr0 = 0xffff\nexit\n");
  const r = await cli(["run", sf, "--data", data, "--json"]);
  assert.equal(r.status, 0, r.err);
  const out = JSON.parse(r.out);
  // the kernel gives the 14 header bytes back zeroed: the note must say so exactly then
  assert.equal(out.data_out.slice(0, 28), "00".repeat(14));
  assert.equal(out.data_out.slice(28), "eeff0102");
  assert.match(out.note, /first 14 bytes .* Ethernet header.* saw the 4 bytes after it/);
  const text = await cli(["run", sf, "--data", data]);
  assert.match(text.out, /^note: the kernel's test run took the first 14 bytes/m);
  // tc programs see layer 2: the data comes back as it went in, and there is no note
  const tc = file("tc.s", ".type sched_cls\nr0 = 0\nexit\n");
  const l2 = JSON.parse((await cli(["run", tc, "--data", data, "--json"])).out);
  assert.equal(l2.data_out, data);
  assert.equal(l2.note, undefined);
});
