/**
 * Kprobes, kretprobes and kprobe_multi against the running kernel. On a kernel without
 * CONFIG_KPROBES (this one) attachKprobe says so in one line before any system call, and the
 * test checks that the machine really has neither a kprobe PMU nor kprobe_events (sysfs and
 * tracefs are the oracle); on a kernel with kprobes the probe counts this process's getppid calls.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { u32, u64 } from "../../src/codec/index.js";
import {
  attachKprobe,
  attachKprobeMulti,
  KprobesUnsupportedError,
  kprobeSupport,
  WrongProgramTypeError,
} from "../../src/link/index.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { BpfError, InputError } from "../../src/sys/error.js";
import { countThisProcess } from "../link/programs.js";
import { settledFdCount } from "../support/fds.js";
import { needsRoot } from "../support/privilege.js";

const PMU = "/sys/bus/event_source/devices/kprobe";
const TRACEFS_EVENTS = ["/sys/kernel/tracing/kprobe_events", "/sys/kernel/debug/tracing/kprobe_events"];
/** What this machine has, read here without rawbpf. */
const hasPmu = existsSync(`${PMU}/type`);
const hasEvents = TRACEFS_EVENTS.some((p) => existsSync(p));

function counter() {
  return BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 1, name: "kp_count" });
}

test("kprobeSupport reports what sysfs and tracefs show", () => {
  const s = kprobeSupport();
  assert.equal(
    s.pmu !== undefined,
    hasPmu,
    `kprobe PMU: rawbpf says ${s.pmu !== undefined}, sysfs ${hasPmu}`,
  );
  assert.equal(s.kprobeEvents, hasEvents, "kprobe_events in tracefs");
});

test("attachKprobe: one line saying the kernel has no kprobes, before the kernel is asked; or a working probe", (t) => {
  if (!needsRoot(t)) return;
  using map = counter();
  using program = Program.load({ type: "kprobe", instructions: countThisProcess(map) });
  if (!hasPmu && !hasEvents) {
    const fds = settledFdCount("anon_inode:");
    assert.throws(
      () => attachKprobe(program, { symbol: "do_sys_openat2" }),
      (e: unknown) =>
        e instanceof KprobesUnsupportedError &&
        e.code === "ENOKPROBE" &&
        e.message ===
          "no kprobe PMU (/sys/bus/event_source/devices/kprobe) and no /sys/kernel/tracing/kprobe_events: this kernel was built without CONFIG_KPROBES" &&
        !e.message.includes("\n"),
      "the one-line error",
    );
    assert.throws(
      () => attachKprobe(program, { symbol: "do_sys_openat2", retprobe: true }),
      KprobesUnsupportedError,
      "kretprobes too",
    );
    assert.equal(
      settledFdCount("anon_inode:"),
      fds,
      "no descriptor was opened (no perf_event_open was made)",
    );
    return;
  }
  // a kernel with kprobes (by the PMU, or by tracefs's kprobe_events when it has no PMU): the probe
  // on getppid's syscall counts this process's calls
  const fn = process.arch === "arm64" ? "__arm64_sys_getppid" : "__x64_sys_getppid";
  using link = attachKprobe(program, { symbol: fn, cookie: 7 });
  const info = link.info();
  assert.equal(info.type, "perf_event");
  for (let i = 0; i < 10; i++) process.ppid;
  assert.ok((map.get(0) ?? 0n) >= 10n, `the kprobe counted ${map.get(0)} calls of ${fn}, want >= 10`);
});

test("attachKprobe refuses bad input with typed errors, before the kernel", (t) => {
  if (!needsRoot(t)) return;
  using map = counter();
  using kprobe = Program.load({ type: "kprobe", instructions: countThisProcess(map) });
  using xdp = Program.load({ type: "xdp", instructions: countThisProcess(map) });
  assert.throws(() => attachKprobe(xdp, { symbol: "vfs_read" }), WrongProgramTypeError);
  assert.throws(() => attachKprobe(kprobe, {}), /exactly one of them/);
  assert.throws(() => attachKprobe(kprobe, { symbol: "vfs_read", address: 1n }), /exactly one/);
  assert.throws(() => attachKprobe(kprobe, { symbol: "not a name" }), /C identifier/);
  assert.throws(() => attachKprobe(kprobe, { symbol: "vfs_read", offset: -1 }), InputError);
  assert.throws(() => attachKprobe(kprobe, { symbol: "vfs_read", retprobe: true, offset: 4 }), /kretprobe/);
  assert.throws(() => attachKprobe(kprobe, { symbol: "vfs_read", cookie: -1 }), /cookie/);
});

test("attachKprobeMulti: the kernel's answer (EOPNOTSUPP said plainly without fprobe), or a working link", (t) => {
  if (!needsRoot(t)) return;
  using map = counter();
  using program = Program.load({
    type: "kprobe",
    expectedAttachType: "trace_kprobe_multi",
    instructions: countThisProcess(map),
  });
  const fn = process.arch === "arm64" ? "__arm64_sys_getppid" : "__x64_sys_getppid";
  let link: ReturnType<typeof attachKprobeMulti> | undefined;
  const fds = settledFdCount("anon_inode:");
  try {
    link = attachKprobeMulti(program, { symbols: [fn], cookies: [3] });
  } catch (e) {
    assert.ok(e instanceof BpfError, `a BpfError, got ${String(e)}`);
    assert.equal(e.errnoName, "EOPNOTSUPP", `the kernel refused with ${e.errnoName}: ${e.message}`);
    assert.match(e.message, /without CONFIG_FPROBE/);
    assert.equal(settledFdCount("anon_inode:"), fds, "nothing leaked");
    return;
  }
  using l = link;
  const info = l.info();
  assert.equal(info.type, "kprobe_multi");
  if (info.type === "kprobe_multi") assert.deepEqual(info.cookies, [3n]);
  for (let i = 0; i < 10; i++) process.ppid;
  assert.ok((map.get(0) ?? 0n) >= 10n, `counted ${map.get(0)}`);
});

test("attachKprobeMulti refuses bad input with typed errors, before the kernel", (t) => {
  if (!needsRoot(t)) return;
  using map = counter();
  using plain = Program.load({ type: "kprobe", instructions: countThisProcess(map) });
  using multi = Program.load({
    type: "kprobe",
    expectedAttachType: "trace_kprobe_multi",
    instructions: countThisProcess(map),
  });
  assert.throws(() => attachKprobeMulti(plain, { symbols: ["vfs_read"] }), /trace_kprobe_multi/);
  assert.throws(() => attachKprobeMulti(multi, {}), /exactly one/);
  assert.throws(() => attachKprobeMulti(multi, { symbols: ["vfs_read"], addresses: [1n] }), /exactly one/);
  assert.throws(() => attachKprobeMulti(multi, { symbols: [] }), /from 1 to/);
  assert.throws(
    () => attachKprobeMulti(multi, { symbols: ["vfs_read"], cookies: [1, 2] }),
    /one per function/,
  );
  assert.throws(() => attachKprobeMulti(multi, { symbols: ["a b"] }), /symbol 0/);
  assert.throws(() => attachKprobeMulti(multi, { addresses: [0n] }), /address 0/);
});
