/**
 * USDT probes against the real kernel: test/usdt/target.c (compiled here with cc at -O0 and -O2,
 * so arguments are in registers, on the stack through %rbp and %rsp, and constants) fires
 * probes and prints the sums of what it passed; the BPF program sums what `usdtArg` reads. The
 * notes are compared with `readelf -n`, the pt_regs offsets with the kernel's BTF, and the
 * semaphore is proved by the code it guards running only while the probe is attached.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { vmlinuxBtf } from "../../src/btf/kernel.js";
import { u32, u64 } from "../../src/codec/index.js";
import { ElfFormatError, UnreadableBinaryError, WrongProgramTypeError } from "../../src/link/index.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { InputError } from "../../src/sys/error.js";
import { X86_64_PT_REGS, X86_64_PT_REGS_MEMBERS } from "../../src/usdt/args.js";
import {
  attachUsdt,
  listUsdtProbes,
  parseUsdtArgs,
  UsdtArgError,
  UsdtProbeNotFoundError,
  UsdtSpecsFullError,
  usdtArg,
  usdtArgCount,
  usdtAsm,
  usdtCookie,
  usdtSpecMap,
} from "../../src/usdt/index.js";
import { needsRoot, openFdCount } from "../support/privilege.js";
import { sdtTargets } from "./targets.js";

const here = dirname(fileURLToPath(import.meta.url));
const N = 20;
const targets = sdtTargets("rawbpf-usdt-", "target.c", { "-O0": ["-O0"], "-O2": ["-O2"] });
const { builds, skipWithoutSdt } = targets;

/** The probes `readelf -n` prints (binutils: an independent reader of the same notes). */
function readelfProbes(binary: string) {
  const text = execFileSync("readelf", ["-n", binary], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  const out: { provider: string; name: string; location: bigint; semaphore: bigint; args: string }[] = [];
  const re =
    /Provider: (\S+)\s+Name: (\S+)\s+Location: (0x[0-9a-f]+), Base: 0x[0-9a-f]+, Semaphore: (0x[0-9a-f]+)\s+Arguments: ?([^\n]*)/g;
  for (const m of text.matchAll(re))
    out.push({
      provider: m[1] as string,
      name: m[2] as string,
      location: BigInt(m[3] as string),
      semaphore: BigInt(m[4] as string),
      args: (m[5] as string).trim(),
    });
  return out;
}

/** The file offset of virtual address `a` by `readelf -lW` (PT_LOAD lines). */
function readelfOffset(binary: string, a: bigint): number {
  const text = execFileSync("readelf", ["-lW", binary], { encoding: "utf8" });
  for (const m of text.matchAll(
    /LOAD\s+(0x[0-9a-f]+) (0x[0-9a-f]+) 0x[0-9a-f]+ 0x[0-9a-f]+ (0x[0-9a-f]+)/g,
  )) {
    const off = BigInt(m[1] as string);
    const va = BigInt(m[2] as string);
    const mem = BigInt(m[3] as string);
    if (a >= va && a < va + mem) return Number(a - va + off);
  }
  assert.fail(`readelf shows no segment holding 0x${a.toString(16)}`);
}

test("the notes match readelf -n: provider, name, location, semaphore, arguments", (t) => {
  if (skipWithoutSdt(t)) return;
  for (const binary of Object.values(builds)) {
    const ours = listUsdtProbes(binary);
    const theirs = readelfProbes(binary);
    assert.equal(ours.length, theirs.length, `${binary}: as many probes as readelf shows`);
    assert.ok(ours.length >= 3, "the target has its three probes");
    ours.forEach((p, i) => {
      const r = theirs[i];
      assert.ok(r, `readelf shows probe ${i}`);
      assert.deepEqual(
        [p.provider, p.name, p.address, p.semaphoreAddress, p.argString],
        [r.provider, r.name, r.location, r.semaphore, r.args],
        `probe ${i} of ${binary}`,
      );
      assert.equal(p.offset, readelfOffset(binary, p.address), `${p.name}: file offset of its site`);
      assert.equal(
        p.semaphoreOffset,
        readelfOffset(binary, p.semaphoreAddress),
        `${p.name}: semaphore offset`,
      );
      assert.equal(p.args.length, r.args === "" ? 0 : r.args.split(" ").length, `${p.name}: argument count`);
    });
  }
});

test("the pt_regs offsets of x86-64 register names are the kernel's (BTF)", (t) => {
  if (process.arch !== "x64") return t.skip("x86-64 only");
  const btf = vmlinuxBtf();
  const st = btf.type(btf.findId("pt_regs", "struct") as number);
  assert.ok(st.kind === "struct", "pt_regs is a struct");
  for (const [name, offset] of Object.entries(X86_64_PT_REGS)) {
    const member = X86_64_PT_REGS_MEMBERS[offset];
    assert.ok(member, `${name}: a member for offset ${offset}`);
    const m: { name: string; bitOffset: number } | undefined = st.members.find((x) => x.name === member);
    assert.ok(m, `pt_regs has ${member}`);
    assert.equal(m.bitOffset / 8, offset, `%${name} is pt_regs.${member}`);
  }
});

test("argument specs: register, memory, constant, sizes and signs; the ones rawbpf cannot read are typed errors", () => {
  const [a, b, c, d, e] = parseUsdtArgs("-4@%edi 8@-8(%rbp) -4@$-9 1@(%rsp) 2@$0x10", "test");
  assert.deepEqual(
    [a?.kind, a?.size, a?.signed, a?.regOffset],
    ["reg", 4, true, X86_64_PT_REGS.rdi],
    "-4@%edi",
  );
  assert.deepEqual(
    [b?.kind, b?.size, b?.signed, b?.value, b?.regOffset],
    ["deref", 8, false, -8n, 32],
    "8@-8(%rbp)",
  );
  assert.deepEqual([c?.kind, c?.value], ["const", -9n], "-4@$-9");
  assert.deepEqual([d?.kind, d?.value, d?.regOffset], ["deref", 0n, 152], "1@(%rsp)");
  assert.deepEqual([e?.kind, e?.value], ["const", 16n], "2@$0x10");
  assert.deepEqual(parseUsdtArgs("", "test"), [], "no arguments");
  for (const bad of ["8@(%rax,%rdx,8)", "-4@16(%rip)", "3@%eax", "8@%xmm0", "garbage", "4@%eax ".repeat(13)])
    assert.throws(
      () => parseUsdtArgs(bad, "probe x:y"),
      (err: unknown) =>
        err instanceof UsdtArgError && /probe x:y: cannot read the USDT argument/.test(err.message),
      `'${bad}' is refused`,
    );
});

/** A program that adds usdt arguments 0-4 to counts[cookie + k], the argument count to counts[cookie + 6], 1 to counts[cookie + 7]. */
function load(
  counts: BpfMap<typeof u32, typeof u64>,
  specs: ReturnType<typeof usdtSpecMap>,
  extra: { expectedAttachType?: string } = {},
): Program {
  const add = (k: number, reg: string) => `
    r1 = r9
    r1 += ${k}
    *(u32 *)(r10 - 40) = r1
    r2 = r10
    r2 += -40
    r1 = usdt_counts
    call bpf_map_lookup_elem
    if r0 == 0 goto skip${k}
    lock *(u64 *)(r0 + 0) += ${reg}
  skip${k}:`;
  return Program.load({
    type: "kprobe",
    ...extra,
    instructions: usdtAsm(specs)`
      r6 = r1
      r1 = ${counts}
      ${usdtCookie("r9")}
      ${usdtArg(0, "r7")}
      ${add(0, "r7")}
      ${usdtArg(1, "r7")}
      ${add(1, "r7")}
      ${usdtArg(2, "r7")}
      ${add(2, "r7")}
      ${usdtArg(3, "r7")}
      ${add(3, "r7")}
      ${usdtArg(4, "r7")}
      ${add(4, "r7")}
      ${usdtArgCount("r7")}
      ${add(6, "r7")}
      r7 = 1
      ${add(7, "r7")}
      r0 = 0
      exit
    `,
  });
}

/** Runs the target; returns the six sums it printed (its own account of what it passed). */
function run(binary: string): bigint[] {
  const r = spawnSync(binary, [String(N)], { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, `the target ran (${r.error ?? r.stderr})`);
  return r.stdout.trim().split(" ").map(BigInt);
}

const wrap = (v: bigint) => BigInt.asUintN(64, v);

for (const opt of ["-O0", "-O2"]) {
  test(`attachUsdt (${opt} build): the program reads every argument the target passed; the semaphore gates the probe`, (t) => {
    if (!needsRoot(t) || skipWithoutSdt(t)) return;
    const binary = builds[opt] as string;
    using counts = BpfMap.create({
      type: "array",
      key: u32,
      value: u64,
      maxEntries: 24,
      name: "usdt_counts",
    });
    using specs = usdtSpecMap();
    using program = load(counts, specs);
    const before = run(binary);
    assert.equal(
      before[5],
      0n,
      "without a probe attached, the semaphore is 0 and the gated code does not run",
    );
    {
      using hit = attachUsdt(program, { binary, provider: "rawbpf", name: "hit", specs, cookie: 0 });
      using konst = attachUsdt(program, { binary, provider: "rawbpf", name: "konst", specs, cookie: 8 });
      assert.equal(hit.links.length, hit.probes.length, "one link per site");
      assert.ok(konst.probes.length >= 1, "konst has a site");
      assert.equal(run(binary)[5], 0n, "gated's semaphore stays 0 while other probes are attached");
      for (let i = 0; i < 24; i++) counts.set(i, 0n);
      using gated = attachUsdt(program, { binary, provider: "rawbpf", name: "gated", specs, cookie: 16 });
      assert.ok(gated.probes[0]?.semaphoreOffset, "gated has a semaphore");
      const sums = run(binary);
      assert.equal(sums[5], BigInt(N), "the kernel set gated's semaphore: the code it guards ran every time");
      assert.equal(counts.get(23), BigInt(N), "gated fired once per loop");
      assert.equal(counts.get(16), wrap(sums[0] as bigint), "gated's argument is i");
      const got = (i: number) => counts.get(i) as bigint;
      assert.equal(got(7), BigInt(N), "hit fired once per loop");
      assert.equal(got(0), wrap(sums[0] as bigint), "arg 0: int i (signed 4 bytes)");
      assert.equal(got(1), wrap(sums[1] as bigint), "arg 1: long big");
      assert.equal(got(2), wrap(sums[2] as bigint), "arg 2: signed char, sign-extended");
      assert.equal(got(3), wrap(sums[3] as bigint), "arg 3: a struct member in memory (-5 each)");
      assert.equal(got(4), wrap(sums[4] as bigint), "arg 4: unsigned short, zero-extended");
      assert.equal(got(6), BigInt(5 * N), "hit has 5 arguments");
      assert.equal(got(15), BigInt(N), "konst fired once per loop");
      assert.equal(got(8), BigInt(5 * N), "konst arg 0 is the constant 5");
      assert.equal(got(9), wrap(BigInt(-3 * N)), "konst arg 1 is the constant -3");
      assert.equal(got(10), 0n, "an argument past the site's count reads 0");
      assert.equal(got(14), BigInt(2 * N), "konst has 2 arguments");
    }
    assert.equal(run(binary)[5], 0n, "closing the attachment took the semaphore back");
    assert.equal(
      before.slice(0, 5).join(),
      run(binary).slice(0, 5).join(),
      "the target passes the same values each run",
    );
  });
}

test("attachUsdt with a uprobe_multi program: one link for every site, semaphores and arguments the same", (t) => {
  if (!needsRoot(t) || skipWithoutSdt(t)) return;
  const binary = builds["-O2"] as string;
  using counts = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 24, name: "usdt_counts" });
  using specs = usdtSpecMap();
  using program = load(counts, specs, { expectedAttachType: "trace_uprobe_multi" });
  using hit = attachUsdt(program, { binary, provider: "rawbpf", name: "hit", specs });
  using gated = attachUsdt(program, { binary, provider: "rawbpf", name: "gated", specs, cookie: 16 });
  assert.deepEqual(
    [hit.links.length, hit.links[0]?.type, gated.links[0]?.type],
    [1, "uprobe_multi", "uprobe_multi"],
    "one uprobe_multi link per probe",
  );
  const sums = run(binary);
  assert.equal(sums[5], BigInt(N), "the uprobe_multi link set gated's semaphore");
  assert.equal(counts.get(7), BigInt(N), "hit fired N times");
  for (let i = 0; i < 5; i++) assert.equal(counts.get(i), wrap(sums[i] as bigint), `hit's argument ${i}`);
  assert.equal(counts.get(23), BigInt(N), "gated fired N times");
  hit.close();
  gated.close();
  assert.equal(run(binary)[5], 0n, "closed: the semaphore is back to 0");
});

