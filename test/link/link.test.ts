/**
 * The Link object against the real kernel: ownership (close, dispose, use after close), pins,
 * opening by path and id, info against bpftool, and no descriptor leaks on success or failure.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "node:test";
import {
  attachRawTracepoint,
  attachTcx,
  attachTracepoint,
  attachXdp,
  Link,
  linkTypeName,
} from "../../src/link/index.js";
import { Program } from "../../src/program/program.js";
import { BpfError, ClosedError, InputError } from "../../src/sys/error.js";
import { openFdCount } from "../support/fds.js";
import { needsRoot } from "../support/privilege.js";
import { count, counter, loadCounter, udpPortCounter } from "./programs.js";

const BPFFS = "/sys/fs/bpf";

function bpftoolLinkIds(): number[] {
  const list = JSON.parse(execFileSync("bpftool", ["link", "show", "-j"], { encoding: "utf8" })) as {
    id: number;
  }[];
  return list.map((l) => l.id);
}

test("a Link owns its descriptor: close is idempotent, using disposes, use after close is ClosedError", (t) => {
  if (!needsRoot(t)) return;
  using map = counter();
  using program = loadCounter(map, "raw_tracepoint");
  let id: number;
  {
    using link = attachRawTracepoint(program, "sys_enter");
    id = link.info().id;
    assert.ok(bpftoolLinkIds().includes(id), "bpftool lists the link");
    assert.equal(link.closed, false);
  }
  assert.ok(!bpftoolLinkIds().includes(id), "leaving the block closed the link and the kernel freed it");
  const link = attachRawTracepoint(program, "sys_enter");
  link.close();
  link.close();
  assert.equal(link.closed, true);
  assert.throws(() => link.fd, ClosedError);
  assert.throws(() => link.info(), /raw_tracepoint link is closed/);
  assert.throws(() => link.detach(), ClosedError);
  assert.throws(() => link.update(program), ClosedError);
  assert.throws(() => link.pin(`${BPFFS}/x`), ClosedError);
});

test("pin keeps a link attached after close; open and fromId give it back; unpin frees it", (t) => {
  if (!needsRoot(t)) return;
  using map = counter();
  using program = loadCounter(map, "tracepoint");
  const path = `${BPFFS}/rawbpf-link-test-${process.pid}`;
  const link = attachTracepoint(program, "syscalls", "sys_enter_getppid");
  const { id } = link.info();
  try {
    link.pin(path);
    assert.ok(existsSync(path));
    link.close();
    const before = count(map);
    void process.ppid;
    assert.equal(count(map), before + 1n, "the pin keeps the program attached");
    using opened = Link.open(path);
    assert.equal(opened.type, "perf_event");
    assert.equal(opened.info().id, id);
    using byId = Link.fromId(id);
    assert.equal(byId.info().programId, program.info().id);
    opened.unpin(path);
    assert.ok(!existsSync(path));
    assert.throws(() => opened.unpin(), /was not pinned by pin\(\)/);
  } finally {
    link.close();
    if (existsSync(path)) Link.open(path).unpin(path);
  }
  assert.throws(
    () => Link.fromId(id),
    (e: unknown) => e instanceof BpfError && e.errnoName === "ENOENT",
  );
  assert.throws(() => Link.fromId(0), InputError);
  assert.throws(
    () => Link.open(`${BPFFS}/rawbpf-no-such-pin`),
    (e: unknown) => e instanceof BpfError && e.errnoName === "ENOENT",
  );
});

test("info() agrees with bpftool for every link kind made here", (t) => {
  if (!needsRoot(t)) return;
  using map = counter();
  using raw = loadCounter(map, "raw_tracepoint");
  using tp = loadCounter(map, "tracepoint");
  using xdp = udpPortCounter("xdp", map, 9, 2, 2);
  const links = [
    attachRawTracepoint(raw, "sys_enter"),
    attachTracepoint(tp, "syscalls", "sys_enter_getppid"),
    attachXdp(xdp, "lo", { mode: "generic" }),
  ];
  try {
    for (const link of links) {
      const info = link.info();
      const oracle = JSON.parse(
        execFileSync("bpftool", ["link", "show", "id", String(info.id), "-j"], { encoding: "utf8" }),
      ) as { id: number; type: string | number; prog_id: number };
      assert.equal(oracle.id, info.id);
      assert.equal(oracle.prog_id, info.programId);
      // older bpftools print a number for link types they do not know
      assert.equal(typeof oracle.type === "number" ? linkTypeName(oracle.type) : oracle.type, info.type);
      assert.equal(link.type, info.type);
    }
  } finally {
    for (const link of links) link.close();
  }
});

test("no descriptor leaks: a batch of failing and succeeding attaches leaves the count where it was", (t) => {
  if (!needsRoot(t)) return;
  using map = counter();
  using raw = loadCounter(map, "raw_tracepoint");
  using tp = loadCounter(map, "tracepoint");
  using xdp = udpPortCounter("xdp", map, 9, 2, 2);
  using cls = udpPortCounter("sched_cls", map, 9, 0, 0);
  const filter = Program.load({
    type: "socket_filter",
    instructions: [
      { code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 },
      { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
    ],
  });
  const before = openFdCount();
  for (let i = 0; i < 20; i++) {
    attachRawTracepoint(raw, "sys_enter").close();
    attachTracepoint(tp, "syscalls", "sys_enter_getppid").close();
    attachXdp(xdp, "lo", { mode: "generic" }).close();
    attachTcx(cls, "lo", "egress").close();
    assert.throws(() => attachTcx(cls, "lo", "ingress", { expectedRevision: 1_000_000 }), BpfError, "ESTALE");
    assert.throws(() => attachRawTracepoint(raw, "no_such_tracepoint"), BpfError);
    assert.throws(() => attachTracepoint(tp, "syscalls", "no_such_tracepoint"), InputError);
    assert.throws(() => attachTracepoint(raw, "syscalls", "sys_enter_getppid"), InputError);
    assert.throws(() => attachXdp(filter, "lo"), InputError);
    assert.throws(
      () => attachXdp(xdp, "lo", { mode: "offload" }),
      BpfError,
      "offload needs a device-bound program",
    );
    const held = attachXdp(xdp, "lo", { mode: "generic" });
    assert.throws(() => attachXdp(xdp, "lo", { mode: "generic" }), BpfError);
    held.close();
  }
  assert.equal(openFdCount(), before);
  filter.close();
  assert.throws(() => attachXdp(filter, "lo"), ClosedError);
});
