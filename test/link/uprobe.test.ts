/**
 * Uprobes against the real kernel: a C program compiled on the spot calls `rawbpf_target(i)` for
 * i = 1..N (and libc's a64l N times); a uprobe counts the calls and sums the first argument, a
 * uretprobe sums the return values, each exactly, and nothing counts once the link is closed.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, test } from "node:test";
import { vmlinuxBtf } from "../../src/btf/kernel.js";
import { u32, u64 } from "../../src/codec/index.js";
import { asm } from "../../src/isa/template.js";
import {
  attachUprobe,
  attachUprobeMulti,
  ElfFormatError,
  type Link,
  SymbolNotFoundError,
  UnreadableBinaryError,
  UnsupportedLinkOperationError,
  uprobeOffset,
  WrongProgramTypeError,
} from "../../src/link/index.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { BpfError, ClosedError, InputError } from "../../src/sys/error.js";
import { countThen } from "../support/counting.js";
import { needsRoot, openFdCount } from "../support/privilege.js";

const N = 25;

const SOURCE = `
#include <stdlib.h>
#include <unistd.h>

__attribute__((noinline)) int rawbpf_target(int x) { return x * 2; }

int main(int argc, char **argv) {
  int n = atoi(argv[1]);
  if (argc > 2) {            /* "wait": block until the parent writes a byte (or goes away) */
    char c;
    alarm(60);
    if (read(0, &c, 1) < 0) return 2;
  }
  volatile long s = 0;
  for (int i = 1; i <= n; i++) s += rawbpf_target(i);
  for (int i = 0; i < n; i++) s += a64l("./");
  return 0;
}
`;

/** Forks a child that exits at once, prints its pid, and sleeps without reaping it. */
const ZOMBIE = `
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(void) {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  printf("%d\\n", (int)pid);
  fflush(stdout);
  alarm(60);
  pause();
  return 0;
}
`;

let dir = "";
let binary = "";

before(() => {
  dir = mkdtempSync(join(tmpdir(), "rawbpf-uprobe-"));
  writeFileSync(join(dir, "target.c"), SOURCE);
  binary = join(dir, "target");
  execFileSync("cc", ["-O0", "-fno-builtin", "-o", binary, join(dir, "target.c")]);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs the target once, synchronously: N calls of rawbpf_target and N of a64l. */
function run(): void {
  const r = spawnSync(binary, [String(N)], { timeout: 60_000 });
  assert.equal(r.status, 0, `the target ran (${r.error ?? r.stderr})`);
}

/** libc as this process maps it (the same file the compiled target loads). */
function libcPath(): string {
  const line = readFileSync("/proc/self/maps", "latin1")
    .split("\n")
    .find((l) => /\/libc\.so\.6$/.test(l));
  assert.ok(line, "node maps libc.so.6");
  return line.slice(line.indexOf("/"));
}

/** The byte offset of a member of the kernel's struct pt_regs (from vmlinux BTF). */
function ptRegs(member: string): number {
  const btf = vmlinuxBtf();
  const t = btf.type(btf.findId("pt_regs", "struct") as number);
  assert.ok(t.kind === "struct");
  const m = t.members.find((x) => x.name === member);
  assert.ok(m, `pt_regs has '${member}' (x86-64)`);
  return m.bitOffset / 8;
}

/** Two u64 slots: [0] the number of runs, [1] the sum of the u32 register at `reg` of pt_regs. */
function stats(): BpfMap<typeof u32, typeof u64> {
  return BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 2, name: "uprobe_stats" });
}

function load(map: BpfMap<typeof u32, typeof u64>, reg: number): Program {
  return Program.load({
    type: "kprobe",
    instructions: asm`
      r6 = *(u32 *)(r1 + ${reg})
      r1 = 0
      *(u32 *)(r10 - 4) = r1
      r2 = r10
      r2 += -4
      r1 = ${map}
      call bpf_map_lookup_elem
      if r0 == 0 goto out
      r1 = 1
      lock *(u64 *)(r0 + 0) += r1
      r1 = 1
      *(u32 *)(r10 - 4) = r1
      r2 = r10
      r2 += -4
      r1 = ${map}
      call bpf_map_lookup_elem
      if r0 == 0 goto out
      lock *(u64 *)(r0 + 0) += r6
    out:
      r0 = 0
      exit
    `,
  });
}

function read(map: BpfMap<typeof u32, typeof u64>): [bigint, bigint] {
  return [map.get(0) ?? -1n, map.get(1) ?? -1n];
}

/** Asserts that closing the link stops the counting: a second run adds nothing. */
function stopsWhenClosed(link: Link, map: BpfMap<typeof u32, typeof u64>): void {
  const before = read(map);
  link.close();
  link.close();
  run();
  assert.deepEqual(read(map), before, "nothing counts after close()");
  assert.throws(() => link.info(), ClosedError);
}

const SUM_ARGS = BigInt((N * (N + 1)) / 2);

test("attachUprobe: a uprobe on rawbpf_target by name counts each call and sums its first argument", (t) => {
  if (!needsRoot(t)) return;
  using map = stats();
  using program = load(map, ptRegs("di"));
  const offset = uprobeOffset(binary, "rawbpf_target");
  const link = attachUprobe(program, binary, "rawbpf_target", { cookie: 42n });
  try {
    assert.equal(link.type, "perf_event");
    const info = link.info();
    assert.equal(info.programId, program.info().id);
    assert.ok(info.type === "perf_event");
    assert.equal(info.eventType, "uprobe");
    assert.equal(info.file, binary, "the path as given to the kernel");
    assert.equal(info.offset, offset);
    assert.equal(info.cookie, 42n);
    assert.throws(() => link.update(program), UnsupportedLinkOperationError);
    run();
    assert.deepEqual(read(map), [BigInt(N), SUM_ARGS], "N calls, arguments 1..N");
    run();
    assert.deepEqual(read(map), [BigInt(2 * N), 2n * SUM_ARGS], "again for a second process");
    // a relative path reaches the kernel made absolute (it would resolve it against our cwd anyway)
    using again = attachUprobe(program, relative(process.cwd(), binary), "rawbpf_target");
    const second = again.info();
    assert.ok(second.type === "perf_event");
    assert.equal(second.file, binary);
    assert.equal(second.offset, offset);
    again.close();
    stopsWhenClosed(link, map);
  } finally {
    link.close();
  }
});

test("attachUprobe: a uretprobe (by offset) sums the return values x*2", (t) => {
  if (!needsRoot(t)) return;
  using map = stats();
  using program = load(map, ptRegs("ax"));
  const offset = uprobeOffset(binary, "rawbpf_target");
  const link = attachUprobe(program, binary, offset, { retprobe: true });
  try {
    const info = link.info();
    assert.ok(info.type === "perf_event");
    assert.equal(info.eventType, "uretprobe");
    assert.equal(info.offset, offset);
    assert.equal(info.cookie, 0n);
    run();
    assert.deepEqual(read(map), [BigInt(N), 2n * SUM_ARGS], "N returns of 2*i");
    stopsWhenClosed(link, map);
  } finally {
    link.close();
  }
});

test("attachUprobe: libc's a64l with a pid runs for that process only", async (t) => {
  if (!needsRoot(t)) return;
  const libc = libcPath();
  using map = stats();
  using program = load(map, ptRegs("di"));
  // a target that waits for a byte on stdin before it calls anything (it gives up after 60 s)
  const waiting = spawn(binary, [String(N), "wait"], { stdio: ["pipe", "ignore", "ignore"] });
  const exited = once(waiting, "exit");
  try {
    assert.ok(waiting.pid);
    using link = attachUprobe(program, libc, "a64l", { pid: waiting.pid });
    const info = link.info();
    assert.ok(info.type === "perf_event");
    assert.equal(info.file, libc);
    assert.equal(info.offset, uprobeOffset(libc, "a64l"));
    run(); // another process calls a64l N times: not counted
    assert.equal(read(map)[0], 0n, "other processes are not counted");
    waiting.stdin.end("go");
    const [code] = await exited;
    assert.equal(code, 0);
    assert.equal(read(map)[0], BigInt(N), "the pid's N calls of a64l, exactly");
  } finally {
    waiting.kill();
  }
});

test("attachUprobe: wrong input is a typed error before the kernel, and no descriptor leaks", (t) => {
  if (!needsRoot(t)) return;
  using map = stats();
  using program = load(map, ptRegs("di"));
  using tracepoint = Program.load({ type: "tracepoint", instructions: asm`r0 = 0\nexit` });
  const failures: [() => unknown, (e: unknown) => boolean][] = [
    [() => attachUprobe(tracepoint, binary, "rawbpf_target"), (e) => e instanceof WrongProgramTypeError],
    [
      () => attachUprobe(program, join(dir, "missing"), "rawbpf_target"),
      (e) =>
        e instanceof UnreadableBinaryError &&
        e.file === join(dir, "missing") &&
        /no such file/.test(e.message),
    ],
    [() => attachUprobe(program, dir, "rawbpf_target"), (e) => e instanceof UnreadableBinaryError],
    [() => attachUprobe(program, "", "rawbpf_target"), (e) => e instanceof InputError],
    [
      () => attachUprobe(program, binary, "rawbpf_targt"),
      (e) =>
        e instanceof SymbolNotFoundError &&
        e.file === binary &&
        e.symbol === "rawbpf_targt" &&
        e.suggestion === "rawbpf_target" &&
        /did you mean 'rawbpf_target'/.test(e.message),
    ],
    [() => attachUprobe(program, join(dir, "target.c"), "main"), (e) => e instanceof ElfFormatError],
    [() => attachUprobe(program, binary, ""), (e) => e instanceof InputError],
    [() => attachUprobe(program, binary, 1.5), (e) => e instanceof InputError],
    [() => attachUprobe(program, binary, -1), (e) => e instanceof InputError],
    [() => attachUprobe(program, binary, 1e12), (e) => e instanceof InputError],
    [() => attachUprobe(program, binary, "rawbpf_target", { pid: 0 }), (e) => e instanceof InputError],
    [() => attachUprobe(program, binary, "rawbpf_target", { pid: -1 }), (e) => e instanceof InputError],
    [() => attachUprobe(program, binary, "rawbpf_target", { pid: 2.5 }), (e) => e instanceof InputError],
    [
      () => attachUprobe(program, binary, "rawbpf_target", { pid: 0x3ffffffe }),
      (e) => e instanceof InputError && /no process/.test(e.message),
    ],
    [() => attachUprobe(program, binary, "rawbpf_target", { cookie: -1 }), (e) => e instanceof InputError],
    [
      () => attachUprobe(program, binary, "rawbpf_target", { retprobe: "yes" as never }),
      (e) => e instanceof InputError,
    ],
  ];
  const fds = openFdCount();
  for (let round = 0; round < 3; round++) {
    for (const [call, check] of failures) assert.throws(call, check);
    attachUprobe(program, binary, "rawbpf_target").close();
    attachUprobe(program, binary, "rawbpf_target", { retprobe: true, pid: process.pid }).close();
  }
  assert.equal(openFdCount(), fds, "every descriptor opened was closed");
});

test("attachUprobe: a pid that has exited is the kernel's ESRCH, with a hint", async (t) => {
  if (!needsRoot(t)) return;
  using map = stats();
  using program = load(map, ptRegs("di"));
  // a parent that never reaps its child: the child stays a zombie, with a /proc entry (a shell
  // may reap its background jobs, so the parent is C)
  const maker = join(dir, "zombie");
  writeFileSync(`${maker}.c`, ZOMBIE);
  execFileSync("cc", ["-o", maker, `${maker}.c`]);
  const sh = spawn(maker, [], { stdio: ["ignore", "pipe", "ignore"] });
  const exited = once(sh, "exit");
  try {
    const [line] = await once(sh.stdout, "data");
    const pid = Number(String(line).trim());
    const state = () => /^\d+ \(.*\) (\w)/.exec(readFileSync(`/proc/${pid}/stat`, "latin1"))?.[1];
    for (let i = 0; i < 1000 && state() !== "Z"; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(state(), "Z", `process ${pid} is a zombie`);
    const fds = openFdCount();
    assert.throws(
      () => attachUprobe(program, binary, "rawbpf_target", { pid }),
      (e: unknown) =>
        e instanceof BpfError &&
        e.command === "perf_event_open" &&
        e.errnoName === "ESRCH" &&
        /has exited/.test(e.message),
    );
    assert.equal(openFdCount(), fds);
  } finally {
    sh.kill();
    await exited;
  }
});

/** A trace_uprobe_multi program that adds 1 to map[cookie]: each place of the link counts in its own slot. */
function loadMulti(map: BpfMap<typeof u32, typeof u64>): Program {
  return Program.load({
    type: "kprobe",
    expectedAttachType: "trace_uprobe_multi",
    instructions: countThen(map, "bpf_get_attach_cookie")`
      r0 = 0
      exit
    `,
  });
}

test("attachUprobeMulti: one link on rawbpf_target and main, each place its cookie; uretprobes; info; close", (t) => {
  if (!needsRoot(t)) return;
  using map = stats();
  using program = loadMulti(map);
  const offsets = [uprobeOffset(binary, "rawbpf_target"), uprobeOffset(binary, "main")];
  const link = attachUprobeMulti(program, binary, ["rawbpf_target", offsets[1]!], { cookies: [0, 1n] });
  try {
    const info = link.info();
    assert.ok(info.type === "uprobe_multi");
    assert.equal(info.programId, program.info().id);
    assert.equal(info.file, binary);
    assert.deepEqual(info.offsets, offsets);
    assert.deepEqual(info.cookies, [0n, 1n]);
    assert.equal(info.retprobe, false);
    assert.equal(info.pid, 0, "every process");
    run();
    assert.deepEqual(read(map), [BigInt(N), 1n], "N calls of rawbpf_target, one of main");
    using returns = attachUprobeMulti(program, binary, ["rawbpf_target"], {
      retprobe: true,
      pid: process.pid,
    });
    const r = returns.info();
    assert.ok(r.type === "uprobe_multi" && r.retprobe && r.pid === process.pid);
    returns.close();
    stopsWhenClosed(link, map);
  } finally {
    link.close();
  }
  // a second run after close: nothing counts (checked by stopsWhenClosed); the uretprobe link of
  // another pid never ran the program
  assert.deepEqual(read(map), [BigInt(N), 1n]);
});

test("attachUprobeMulti: wrong input is a typed error before the kernel", (t) => {
  if (!needsRoot(t)) return;
  using map = stats();
  using multi = loadMulti(map);
  using single = load(map, ptRegs("di"));
  using tracepoint = Program.load({ type: "tracepoint", instructions: asm`r0 = 0\nexit` });
  const fds = openFdCount();
  assert.throws(
    () => attachUprobeMulti(single, binary, ["rawbpf_target"]),
    (e: unknown) => e instanceof InputError && /trace_uprobe_multi/.test(e.message),
  );
  assert.throws(() => attachUprobeMulti(multi, binary, []), InputError);
  assert.throws(() => attachUprobeMulti(multi, binary, ["rawbpf_target"], { cookies: [1, 2] }), InputError);
  assert.throws(() => attachUprobeMulti(multi, binary, ["rawbpf_target", ""]), InputError);
  assert.throws(() => attachUprobeMulti(multi, binary, [-1]), InputError);
  assert.throws(() => attachUprobeMulti(multi, binary, ["rawbpf_targt"]), SymbolNotFoundError);
  assert.throws(() => attachUprobeMulti(multi, binary, ["rawbpf_target"], { cookies: [-1] }), InputError);
  assert.throws(() => attachUprobeMulti(multi, join(dir, "missing"), ["main"]), UnreadableBinaryError);
  assert.throws(() => attachUprobeMulti(tracepoint, binary, ["main"]), WrongProgramTypeError);
  assert.equal(openFdCount(), fds);
});