test("attachUsdt with pid: only that process counts, and only its semaphore is set", async (t) => {
  if (!needsRoot(t) || skipWithoutSdt(t)) return;
  const binary = builds["-O2"] as string;
  using counts = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 24, name: "usdt_counts" });
  using specs = usdtSpecMap();
  using program = load(counts, specs);
  const child = spawn(binary, [String(N), "wait"], { stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  try {
    assert.ok(child.pid, "the child started");
    using probe = attachUsdt(program, {
      binary,
      provider: "rawbpf",
      name: "gated",
      specs,
      pid: child.pid,
      cookie: 16,
    });
    assert.equal(run(binary)[5], 0n, "another process running the binary has its semaphore at 0");
    assert.equal(counts.get(23), 0n, "another process running the binary is not seen");
    const done = once(child, "exit");
    child.stdin.end("x");
    await done;
    assert.equal(out.trim().split(" ")[5], String(N), "the pid's semaphore was set: its gated code ran");
    assert.equal(counts.get(23), BigInt(N), "the pid's probe fired N times");
    void probe;
  } finally {
    child.kill();
  }
});

test("bad input: unknown probes, wrong programs and maps, a full spec map; nothing leaks", (t) => {
  if (!needsRoot(t) || skipWithoutSdt(t)) return;
  const binary = builds["-O2"] as string;
  using counts = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 16, name: "usdt_counts" });
  using specs = usdtSpecMap({ maxEntries: 1 });
  using program = load(counts, specs);
  using socket = Program.load({ type: "socket_filter", instructions: usdtAsm(specs)`r0 = 0; exit` });
  const fds = openFdCount();
  assert.throws(
    () => attachUsdt(program, { binary, provider: "rawbpf", name: "hti", specs }),
    (e: unknown) => e instanceof UsdtProbeNotFoundError && /did you mean rawbpf:hit/.test(e.message),
    "a misspelt probe names the near one",
  );
  assert.throws(
    () => attachUsdt(program, { binary: process.execPath, provider: "node", name: "gc__start", specs }),
    (e: unknown) => e instanceof UsdtProbeNotFoundError || e instanceof InputError,
    "a binary without that probe",
  );
  assert.throws(
    () => attachUsdt(program, { binary: join(targets.dir(), "nope"), provider: "a", name: "b" }),
    UnreadableBinaryError,
  );
  assert.throws(
    () => attachUsdt(program, { binary: join(here, "target.c"), provider: "a", name: "b" }),
    ElfFormatError,
  );
  assert.throws(
    () => attachUsdt(program, { binary, provider: "rawbpf", name: "hit", specs: counts as never }),
    (e: unknown) => e instanceof InputError && /spec map/.test(e.message),
  );
  assert.throws(() => attachUsdt(program, { binary, provider: "", name: "hit" }), InputError);
  assert.throws(() => attachUsdt(program, { binary, provider: "rawbpf", name: "hit", pid: -4 }), InputError);
  assert.throws(() => attachUsdt(socket, { binary, provider: "rawbpf", name: "hit" }), WrongProgramTypeError);
  {
    using one = attachUsdt(program, { binary, provider: "rawbpf", name: "hit", specs });
    assert.throws(
      () => attachUsdt(program, { binary, provider: "rawbpf", name: "konst", specs }),
      UsdtSpecsFullError,
      "the one slot is taken",
    );
    void one;
  }
  using again = attachUsdt(program, { binary, provider: "rawbpf", name: "konst", specs });
  assert.ok(again.links.length > 0, "closing freed the slot");
  again.close();
  assert.equal(openFdCount(), fds, "no descriptor leaked");
  assert.throws(() => usdtArg(12, "r7"), InputError);
  assert.throws(() => usdtArg(0, "r1"), InputError);
  assert.throws(() => usdtArg(0, "r6"), InputError, "dst may not be the context register");
  assert.throws(() => usdtArg(0, "r7", { stack: -12 }), InputError);
});

test("node's own USDT probes", (t) => {
  const theirs = readelfProbes(process.execPath);
  const ours = listUsdtProbes(process.execPath);
  assert.equal(ours.length, theirs.length, "as many probes in node as readelf shows");
  if (theirs.length === 0)
    return t.skip(
      `${process.execPath} has no USDT probes (readelf -n shows no stapsdt notes: node was built without --with-dtrace)`,
    );
  ours.forEach((p, i) => {
    assert.equal(`${p.provider}:${p.name}`, `${theirs[i]?.provider}:${theirs[i]?.name}`, `probe ${i}`);
  });
});
