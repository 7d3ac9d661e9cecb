/**
 * BPF iterators against the real kernel: iter/task lists the processes /proc lists, iter/task with
 * a pid lists that process's threads (/proc/PID/task), iter/bpf_map_elem gives back a map's
 * elements as records (the map's own batch of entries is the oracle), iter/tcp shows a port a
 * Node server listens on. Other sessions start and end processes meanwhile: only the processes
 * alive in /proc both before and after the walk must be in it.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { test } from "node:test";
import { SOURCE as TASK_LINES } from "../../examples/processes.js";
import { u32, u64 } from "../../src/codec/index.js";
import { asm, loadAssembled } from "../../src/index.js";
import { attachIter, iterTarget } from "../../src/iter/index.js";
import { WrongProgramTypeError } from "../../src/link/index.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { BpfError, InputError } from "../../src/sys/error.js";
import { needsRoot, openFdCount } from "../support/privilege.js";

/** iter/task: one line "TGID PID COMM" per task (the processes demo's program). */
function taskLister() {
  return loadAssembled(TASK_LINES, iterTarget("task"));
}

/**
 * Loads with `load`, or, when this kernel refuses the program type with EPERM (this machine's
 * kernel does so for bpf_map_elem, bpf_sk_storage_map and sockmap iterators, as it does for
 * fentry), skips the test saying so and returns undefined.
 */
function refusedHere<T>(t: { skip: (why: string) => void }, load: () => T): T | undefined {
  try {
    return load();
  } catch (e) {
    if (e instanceof BpfError && e.errnoName === "EPERM") {
      t.skip(
        `this kernel refuses the program with EPERM (bpftool prog load of a clang-built iter/bpf_map_elem object gets EPERM here too, as fentry loads do): ${e.message.split("\n")[0]}`,
      );
      return undefined;
    }
    throw e;
  }
}

function procPids(): Set<number> {
  return new Set(
    readdirSync("/proc")
      .filter((n) => /^\d+$/.test(n))
      .map(Number),
  );
}

test("iter/task lists every process /proc lists, with its name", async (t) => {
  if (!needsRoot(t)) return;
  using loaded = taskLister();
  using iter = attachIter(loaded.program);
  const before = procPids();
  const lines: string[] = [];
  using reader = iter.open();
  for await (const line of reader.lines()) lines.push(line);
  const after = procPids();
  const rows = lines.map((l) => {
    const m = /^(\d+) (\d+) (.*)$/.exec(l);
    assert.ok(m, `a line is "TGID PID COMM": ${JSON.stringify(l)}`);
    return { tgid: Number(m[1]), pid: Number(m[2]), comm: m[3] as string };
  });
  const leaders = new Set(rows.filter((r) => r.tgid === r.pid).map((r) => r.tgid));
  // pid 1 here is the machine's own supervisor, which this kernel's task walk does not show
  // (it starts at pid 2); every other process must be there
  const stable = [...before].filter((p) => after.has(p) && p !== 1);
  assert.ok(stable.length > 5, "several processes in /proc");
  for (const pid of stable)
    assert.ok(leaders.has(pid), `process ${pid} (in /proc before and after) is in the walk`);
  const self = rows.find((r) => r.pid === process.pid);
  assert.equal(
    self?.comm,
    readFileSync("/proc/self/comm", "utf8").trim(),
    "this process's name is /proc/self/comm",
  );
  const kthreadd = rows.find((r) => r.pid === 2);
  assert.equal(kthreadd?.comm, readFileSync("/proc/2/comm", "utf8").trim(), "pid 2's name");
  // a second walk: the whole text at once, the same tasks
  const again = iter.read().toString("utf8");
  assert.ok(
    again.includes(`\n${process.pid} ${process.pid} `) || again.startsWith(`${process.pid} `),
    "readAll sees this process",
  );
});

test("iter/task with a pid walks that process's threads (/proc/PID/task)", (t) => {
  if (!needsRoot(t)) return;
  using loaded = taskLister();
  const threadsBefore = new Set(readdirSync("/proc/self/task").map(Number));
  using iter = attachIter(loaded.program, { task: { pid: process.pid } });
  const text = iter.read().toString("utf8").trim();
  const threadsAfter = new Set(readdirSync("/proc/self/task").map(Number));
  const rows = text.split("\n").map((l) => l.split(" ").map(Number));
  assert.ok(rows.length > 1, "node has several threads");
  for (const [tgid] of rows) assert.equal(tgid, process.pid, "every task is a thread of this process");
  for (const tid of threadsBefore)
    if (threadsAfter.has(tid))
      assert.ok(
        rows.some((r) => r[1] === tid),
        `thread ${tid} is in the walk`,
      );
});

