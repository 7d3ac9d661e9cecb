import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { add, callLocal, exit as exitInsn, mov, ProgramBuilder, R0 } from "../../src/isa/builder/index.js";
import { encode } from "../../src/isa/encode.js";
import { EmptyProgramError, MissingMapError, ProgramTooLargeError } from "../../src/program/errors.js";
import { Program } from "../../src/program/program.js";
import { ProgramRejectedError } from "../../src/program/rejected.js";
import { UnknownTypeError } from "../../src/program/types.js";
import { BpfError, ClosedError, InputError } from "../../src/sys/error.js";
import { openFdCount } from "../support/fds.js";
import { needsRoot } from "../support/privilege.js";
import { addImm, exit, ja, ldMap, ldxW, movImm, movReg, returnValue } from "./insns.js";

/** A bpffs to pin in: /sys/fs/bpf when mounted, else a private one mounted for the test. */
function bpffs(): { dir: string } & Disposable {
  if (/^\S+ \/sys\/fs\/bpf bpf /m.test(readFileSync("/proc/mounts", "utf8"))) {
    return { dir: "/sys/fs/bpf", [Symbol.dispose]: () => {} };
  }
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-bpffs-"));
  execFileSync("mount", ["-t", "bpf", "bpf", dir]);
  return {
    dir,
    [Symbol.dispose]: () => {
      execFileSync("umount", [dir]);
      rmSync(dir, { recursive: true });
    },
  };
}

function bpftoolProg(id: number): { id: number; type: string; name?: string; tag: string; run_cnt?: number } {
  return JSON.parse(
    execFileSync("bpftool", ["prog", "show", "id", String(id), "--json"], { encoding: "utf8" }),
  );
}

test("loads programs of several types; bpftool agrees on id, type, name and tag", (t) => {
  if (!needsRoot(t)) return;
  const cases: [string, { flags?: number; expectedAttachType?: string }][] = [
    ["socket_filter", {}],
    ["xdp", {}],
    ["sched_cls", {}],
    ["kprobe", {}],
    ["tracepoint", {}],
    ["cgroup_skb", { expectedAttachType: "cgroup_inet_ingress" }],
    ["cgroup_sock", {}],
    ["syscall", { flags: 1 << 4 /* BPF_F_SLEEPABLE */ }],
  ];
  for (const [type, extra] of cases) {
    using p = Program.load({
      type,
      instructions: returnValue(type === "syscall" ? 0 : 1),
      name: "t_load",
      ...extra,
    });
    const info = p.info();
    const tool = bpftoolProg(info.id);
    assert.equal(info.type, type);
    assert.equal(tool.type, type, `bpftool type of ${type}`);
    assert.equal(tool.name, "t_load");
    assert.equal(tool.tag, info.tag);
    assert.equal(info.xlatedLength > 0, true);
    assert.equal(p.insnCount, 2);
  }
});

test("raw instruction bytes load like instructions (same tag)", (t) => {
  if (!needsRoot(t)) return;
  using a = Program.load({ type: "socket_filter", instructions: returnValue(7) });
  using b = Program.load({ type: "socket_filter", instructions: encode(returnValue(7)) });
  assert.equal(a.info().tag, b.info().tag);
  assert.equal(b.testRun({ data: Buffer.alloc(14) }).retval, 7);
});

test("the statistics line is parsed; level 2 logs every instruction", (t) => {
  if (!needsRoot(t)) return;
  using quiet = Program.load({ type: "socket_filter", instructions: returnValue(4) });
  assert.doesNotMatch(quiet.log, /\(b7\) r0 = 4/);
  assert.equal(quiet.stats?.processedInsns, 2);
  assert.equal(quiet.stats?.insnLimit, 1_000_000);
  using verbose = Program.load({ type: "socket_filter", instructions: returnValue(4), logLevel: 2 });
  assert.match(verbose.log, /0: \(b7\) r0 = 4/);
  assert.match(verbose.log, /1: \(95\) exit/);
  assert.equal(verbose.stats?.processedInsns, 2);
  // the kernel's own count agrees with the parsed statistics
  assert.equal(verbose.info().verifiedInsns, verbose.stats?.processedInsns);
});

test("a rejection carries the complete log, even from a 64-byte log buffer", (t) => {
  if (!needsRoot(t)) return;
  const bad = [movReg(0, 5), exit()]; // r5 is read before it is written
  for (const opts of [{}, { logLevel: 1, logSize: 64 }, { logLevel: 2, logSize: 64 }]) {
    assert.throws(
      () => Program.load({ type: "socket_filter", instructions: bad, ...opts }),
      (e: unknown) => {
        assert.ok(e instanceof ProgramRejectedError, String(e));
        assert.equal(e.errno, 13);
        assert.match(e.log.text, /R5 !read_ok/);
        assert.match(e.log.text, /processed \d+ insns/);
        return true;
      },
    );
  }
});

