import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { encode } from "../../src/isa/encode.js";
import { exit, ldxW, movImm, movReg, returnValue } from "../program/insns.js";
import { needsRoot } from "../support/privilege.js";

const dir = mkdtempSync(join(tmpdir(), "rawbpf-cli-"));
const file = (name: string, data: Uint8Array | string) => {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
};
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

test("load prints id, tag and statistics that bpftool agrees with", async (t) => {
  if (!needsRoot(t)) return;
  const bin = file("four.bin", encode(returnValue(4)));
  const io = captureIo();
  assert.equal(await main(["load", bin, "--type", "socket_filter", "--json"], io), 0, io.err);
  const out = JSON.parse(io.out);
  assert.equal(out.type, "socket_filter");
  assert.equal(out.insns, 2);
  assert.equal(out.stats.processed_insns, 2);
  // the kernel computes the tag over the instructions; bpftool computes the same over the same bytes
  const text = captureIo();
  assert.equal(await main(["load", bin, "--type", "socket_filter", "--log-level", "2"], text), 0);
  assert.match(text.out, /0: \(b7\) r0 = 4/);
  assert.match(text.out, new RegExp(`tag ${out.tag}`));
});

test("load --pin keeps the program; bpftool sees it pinned", async (t) => {
  if (!needsRoot(t)) return;
  if (!/ \/sys\/fs\/bpf bpf /.test(execFileSync("cat", ["/proc/mounts"], { encoding: "utf8" }))) {
    if (process.env.CI === "true") assert.fail("no bpffs at /sys/fs/bpf (.ci/run mounts it)");
    return t.skip("no bpffs at /sys/fs/bpf");
  }
  const pin = `/sys/fs/bpf/rawbpf-cli-${process.pid}`;
  const io = captureIo();
  try {
    assert.equal(
      await main(
        ["load", file("p.bin", encode(returnValue(1))), "--type", "xdp", "--pin", pin, "--json"],
        io,
      ),
      0,
    );
    const show = JSON.parse(
      execFileSync("bpftool", ["prog", "show", "pinned", pin, "--json"], { encoding: "utf8" }),
    );
    assert.equal(show.id, JSON.parse(io.out).id);
  } finally {
    rmSync(pin, { force: true });
  }
});

test("load of a rejected program: the log, the error and the instruction, exit 1", async (t) => {
  if (!needsRoot(t)) return;
  const bad = file("bad.bin", encode([movImm(0, 0), movReg(0, 5), exit()]));
  const text = captureIo();
  assert.equal(await main(["load", bad, "--type", "socket_filter"], text), 1);
  assert.match(text.err, /R5 !read_ok/);
  assert.match(text.err, /EACCES/);
  const json = captureIo();
  assert.equal(await main(["load", bad, "--type", "socket_filter", "--json"], json), 1);
  const out = JSON.parse(json.out);
  assert.equal(out.error.insn, 1);
  assert.match(out.error.message, /EACCES/);
  assert.equal(typeof out.error.explanation, "string");
  assert.match(out.log, /R5 !read_ok/);
});

test("load reads raw bytes from standard input and assembly from a .s file", async (t) => {
  if (!needsRoot(t)) return;
  const io = captureIo(Buffer.from(encode(returnValue(9))));
  assert.equal(
    await main(["run", "-", "--type", "socket_filter", "--data", "00".repeat(14), "--json"], io),
    0,
    io.err,
  );
  assert.equal(JSON.parse(io.out).retval, 9);
  const s = file("x.s", ".type xdp\nr0 = 3\nexit\n");
  const asm = captureIo();
  assert.equal(await main(["run", s, "--data", "ab".repeat(20), "--json"], asm), 0, asm.err);
  assert.equal(JSON.parse(asm.out).retval, 3);
});

test("run: retval, duration and data out; --ctx and --repeat", async (t) => {
  if (!needsRoot(t)) return;
  const bin = file("mark.bin", encode([ldxW(0, 1, 8), exit()])); // r0 = skb->mark
  const ctx = Buffer.alloc(192);
  ctx.writeUInt32LE(77, 8);
  const ctxFile = file("ctx.bin", ctx);
  const io = captureIo();
  const data = "ff".repeat(60);
  assert.equal(
    await main(
      ["run", bin, "--type", "sched_cls", "--data", data, "--ctx", `@${ctxFile}`, "--repeat", "5", "--json"],
      io,
    ),
    0,
    io.err,
  );
  const out = JSON.parse(io.out);
  assert.equal(out.retval, 77);
  assert.equal(typeof out.duration_ns, "number");
  assert.equal(out.data_out, data);
  const text = captureIo();
  assert.equal(
    await main(["run", bin, "--type", "sched_cls", "--data", data, "--ctx", `@${ctxFile}`], text),
    0,
  );
  assert.match(text.out, /retval: 77/);
  assert.match(text.out, /duration: \d+ ns/);
});