test("iter/bpf_map_elem gives the map's elements back as records", async (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "hash", key: u32, value: u64, maxEntries: 64, name: "iter_elems" });
  const want = new Map<number, bigint>();
  for (let i = 0; i < 40; i++) {
    const k = (i * 7919) % 1000;
    const v = BigInt(i) * 0x1_0000_0001n;
    map.set(k, v);
    want.set(k, v);
  }
  // ctx: meta, map, key, value; write key (4) and value (8) as one 12-byte record
  const loaded = refusedHere(t, () =>
    loadAssembled(
      asm`
      r6 = *(u64 *)(r1 + 0)
      r6 = *(u64 *)(r6 + 0)
      r7 = *(u64 *)(r1 + 16)
      r8 = *(u64 *)(r1 + 24)
      if r7 == 0 goto out
      if r8 == 0 goto out
      r2 = *(u32 *)(r7 + 0)
      *(u32 *)(r10 - 12) = r2
      r2 = *(u64 *)(r8 + 0)
      *(u32 *)(r10 - 8) = r2
      r2 >>= 32
      *(u32 *)(r10 - 4) = r2
      r1 = r6
      r2 = r10
      r2 += -12
      r3 = 12
      call bpf_seq_write
    out:
      r0 = 0
      exit
    `,
      iterTarget("bpf_map_elem"),
    ),
  );
  if (loaded === undefined) return;
  using _loaded = loaded;
  using iter = attachIter(loaded.program, { map });
  const got = new Map<number, bigint>();
  using reader = iter.open();
  for await (const r of reader.records(12)) got.set(r.readUInt32LE(0), r.readBigUInt64LE(4));
  const theirs = new Map([...map.entries()].map(([k, v]) => [k as number, v as bigint]));
  assert.deepEqual(got, theirs, "the walk has the map's own entries");
  assert.deepEqual(got, want, "and the values written");
});

test("a pinned iterator link is a bpffs file that cat runs", (t) => {
  if (!needsRoot(t)) return;
  using loaded = taskLister();
  using iter = attachIter(loaded.program, { task: { pid: process.pid } });
  const path = `/sys/fs/bpf/rawbpf-iter-test-${process.pid}`;
  iter.link.pin(path);
  try {
    const text = execFileSync("cat", [path], { encoding: "utf8" });
    const rows = text.trim().split("\n");
    assert.ok(rows.length > 1, "cat ran the walk: this process's threads");
    for (const r of rows)
      assert.equal(r.split(" ")[0], String(process.pid), "each line a thread of this process");
  } finally {
    iter.link.unpin();
  }
});

test("iter/bpf_map lists the map this test created, by the id the kernel gave it", (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 3, name: "iter_seen" });
  using loaded = loadAssembled(
    asm`
      .rodata fmt "%u %u\\n"
      r2 = *(u64 *)(r1 + 8)
      if r2 == 0 goto out
      r6 = *(u64 *)(r1 + 0)
      r6 = *(u64 *)(r6 + 0)
      r3 = *(u32 *)(r2 + offsetof(struct bpf_map, id))
      *(u64 *)(r10 - 16) = r3
      r3 = *(u32 *)(r2 + offsetof(struct bpf_map, max_entries))
      *(u64 *)(r10 - 8) = r3
      r1 = r6
      r2 = fmt
      r3 = 7
      r4 = r10
      r4 += -16
      r5 = 16
      call bpf_seq_printf
    out:
      r0 = 0
      exit
    `,
    iterTarget("bpf_map"),
  );
  using iter = attachIter(loaded.program);
  const id = map.info().id;
  const lines = iter.read().toString("utf8").trim().split("\n");
  assert.ok(lines.includes(`${id} 3`), `map ${id} with 3 entries is in the walk`);
});

test("iter/tcp shows the port a Node server listens on", async (t) => {
  if (!needsRoot(t)) return;
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  try {
    using loaded = loadAssembled(
      asm`
        .rodata fmt "%u\\n"
        r2 = *(u64 *)(r1 + 8)
        if r2 == 0 goto out
        r6 = *(u64 *)(r1 + 0)
        r6 = *(u64 *)(r6 + 0)
        r3 = *(u16 *)(r2 + offsetof(struct sock_common, skc_num))
        *(u64 *)(r10 - 8) = r3
        r1 = r6
        r2 = fmt
        r3 = 4
        r4 = r10
        r4 += -8
        r5 = 8
        call bpf_seq_printf
      out:
        r0 = 0
        exit
      `,
      iterTarget("tcp"),
    );
    using iter = attachIter(loaded.program);
    using reader = iter.open();
    const ports: number[] = [];
    for await (const chunk of reader.stream()) ports.push(...String(chunk).trim().split("\n").map(Number));
    assert.ok(ports.includes(port), `the listening port ${port} is among the TCP sockets`);
  } finally {
    server.close();
  }
});

test("bad input: unknown targets, wrong programs, missing maps, both map and task; nothing leaks", (t) => {
  assert.throws(
    () => iterTarget("tsk"),
    (e: unknown) => e instanceof InputError && /no BPF iterator 'tsk'.*did you mean 'task'/.test(e.message),
  );
  assert.throws(() => iterTarget(""), InputError);
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "hash", key: u32, value: u64, maxEntries: 4 });
  using loaded = taskLister();
  using socket = Program.load({ type: "socket_filter", instructions: asm`r0 = 0; exit` });
  const fds = openFdCount();
  assert.throws(() => attachIter(socket), WrongProgramTypeError);
  assert.throws(() => attachIter(loaded.program, { map, task: { pid: process.pid } }), InputError);
  assert.throws(() => attachIter(loaded.program, { task: {} }), InputError);
  assert.throws(() => attachIter(loaded.program, { task: { pid: 0x3ffffff0 } }), InputError);
  assert.throws(() => attachIter(loaded.program, { cgroup: { path: "/etc" } }), InputError, "not a cgroup");
  assert.throws(
    () =>
      attachIter(loaded.program, { cgroup: { path: "/sys/fs/cgroup/unified", order: "sideways" as never } }),
    InputError,
  );
  const iter = attachIter(loaded.program);
  const reader = iter.open();
  iter.close();
  assert.ok(reader.readAll().length > 0, "a walk opened before the link closed still reads");
  reader.close();
  reader.close();
  assert.equal(openFdCount(), fds, "no descriptor leaked");
});
