/**
 * Tracing links against the real kernel: a raw tracepoint, a tp_btf program and a tracepoint each
 * count this process's system calls into a map while attached, and stop counting once closed.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import {
  attachRawTracepoint,
  attachTracepoint,
  attachTracing,
  type Link,
  rawTracepointBtfId,
  TracefsNotMountedError,
  tracepointId,
  UnknownTracepointError,
  UnsupportedLinkOperationError,
  WrongProgramTypeError,
} from "../../src/link/index.js";
import { Program } from "../../src/program/program.js";
import { BpfError, ClosedError, InputError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";
import { count, counter, loadCounter } from "./programs.js";

/** One getppid(2): Node's `process.ppid` asks the kernel every time it is read. */
function getppid(): void {
  void process.ppid;
}

/** What bpftool says about a link (an oracle independent of our info()). */
function bpftoolLink(id: number): { id: number; prog_id: number; type: string | number } {
  return JSON.parse(execFileSync("bpftool", ["link", "show", "id", String(id), "-j"], { encoding: "utf8" }));
}

/** Asserts the link counts while attached and stops once closed. */
function countsUntilClosed(link: Link, map: ReturnType<typeof counter>): void {
  getppid();
  const attached = count(map);
  assert.ok(attached >= 1n, `the program ran for this process (count ${attached})`);
  link.close();
  link.close();
  const closed = count(map);
  getppid();
  getppid();
  assert.equal(count(map), closed, "nothing counts after close()");
}

test("attachRawTracepoint: sys_enter runs the program for this process's system calls, until close", (t) => {
  if (!needsRoot(t)) return;
  using map = counter();
  using program = loadCounter(map, "raw_tracepoint");
  const link = attachRawTracepoint(program, "sys_enter", { cookie: 7n });
  try {
    assert.equal(link.type, "raw_tracepoint");
    const info = link.info();
    assert.equal(info.type, "raw_tracepoint");
    assert.equal(info.programId, program.info().id);
    if (info.type === "raw_tracepoint") {
      assert.equal(info.tracepoint, "sys_enter");
      assert.equal(info.cookie, 7n);
    }
    const oracle = bpftoolLink(info.id);
    assert.equal(oracle.id, info.id);
    assert.equal(oracle.prog_id, info.programId);
    assert.equal(oracle.type, "raw_tracepoint");
    assert.throws(
      () => link.detach(),
      (e: unknown) => e instanceof BpfError && e.errnoName === "EOPNOTSUPP" && /close\(\) it/.test(e.message),
    );
    assert.throws(() => link.update(program), UnsupportedLinkOperationError);
    countsUntilClosed(link, map);
  } finally {
    link.close();
  }
  assert.throws(() => link.info(), ClosedError);
});

test("attachTracing: a tp_btf program on sys_enter (BPF_LINK_CREATE, trace_raw_tp) counts until close", (t) => {
  if (!needsRoot(t)) return;
  using map = counter();
  using program = loadCounter(map, "tracing", {
    expectedAttachType: "trace_raw_tp",
    attachBtfId: rawTracepointBtfId("sys_enter"),
  });
  assert.equal(program.expectedAttachType, "trace_raw_tp", "attachTracing takes the load's attach type");
  // an opened program does not know how it was loaded: a tp_btf one is told apart by its target
  using opened = Program.fromId(program.info().id);
  assert.equal(opened.expectedAttachType, undefined);
  attachTracing(opened).close();
  const link = attachTracing(program, { cookie: 9 });
  try {
    const info = link.info();
    assert.equal(info.type, "raw_tracepoint", "a tp_btf link is a raw tracepoint link");
    assert.equal(info.programId, program.info().id);
    if (info.type === "raw_tracepoint") {
      assert.equal(info.tracepoint, "sys_enter");
      assert.equal(info.cookie, 9n);
    }
    assert.equal(bpftoolLink(info.id).prog_id, info.programId);
    countsUntilClosed(link, map);
  } finally {
    link.close();
  }
});