test("bad command lines: errors on stderr, non-zero exit; --help everywhere", async (t) => {
  if (!needsRoot(t)) return;
  const bin = file("ok.bin", encode(returnValue(0)));
  const cases: [string[], RegExp][] = [
    [["load"], /expected one FILE/],
    [["load", bin], /--type is required/],
    [["load", bin, "--type", "xpd"], /did you mean 'xdp'/],
    [["load", join(dir, "missing.bin"), "--type", "xdp"], /cannot read/],
    [["load", file("odd.bin", new Uint8Array(12)), "--type", "xdp"], /multiple of 8/],
    [["load", bin, "--type", "xdp", "--log-level", "x"], /--log-level must be an integer/],
    [["run", bin, "--type", "xdp", "--data", "zz"], /hex digits/],
    [["run", bin, "--type", "xdp", "--data", "00"], /at least 14 bytes/],
    [["run", bin, "--type", "xdp", "--bogus"], /unknown option/],
    [["demo", "helo"], /did you mean 'hello'/],
  ];
  for (const [argv, re] of cases) {
    const io = captureIo();
    const code = await main(argv, io);
    assert.notEqual(code, 0, argv.join(" "));
    assert.match(io.err, re, argv.join(" "));
  }
  for (const cmd of ["load", "run", "demo"]) {
    const io = captureIo();
    assert.equal(await main([cmd, "--help"], io), 0);
    assert.match(io.out, new RegExp(`usage: rawbpf ${cmd}`));
  }
});

test("the real binary: bin/rawbpf.js after the build loads and runs a program", (t) => {
  if (!needsRoot(t)) return;
  const root = new URL("../../", import.meta.url).pathname;
  // tsc emits even when another part of the tree has a type error mid-edit; the binary is what counts here
  spawnSync("npx", ["tsc", "-p", "."], { cwd: root, stdio: "pipe" });
  const bundle = spawnSync(process.execPath, [join(root, "scripts/bundle.mjs")], {
    cwd: root,
    encoding: "utf8",
  });
  assert.equal(bundle.status, 0, bundle.stderr);
  // the code caches recorded by the build (one for every command, one for load/object, and the
  // compile bundle's), gzipped, are ones this Node accepts for the bundle bin/rawbpf.js compiles
  // (asked of bin/rawbpf.js itself: it compiles with V8 flags of its own, which a cache must have
  // been made with)
  const cli = join(root, "dist/src/cli/main.cjs");
  const check = spawnSync(process.execPath, [join(root, "bin/rawbpf.js"), "--check-code-cache"], {
    encoding: "utf8",
  });
  assert.equal(check.status, 0, check.stderr);
  const rejected = JSON.parse(check.stdout) as Record<string, boolean>;
  for (const cache of ["cache.gz", "load.cache.gz"]) {
    assert.equal(rejected[`${cli}.${cache}`], false, cache);
  }
  assert.equal(rejected[join(root, "dist/src/cli/compile.cjs.cache.gz")], false, "compile.cjs.cache.gz");
  // without a build, the binary says what to run instead of failing somewhere inside Node
  const bare = mkdtempSync(join(tmpdir(), "rawbpf-unbuilt-"));
  try {
    mkdirSync(join(bare, "bin"));
    for (const f of ["rawbpf.js", "package.json"]) copyFileSync(join(root, "bin", f), join(bare, "bin", f));
    const unbuilt = spawnSync(process.execPath, [join(bare, "bin/rawbpf.js"), "demo"], { encoding: "utf8" });
    assert.equal(unbuilt.status, 1);
    assert.match(unbuilt.stderr, /main\.cjs is missing: run `npm run build`/);
  } finally {
    rmSync(bare, { recursive: true, force: true });
  }
  // the demos stay ES modules beside the bundle, imported through the loader
  const demo = spawnSync(process.execPath, [join(root, "bin/rawbpf.js"), "demo", "hello"], {
    encoding: "utf8",
  });
  assert.equal(demo.status, 0, demo.stderr);
  assert.match(demo.stdout, /with the filter, sent "hello, world" and "hi", received "hell", "hi"/);
  const bin = file("real.bin", encode(returnValue(2)));
  const r = spawnSync(
    process.execPath,
    [join(root, "bin/rawbpf.js"), "run", bin, "--type", "xdp", "--data", "00".repeat(14), "--json"],
    {
      encoding: "utf8",
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).retval, 2);
  const bad = spawnSync(process.execPath, [join(root, "bin/rawbpf.js"), "load", bin], { encoding: "utf8" });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--type is required/);
});
