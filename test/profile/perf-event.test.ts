/**
 * attachPerfEvent against the running kernel: a perf_event program on cpu-clock runs on every
 * online CPU (the map it counts into and the kernel's link list are the oracles), one
 * PerfEventLink owns every CPU's link, close() removes them all, and bad input is refused before
 * the kernel with typed errors.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { u32, u64 } from "../../src/codec/index.js";
import { asm } from "../../src/isa/template.js";
import { attachPerfEvent, Link, WrongProgramTypeError } from "../../src/link/index.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { BpfError, InputError } from "../../src/sys/error.js";
import { loadCounter } from "../link/programs.js";
import { countThen } from "../support/counting.js";
import { settledFdCount } from "../support/fds.js";
import { needsRoot } from "../support/privilege.js";

/** The online CPUs, read here from sysfs without rawbpf. */
function online(): number[] {
  const out: number[] = [];
  for (const part of readFileSync("/sys/devices/system/cpu/online", "latin1").trim().split(",")) {
    const [a, b] = part.split("-").map(Number);
    for (let c = a as number; c <= (b ?? a)!; c++) out.push(c);
  }
  return out;
}

/** A perf_event program that counts its runs per CPU (a per-CPU array would do; one slot per CPU here). */
function setup() {
  const map = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 64, name: "pe_count" });
  const program = Program.load({
    type: "perf_event",
    instructions: countThen(map, "bpf_get_smp_processor_id")`
      r0 = 0
      exit
    `,
  });
  return { map, program };
}

function linkIds(): Set<number> {
  const list = JSON.parse(execFileSync("bpftool", ["link", "list", "-j"], { encoding: "utf8" })) as {
    id: number;
    prog_id: number;
  }[];
  return new Set(list.map((l) => l.id));
}

test("cpu-clock samples on every online CPU through one PerfEventLink", (t) => {
  if (!needsRoot(t)) return;
  const { map, program } = setup();
  using _m = map;
  using _p = program;
  const cpus = online();
  const fds = settledFdCount("anon_inode:");
  const link = attachPerfEvent(program, { type: "software", config: "cpu-clock", sampleFreq: 997 });
  const info = link.info();
  assert.deepEqual(info.cpus, cpus, "one link per online CPU");
  assert.equal(info.links.length, cpus.length);
  assert.equal(info.sampleFreq, 997);
  assert.equal(info.config, 0n);
  const ids = info.links.map((l) => l.id);
  assert.equal(new Set(ids).size, ids.length, "distinct kernel links");
  const listed = linkIds();
  for (const l of info.links) {
    assert.ok(listed.has(l.id), `bpftool lists link ${l.id}`);
    assert.equal(l.type, "perf_event");
    assert.equal(l.programId, program.info().id, "each link runs the program");
    if (l.type === "perf_event") assert.equal(l.eventType, "event");
  }
  // burn CPU until the program has run on this CPU (sampling is by time, so it will)
  const deadline = Date.now() + 20_000;
  let total = 0n;
  while (Date.now() < deadline) {
    const t0 = Date.now();
    while (Date.now() - t0 < 50) {}
    total = 0n;
    for (const c of cpus) total += map.get(c) ?? 0n;
    if (total >= 20n) break;
  }
  assert.ok(total >= 20n, `the program ran ${total} times in 20 s of busy CPU at 997 Hz`);
  link.close();
  assert.ok(link.closed, "closed");
  assert.equal(settledFdCount("anon_inode:"), fds, "every per-CPU descriptor closed");
  for (const id of ids) {
    assert.throws(
      () => Link.fromId(id),
      (e: unknown) => e instanceof BpfError && e.errnoName === "ENOENT",
      `link ${id} is gone`,
    );
  }
  const after = map.get(cpus[0] as number);
  const t0 = Date.now();
  while (Date.now() - t0 < 100) {}
  assert.equal(map.get(cpus[0] as number), after, "no more runs after close");
});