test("test runs: data, ctx in and out, repeat", (t) => {
  if (!needsRoot(t)) return;
  // r0 = skb->len: the kernel pulls the 14-byte Ethernet header before a socket filter runs
  using len = Program.load({ type: "socket_filter", instructions: [ldxW(0, 1, 0), exit()] });
  for (const n of [14, 33, 100]) assert.equal(len.testRun({ data: Buffer.alloc(n) }).retval, n - 14);
  // r0 = skb->mark, with the mark coming in through the ctx (struct __sk_buff, mark at offset 8)
  using mark = Program.load({ type: "sched_cls", instructions: [ldxW(0, 1, 8), exit()] });
  const ctx = Buffer.alloc(192);
  ctx.writeUInt32LE(0xbeef, 8);
  const r = mark.testRun({ data: Buffer.alloc(60, 0xaa), ctx, repeat: 50 });
  assert.equal(r.retval, 0xbeef);
  assert.equal(r.ctxOut.readUInt32LE(8), 0xbeef);
  assert.equal(r.dataOut.length, 60);
  assert.equal(typeof r.duration, "number");
  // XDP leaves the packet as it was
  using xdp = Program.load({ type: "xdp", instructions: returnValue(2) });
  const pkt = Buffer.from(Array.from({ length: 64 }, (_, i) => i));
  const x = xdp.testRun({ data: pkt });
  assert.equal(x.retval, 2);
  assert.deepEqual(x.dataOut, pkt);
});