test("attachTracing: the attach type given must match the load's (the kernel says EINVAL)", (t) => {
  if (!needsRoot(t)) return;
  using map = counter();
  using program = loadCounter(map, "tracing", {
    expectedAttachType: "trace_raw_tp",
    attachBtfId: rawTracepointBtfId("sys_enter"),
  });
  assert.throws(
    () => attachTracing(program, { attachType: "trace_fentry" }),
    (e: unknown) => e instanceof BpfError && e.errnoName === "EINVAL" && /expectedAttachType/.test(e.message),
  );
  assert.throws(() => attachTracing(program, { attachType: "cgroup_inet_ingress" as never }), InputError);
  assert.throws(() => attachTracing(program, { cookie: -1 }), InputError);
});

test("attachTracepoint: syscalls/sys_enter_getppid through a perf event counts each getppid, until close", (t) => {
  if (!needsRoot(t)) return;
  using map = counter();
  using program = loadCounter(map, "tracepoint");
  const link = attachTracepoint(program, "syscalls", "sys_enter_getppid", { cookie: 3n });
  try {
    const info = link.info();
    assert.equal(info.type, "perf_event");
    assert.equal(info.programId, program.info().id);
    if (info.type === "perf_event") {
      assert.equal(info.eventType, "tracepoint");
      assert.equal(info.tracepoint, "sys_enter_getppid");
      assert.equal(info.cookie, 3n);
    }
    assert.equal(bpftoolLink(info.id).type, "perf_event");
    const before = count(map);
    getppid();
    getppid();
    assert.equal(count(map), before + 2n, "one count per getppid(2), none for other system calls");
    countsUntilClosed(link, map);
  } finally {
    link.close();
  }
});

test("tracepoint ids come from tracefs; a missing tracepoint names the path and a near name", (t) => {
  if (!needsRoot(t)) return;
  const id = tracepointId("syscalls", "sys_enter_getppid");
  assert.ok(id > 0);
  using map = counter();
  using program = loadCounter(map, "tracepoint");
  assert.throws(
    () => attachTracepoint(program, "syscalls", "sys_enter_getppidd"),
    (e: unknown) =>
      e instanceof UnknownTracepointError &&
      e.path.endsWith("/events/syscalls/sys_enter_getppidd/id") &&
      /did you mean syscalls\/sys_enter_getppid\?/.test(e.message),
  );
  assert.throws(
    () => attachTracepoint(program, "syscallz", "sys_enter_getppid"),
    (e: unknown) =>
      e instanceof UnknownTracepointError && /did you mean syscalls\/sys_enter_getppid/.test(e.message),
  );
  assert.throws(() => attachTracepoint(program, "../syscalls", "x"), InputError);
  // what an unmounted tracefs says (it cannot be unmounted under a running machine's feet)
  assert.match(
    new TracefsNotMountedError(["/sys/kernel/tracing"]).message,
    /no events directory under \/sys\/kernel\/tracing.*mount -t tracefs nodev \/sys\/kernel\/tracing/,
  );
  assert.throws(() => attachTracepoint(program, "syscalls", ""), InputError);
});

test("raw tracepoints: an unknown name is the kernel's ENOENT with a near name; wrong types are refused first", (t) => {
  if (!needsRoot(t)) return;
  using map = counter();
  using raw = loadCounter(map, "raw_tracepoint");
  using tp = loadCounter(map, "tracepoint");
  assert.throws(
    () => attachRawTracepoint(raw, "sys_entr"),
    (e: unknown) =>
      e instanceof BpfError && e.errnoName === "ENOENT" && /did you mean 'sys_enter'/.test(e.message),
  );
  assert.throws(() => attachRawTracepoint(raw, "sys enter"), InputError);
  assert.throws(
    () => attachRawTracepoint(tp, "sys_enter"),
    (e: unknown) =>
      e instanceof WrongProgramTypeError && /'raw_tracepoint' or 'raw_tracepoint_writable'/.test(e.message),
  );
  assert.throws(() => attachTracepoint(raw, "syscalls", "sys_enter_getppid"), WrongProgramTypeError);
  assert.throws(() => attachTracing(raw), WrongProgramTypeError);
  assert.throws(() => rawTracepointBtfId("sys_entr"), /did you mean 'btf_trace_sys_enter'/);
});