test("one CPU, one thread, a period instead of a frequency", (t) => {
  if (!needsRoot(t)) return;
  const { map, program } = setup();
  using _m = map;
  using _p = program;
  const cpu = online().at(-1) as number;
  {
    using link = attachPerfEvent(program, {
      type: "software",
      config: "task-clock",
      samplePeriod: 1_000_000,
      cpu,
    });
    const info = link.info();
    assert.deepEqual(info.cpus, [cpu]);
    assert.equal(info.samplePeriod, 1_000_000n);
    assert.equal(info.links[0]?.type === "perf_event" && info.links[0].config, 1n, "task-clock is config 1");
  }
  using link = attachPerfEvent(program, { type: "software", config: "cpu-clock", pid: process.pid });
  assert.deepEqual(link.info().cpus, [-1], "one event that follows the thread");
  assert.equal(link.info().pid, process.pid);
});

test("hardware events: counted where the machine has a CPU PMU, else an error that says so", (t) => {
  if (!needsRoot(t)) return;
  const { map, program } = setup();
  using _m = map;
  using _p = program;
  const pmu =
    existsSync("/sys/bus/event_source/devices/cpu") || existsSync("/sys/bus/event_source/devices/cpu_core");
  const fds = settledFdCount("anon_inode:");
  try {
    using link = attachPerfEvent(program, { type: "hardware", config: "cpu-cycles", sampleFreq: 99 });
    assert.ok(pmu, `hardware events work, and sysfs lists a CPU PMU: ${pmu}`);
    assert.equal(link.info().type, "hardware");
  } catch (e) {
    assert.ok(e instanceof BpfError, String(e));
    if (!pmu) assert.match(e.message, /exposes no hardware PMU .* type 'software', config 'cpu-clock'/);
  }
  assert.equal(settledFdCount("anon_inode:"), fds, "nothing leaked");
});

test("a tracepoint event takes a tracepoint program", (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 1, name: "pe_tp" });
  using program = loadCounter(map, "tracepoint");
  // one event that follows this thread on whichever CPU it runs (cpu 0 alone missed the calls
  // whenever the thread ran on another CPU)
  using link = attachPerfEvent(program, {
    type: "tracepoint",
    config: "syscalls/sys_enter_getppid",
    pid: process.pid,
  });
  assert.deepEqual(link.info().cpus, [-1]);
  assert.equal(link.info().samplePeriod, 1n);
  for (let i = 0; i < 5; i++) process.ppid;
  assert.ok((map.get(0) ?? 0n) >= 5n, `counted ${map.get(0)} getppid calls`);
});

test("bad input: typed errors before the kernel", (t) => {
  if (!needsRoot(t)) return;
  const { map, program } = setup();
  using _m = map;
  using _p = program;
  using kprobe = Program.load({ type: "kprobe", instructions: asm`r0 = 0\nexit` });
  const sw = { type: "software" as const, config: "cpu-clock" };
  assert.throws(() => attachPerfEvent(kprobe, sw), WrongProgramTypeError);
  assert.throws(
    () => attachPerfEvent(program, { type: "tracepoint", config: "sched/sched_switch" }),
    WrongProgramTypeError,
  );
  assert.throws(() => attachPerfEvent(program, { ...sw, type: "bogus" as "raw" }), /'software', 'hardware'/);
  assert.throws(() => attachPerfEvent(program, { ...sw, config: "cpu-clok" }), /did you mean 'cpu-clock'/);
  assert.throws(() => attachPerfEvent(program, { ...sw, sampleFreq: 10, samplePeriod: 10 }), /not both/);
  assert.throws(() => attachPerfEvent(program, { ...sw, sampleFreq: 0 }), InputError);
  assert.throws(() => attachPerfEvent(program, { ...sw, samplePeriod: -1 }), InputError);
  assert.throws(() => attachPerfEvent(program, { ...sw, cpu: 4000 }), /not online/);
  assert.throws(() => attachPerfEvent(program, { ...sw, pid: 0x3ffffffe }), /no process/);
  assert.throws(() => attachPerfEvent(program, { type: "raw", config: "x" }), /non-negative integer/);
});