test("test runs: retval and duration are the kernel's two fields, checked against bpftool and the run statistics", (t) => {
  if (!needsRoot(t)) return;
  // r1 counts to 20000 (a run takes microseconds), then r0 = -16: a retval of 0xfffffff0, which
  // as an average duration would be 4.3 s for one run of five instructions
  const loop = [
    movImm(1, 0),
    addImm(1, 1),
    { code: 0xa5, dst: 1, src: 0, off: -2, imm: 20000 }, // if r1 < 20000 goto -2
    movImm(0, -16),
    exit(),
  ];
  using p = Program.load({ type: "socket_filter", instructions: loop, name: "spin" });
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-run-"));
  try {
    const data = join(dir, "data");
    writeFileSync(data, Buffer.alloc(14));
    // bpftool runs the same program: the same retval, and a duration of the same kind
    const out = execFileSync(
      "bpftool",
      ["prog", "run", "id", String(p.info().id), "data_in", data, "repeat", "10"],
      { encoding: "utf8" },
    );
    const m = /Return value: (\d+), duration \(average\): (\d+)ns/.exec(out);
    assert.ok(m, `bpftool prog run printed: ${out}`);
    const theirs = { retval: Number(m[1]), duration: Number(m[2]) };
    for (const repeat of [1, 7, 50]) {
      using _stats = Program.enableStats();
      const before = p.info();
      const r = p.testRun({ data: Buffer.alloc(14), repeat });
      const after = p.info();
      assert.equal(r.retval, 0xfffffff0, "retval is r0 as a u32");
      assert.equal(r.retval, theirs.retval, "bpftool reads the same retval");
      assert.equal(
        after.runCount - before.runCount,
        BigInt(repeat),
        `repeat ${repeat} runs it ${repeat} times`,
      );
      // the kernel times the same runs twice: the test run's average, and the statistics' sum
      const perRun = Number(after.runTimeNs - before.runTimeNs) / repeat;
      assert.ok(
        r.duration > 0 && r.duration < 0x10000000 && r.duration !== r.retval,
        `duration ${r.duration} is not an average run time (retval ${r.retval}, bpftool ${theirs.duration} ns)`,
      );
      assert.ok(
        perRun > r.duration / 4 && perRun < r.duration * 4 + 10_000,
        `duration ${r.duration} ns does not match the statistics' ${perRun} ns a run (repeat ${repeat})`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("info: run count and run time with statistics enabled", (t) => {
  if (!needsRoot(t)) return;
  using p = Program.load({ type: "xdp", instructions: returnValue(2), name: "stats" });
  p.testRun({ data: Buffer.alloc(64), repeat: 5 });
  assert.equal(p.info().runCount, 0n, "no statistics while disabled");
  {
    using _stats = Program.enableStats();
    p.testRun({ data: Buffer.alloc(64), repeat: 10 });
    const info = p.info();
    assert.equal(info.runCount, 10n);
    assert.equal(info.runTimeNs > 0n, true);
    assert.equal(bpftoolProg(info.id).run_cnt, 10);
  }
  p.testRun({ data: Buffer.alloc(64), repeat: 10 });
  assert.equal(p.info().runCount, 10n, "statistics stop when the handle is disposed");
});

test("pin, open and fromId reach the same program", (t) => {
  if (!needsRoot(t)) return;
  using fs = bpffs();
  const path = `${fs.dir}/rawbpf-test-prog-${process.pid}`;
  using p = Program.load({ type: "socket_filter", instructions: returnValue(3), name: "pinned" });
  const id = p.info().id;
  p.pin(path);
  try {
    using opened = Program.open(path);
    assert.equal(opened.info().id, id);
    assert.equal(opened.type, "socket_filter");
    assert.equal(opened.testRun({ data: Buffer.alloc(14) }).retval, 3);
    using byId = Program.fromId(id);
    assert.equal(byId.info().name, "pinned");
    assert.match(
      execFileSync("bpftool", ["prog", "show", "pinned", path], { encoding: "utf8" }),
      new RegExp(`^${id}:`),
    );
  } finally {
    rmSync(path);
  }
  assert.throws(
    () => Program.open(path),
    (e: unknown) => e instanceof BpfError && e.errnoName === "ENOENT",
  );
});

test("close is idempotent, use after close is a ClosedError", (t) => {
  if (!needsRoot(t)) return;
  const p = Program.load({ type: "socket_filter", instructions: returnValue(0) });
  p.close();
  p.close();
  assert.equal(p.closed, true);
  assert.throws(() => p.fd, ClosedError);
  assert.throws(() => p.testRun({ data: Buffer.alloc(14) }), ClosedError);
});

test("10,000 load/close cycles leave /proc/self/fd where it started", (t) => {
  if (!needsRoot(t)) return;
  const insns = returnValue(1);
  const before = openFdCount();
  for (let i = 0; i < 10_000; i++) {
    const p = Program.load({ type: "socket_filter", instructions: insns });
    p.close();
  }
  assert.equal(openFdCount(), before);
});

test("descriptors only the garbage collector sees are closed", async (t) => {
  if (!needsRoot(t)) return;
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const before = openFdCount();
  (() => {
    for (let i = 0; i < 50; i++) Program.load({ type: "socket_filter", instructions: returnValue(1) });
  })();
  assert.equal(openFdCount() >= before + 50, true);
  for (let i = 0; i < 50 && openFdCount() > before; i++) {
    gc();
    await sleep(10);
  }
  assert.equal(openFdCount(), before);
});

test("bad input is a typed error before the kernel", (t) => {
  if (!needsRoot(t)) return;
  const ok = returnValue(0);
  assert.throws(
    () => Program.load({ type: "socket_filtr", instructions: ok }),
    (e: unknown) =>
      e instanceof UnknownTypeError && e.suggestion === "socket_filter" && /did you mean/.test(e.message),
  );
  assert.throws(
    () => Program.load({ type: "xdp", instructions: ok, expectedAttachType: "xdpp" }),
    UnknownTypeError,
  );
  assert.throws(() => Program.load({ type: "xdp", instructions: [] }), EmptyProgramError);
  assert.throws(() => Program.load({ type: "xdp", instructions: new Uint8Array(0) }), EmptyProgramError);
  assert.throws(() => Program.load({ type: "xdp", instructions: new Uint8Array(12) }), InputError);
  const huge = new Array(1_000_001).fill(ja(0));
  assert.throws(() => Program.load({ type: "xdp", instructions: huge }), ProgramTooLargeError);
  assert.throws(
    () => Program.load({ type: "xdp", instructions: new Uint8Array(8 * 1_000_001) }),
    ProgramTooLargeError,
  );
  assert.throws(
    () => Program.load({ type: "xdp", instructions: ok, name: "a_name_that_is_too_long" }),
    InputError,
  );
  assert.throws(() => Program.load({ type: "xdp", instructions: ok, name: "bad-name" }), InputError);
  assert.throws(() => Program.load({ type: "xdp", instructions: ok, logLevel: 9 }), InputError);
  assert.throws(() => Program.load({ type: "xdp", instructions: ok, logSize: -1 }), InputError);
  assert.throws(() => Program.load({ type: "xdp", instructions: ok, logSize: 2 ** 40 }), InputError);
  assert.throws(() => Program.load({ type: "xdp", instructions: ok, flags: -1 }), InputError);
  assert.throws(
    () => Program.load({ type: "socket_filter", instructions: [ldMap(1, "needles"), movImm(0, 0), exit()] }),
    (e: unknown) => e instanceof MissingMapError && e.mapName === "needles",
  );
  using xdp = Program.load({ type: "xdp", instructions: ok });
  assert.throws(() => xdp.testRun({ data: Buffer.alloc(13) }), /at least 14 bytes/);
  assert.throws(() => xdp.testRun(), InputError);
  assert.throws(() => xdp.testRun({ data: Buffer.alloc(64), repeat: -1 }), InputError);
  assert.throws(() => xdp.testRun({ data: Buffer.alloc(64), repeat: 2 ** 33 }), InputError);
  assert.throws(() => Program.fromId(-3), InputError);
  assert.throws(() => Program.open(""), InputError);
});

test("a built program with bpf-to-bpf functions gets BTF func_info automatically", (t) => {
  if (!needsRoot(t)) return;
  const b = new ProgramBuilder("main_prog");
  b.emit(callLocal("five"), add(R0, 1), exitInsn());
  b.function("five", (f) => f.emit(mov(R0, 5), exitInsn()));
  const built = b.build();
  using p = Program.load({ type: "socket_filter", instructions: built });
  const info = p.info();
  assert.equal(info.btfId > 0, true, "the program carries BTF");
  assert.equal(p.testRun({ data: Buffer.alloc(14) }).retval, 6);
  const funcs = execFileSync("bpftool", ["btf", "dump", "id", String(info.btfId)], { encoding: "utf8" });
  assert.match(funcs, /FUNC 'main_prog'/);
  assert.match(funcs, /FUNC 'five'/);
});
