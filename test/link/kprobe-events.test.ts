/**
 * Kprobes through tracefs's kprobe_events (kernels without the kprobe PMU). This kernel has no
 * kprobes at all, so: the one-line error naming both missing paths is proved here against sysfs
 * and tracefs; the event lines are checked against the syntax of the kernel's
 * Documentation/trace/kprobetrace.rst; and the create / link / remove sequence runs against a
 * tracefs root of the test's own (a directory with a kprobe_events file), with the real kernel
 * answering every bpf() and perf_event_open call — including the refusals half-way.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { asm } from "../../src/isa/template.js";
import { attachKprobe, KprobesUnsupportedError } from "../../src/link/index.js";
import {
  attachKprobeEvent,
  KprobeEventError,
  kprobeEventDefinition,
  kprobeEventName,
  kprobeEventRemoval,
} from "../../src/link/kprobe.js";
import { Program } from "../../src/program/program.js";
import { BpfError, InputError } from "../../src/sys/error.js";
import { settledFdCount } from "../support/fds.js";
import { needsRoot } from "../support/privilege.js";

// Documentation/trace/kprobetrace.rst, "Synopsis of kprobe_events":
//   p[:[GRP/][EVENT]] [MOD:]SYM[+offs]|MEMADDR [FETCHARGS]   : Set a probe
//   r[MAXACTIVE][:[GRP/][EVENT]] [MOD:]SYM[+0] [FETCHARGS]    : Set a return probe
//   -:[GRP/][EVENT]                                           : Clear a probe
// EVENT, GRP: names the kernel takes as C identifiers (is_good_name); SYM a kernel symbol.
const IDENT = "[A-Za-z_][A-Za-z0-9_]*";
const PROBE = new RegExp(
  `^p(?::(?:(${IDENT})/)?(${IDENT}))? (?:(?:(${IDENT}):)?([A-Za-z_.][A-Za-z0-9_.$]*)(?:\\+(\\d+|0x[0-9a-f]+))?|(0x[0-9a-f]+))$`,
);
const RETPROBE = new RegExp(
  `^r(\\d*)(?::(?:(${IDENT})/)?(${IDENT}))? (?:(${IDENT}):)?([A-Za-z_.][A-Za-z0-9_.$]*)(?:\\+0)?$`,
);
const CLEAR = new RegExp(`^-:(?:(${IDENT})/)?(${IDENT})$`);

test("kprobe event names and lines follow the kprobe_events syntax of kprobetrace.rst", () => {
  const name = kprobeEventName(4242, 7);
  assert.equal(name, "rawbpf_4242_7");
  const p = PROBE.exec(kprobeEventDefinition({ name, symbol: "do_sys_openat2" }));
  assert.ok(p, "a kprobe on a symbol is a 'p' line");
  assert.deepEqual([p[2], p[4], p[5]], [name, "do_sys_openat2", undefined], "event name, symbol, no offset");
  const off = PROBE.exec(kprobeEventDefinition({ name, symbol: "vfs_read", offset: 16 }));
  assert.ok(off, "with an offset");
  assert.deepEqual([off[4], Number(off[5])], ["vfs_read", 16], "SYM+offs");
  const addr = PROBE.exec(kprobeEventDefinition({ name, address: 0xffffffff81000010n }));
  assert.ok(addr, "a kprobe on an address");
  assert.equal(BigInt(addr[6]!), 0xffffffff81000010n, "MEMADDR");
  const r = RETPROBE.exec(kprobeEventDefinition({ name, symbol: "vfs_read", retprobe: true }));
  assert.ok(r, "a kretprobe is an 'r' line");
  assert.deepEqual([r[3], r[5]], [name, "vfs_read"]);
  const clear = CLEAR.exec(kprobeEventRemoval(name));
  assert.ok(clear, "removal is a '-:' line");
  assert.equal(clear[2], name);
  // what the syntax (or the kernel) does not take is refused before anything is written
  for (const bad of [
    () => kprobeEventName(0, 1),
    () => kprobeEventDefinition({ name: "has space", symbol: "vfs_read" }),
    () => kprobeEventDefinition({ name: "x".repeat(64), symbol: "vfs_read" }),
    () => kprobeEventDefinition({ name, symbol: "vfs_read", address: 1n }),
    () => kprobeEventDefinition({ name }),
    () => kprobeEventDefinition({ name, symbol: "vfs read" }),
    () => kprobeEventDefinition({ name, symbol: "vfs_read", retprobe: true, offset: 4 }),
    () => kprobeEventDefinition({ name, address: 0x1000n, retprobe: true }),
    () => kprobeEventDefinition({ name, address: 0x1000n, offset: 8 }),
    () => kprobeEventRemoval("a/b"),
  ])
    assert.throws(bad, InputError);
});

test("on this kernel (no kprobe PMU, no kprobe_events) attachKprobe fails in one line naming both paths", (t) => {
  if (!needsRoot(t)) return;
  const pmu = "/sys/bus/event_source/devices/kprobe";
  const events = "/sys/kernel/tracing/kprobe_events";
  if (existsSync(pmu) || existsSync(events)) {
    t.skip("this kernel has kprobes");
    return;
  }
  using program = Program.load({ type: "kprobe", instructions: asm`r0 = 0; exit` });
  assert.throws(
    () => attachKprobe(program, { symbol: "vfs_read", retprobe: true }),
    (e: unknown) =>
      e instanceof KprobesUnsupportedError &&
      !e.message.includes("\n") &&
      e.message.includes(pmu) &&
      e.message.includes(events),
  );
});

/** A tracefs root of the test's own: a kprobe_events file, and the events directory. */
function fakeTracefs(): { root: string; lines: () => string[]; idFile: (name: string, id: string) => void } {
  const root = mkdtempSync(join(tmpdir(), "rawbpf-tracefs-"));
  writeFileSync(join(root, "kprobe_events"), "");
  return {
    root,
    lines: () => readFileSync(join(root, "kprobe_events"), "latin1").split("\n").filter(Boolean),
    idFile: (name, id) => {
      mkdirSync(join(root, "events", "kprobes", name), { recursive: true });
      writeFileSync(join(root, "events", "kprobes", name, "id"), `${id}\n`);
    },
  };
}

