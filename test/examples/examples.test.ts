import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { run as dropNeedle, MESSAGES, NEEDLE } from "../../examples/drop-needle.js";
import { run as hello } from "../../examples/hello.js";
import { run as privileges } from "../../examples/privileges.js";
import { run as verifierSaysNo } from "../../examples/verifier-says-no.js";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { needsRoot } from "../support/privilege.js";
import { needsSetpriv } from "../support/setpriv.js";

const quiet = () => {};

test("hello: every datagram truncated to 4 bytes, the level-2 log shows both instructions", async (t) => {
  if (!needsRoot(t)) return;
  const r = await hello(quiet);
  assert.deepEqual(r.before, ["hello, world"]);
  assert.deepEqual(r.filtered, ["hell", "hi"]);
  assert.deepEqual(r.after, ["hello, world"]);
  assert.match(r.log, /0: \(b7\) r0 = 4/);
  assert.match(r.log, /1: \(95\) exit/);
});

test("drop-needle: the kernel drops exactly the datagrams with the needle, on a socket pair and on UDP", async (t) => {
  if (!needsRoot(t)) return;
  const r = await dropNeedle(quiet);
  const expected = MESSAGES.filter((m) => !m.includes(NEEDLE));
  assert.ok(expected.length > 0 && expected.length < MESSAGES.length);
  assert.deepEqual(r.socketPair, expected);
  assert.deepEqual(r.udp, expected);
});

test("verifier-says-no: three rejections, each with the kernel's message and instruction", async (t) => {
  if (!needsRoot(t)) return;
  const r = await verifierSaysNo(quiet);
  assert.equal(r.length, 3);
  const [loop, clobbered, unfrozen] = r;
  assert.match(loop!.message, /infinite loop detected at insn \d+/);
  assert.equal(loop!.insn, Number(/insn (\d+)/.exec(loop!.message)![1]));
  assert.match(clobbered!.message, /R2 !read_ok/);
  assert.match(clobbered!.insnText ?? "", /call bpf_strncmp/);
  assert.match(unfrozen!.message, /R3 does not point to a readonly map/);
  for (const x of r) assert.ok(x.fix.length > 0 && x.log.includes(x.message));
});

test("privileges: CAP_BPF loads a socket filter; XDP needs CAP_NET_ADMIN; uninitialised stack needs CAP_PERFMON", async (t) => {
  if (!needsRoot(t)) return;
  const rows = await privileges(quiet);
  const at = (label: string, c: string) =>
    rows.find((r) => r.label === label)!.results.find((x) => x.case === c)!;
  const sf = "socket filter";
  const xdp = "XDP program";
  const stack = "socket filter reading uninitialised stack";
  for (const c of [sf, xdp, stack]) {
    const none = at("no capabilities", c);
    assert.equal(none.ok, false);
    assert.equal(none.errno, "EPERM");
    assert.equal(none.capability, "CAP_BPF");
    assert.equal(at("root (every capability)", c).ok, true);
  }
  assert.equal(at("CAP_BPF", sf).ok, true);
  assert.equal(at("CAP_BPF", xdp).capability, "CAP_NET_ADMIN");
  assert.equal(at("CAP_BPF", stack).errno, "EACCES");
  assert.equal(at("CAP_BPF", stack).capability, "CAP_PERFMON");
  assert.equal(at("CAP_BPF + CAP_NET_ADMIN", xdp).ok, true);
  assert.equal(at("CAP_BPF + CAP_PERFMON", stack).ok, true);
});

test("privileges runs from a private (mode 700) copy of the project, and says what it lacks under fewer capabilities", (t) => {
  if (!needsRoot(t) || !needsSetpriv(t)) return;
  const root = fileURLToPath(new URL("../..", import.meta.url));
  const copy = mkdtempSync(join(tmpdir(), "rawbpf-private-"));
  try {
    chmodSync(copy, 0o700);
    for (const dir of ["src", "examples"]) cpSync(join(root, dir), join(copy, dir), { recursive: true });
    cpSync(join(root, "package.json"), join(copy, "package.json"));
    symlinkSync(join(root, "node_modules"), join(copy, "node_modules"));
    const run = (argv: string[]) =>
      spawnSync(argv[0]!, argv.slice(1), { cwd: copy, encoding: "utf8", timeout: 120_000 });
    const full = run([process.execPath, "--import", "tsx", "examples/privileges.ts"]);
    assert.equal(full.status, 0, full.stderr);
    assert.match(full.stdout, /^CAP_BPF:\n {2}socket filter: loaded$/m, full.stdout);
    assert.match(full.stdout, /^no capabilities:\n {2}socket filter: refused, EPERM — needs CAP_BPF$/m);
    // under fewer capabilities it cannot start its children: it says which it lacks, no "Command failed"
    const reduced = run([
      "setpriv",
      "--inh-caps=-all",
      "--ambient-caps=-all",
      "--bounding-set=-all,+bpf,+perfmon,+net_admin",
      process.execPath,
      "--import",
      "tsx",
      "examples/privileges.ts",
    ]);
    assert.equal(reduced.status, 0, reduced.stderr);
    assert.match(
      reduced.stdout,
      /^privileges: needs root with every capability .*lacks CAP_SETPCAP, CAP_SYS_ADMIN; skipped$/m,
    );
    assert.doesNotMatch(reduced.stdout + reduced.stderr, /Command failed/);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});

test("rawbpf demo NAME runs one demo; an example also runs alone", async (t) => {
  if (!needsRoot(t)) return;
  const io = captureIo();
  assert.equal(await main(["demo", "hello"], io), 0, io.err);
  assert.match(io.out, /== hello ==/);
  assert.match(io.out, /received "hell", "hi"/);
  const list = captureIo();
  assert.equal(await main(["demo", "--help"], list), 0);
  for (const name of ["hello", "drop-needle", "verifier-says-no", "privileges"])
    assert.match(list.out, new RegExp(name));
  const script = fileURLToPath(new URL("../../examples/drop-needle.ts", import.meta.url));
  const alone = spawnSync(process.execPath, ["--import", "tsx", script], { encoding: "utf8" });
  assert.equal(alone.status, 0, alone.stderr);
  assert.match(alone.stdout, /its 'message' handler saw 3/);
});