/** A real tracepoint's id from the real tracefs (the kernel answers perf_event_open for it). */
function realTracepointId(): string {
  return readFileSync("/sys/kernel/tracing/events/syscalls/sys_enter_getppid/id", "latin1").trim();
}

test("attachKprobeEvent removes its event when any later step fails, and leaks no descriptor", (t) => {
  if (!needsRoot(t)) return;
  using kprobe = Program.load({ type: "kprobe", instructions: asm`r0 = 0; exit` });
  const fake = fakeTracefs();
  try {
    const fds = settledFdCount("anon_inode:");
    // 1. the event's id cannot be read
    assert.throws(
      () => attachKprobeEvent(kprobe.fd, { symbol: "vfs_read" }, 0n, fake.root, "rawbpf_t_1"),
      (e: unknown) =>
        e instanceof KprobeEventError && /events\/kprobes\/rawbpf_t_1\/id cannot be read/.test(e.message),
    );
    assert.deepEqual(fake.lines(), ["p:rawbpf_t_1 vfs_read", "-:rawbpf_t_1"], "made, then removed");
    // 2. the kernel has no event with that id: perf_event_open fails
    fake.idFile("rawbpf_t_2", "4294967");
    assert.throws(
      () => attachKprobeEvent(kprobe.fd, { symbol: "vfs_read", offset: 4 }, 0n, fake.root, "rawbpf_t_2"),
      (e: unknown) => e instanceof BpfError,
      "perf_event_open refuses an id no event has",
    );
    assert.deepEqual(fake.lines().slice(2), ["p:rawbpf_t_2 vfs_read+4", "-:rawbpf_t_2"]);
    // 3. the perf event opens (a real tracepoint) but the kernel will not link a kprobe program to it
    fake.idFile("rawbpf_t_3", realTracepointId());
    assert.throws(
      () => attachKprobeEvent(kprobe.fd, { symbol: "vfs_read", retprobe: true }, 0n, fake.root, "rawbpf_t_3"),
      (e: unknown) => e instanceof BpfError && e.command === "BPF_LINK_CREATE",
      "BPF_LINK_CREATE refuses a kprobe program on a tracepoint event",
    );
    assert.deepEqual(fake.lines().slice(4), ["r:rawbpf_t_3 vfs_read", "-:rawbpf_t_3"]);
    assert.equal(settledFdCount("anon_inode:"), fds, "no perf event or link descriptor left open");
    // 4. the definition itself cannot be written: nothing to remove
    rmSync(join(fake.root, "kprobe_events"));
    mkdirSync(join(fake.root, "kprobe_events"));
    assert.throws(
      () => attachKprobeEvent(kprobe.fd, { symbol: "vfs_read" }, 0n, fake.root, "rawbpf_t_4"),
      (e: unknown) =>
        e instanceof KprobeEventError &&
        e.line === "p:rawbpf_t_4 vfs_read" &&
        /kprobe_events failed/.test(e.message),
    );
  } finally {
    rmSync(fake.root, { recursive: true, force: true });
  }
});

test("attachKprobeEvent: the link holds the event; closing the link removes it, once", (t) => {
  if (!needsRoot(t)) return;
  // a tracepoint program, so the kernel links it to the real tracepoint the fake id names: the
  // whole sequence runs, and close() is what removes the event
  using program = Program.load({ type: "tracepoint", instructions: asm`r0 = 0; exit` });
  const fake = fakeTracefs();
  try {
    fake.idFile("rawbpf_t_5", realTracepointId());
    const link = attachKprobeEvent(program.fd, { symbol: "vfs_read" }, 9n, fake.root, "rawbpf_t_5");
    assert.equal(link.info().type, "perf_event");
    assert.deepEqual(fake.lines(), ["p:rawbpf_t_5 vfs_read"], "the event stays while the link is open");
    link.close();
    assert.deepEqual(fake.lines(), ["p:rawbpf_t_5 vfs_read", "-:rawbpf_t_5"], "close removed it");
    link.close();
    assert.equal(fake.lines().length, 2, "a second close writes nothing");
  } finally {
    rmSync(fake.root, { recursive: true, force: true });
  }
});
