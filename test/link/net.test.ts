/**
 * XDP (generic mode) and tcx links on lo against the real kernel: a program counts UDP datagrams to
 * one port and passes them, or drops them; datagrams sent to 127.0.0.1 show which. Every link is
 * closed in `finally`: lo is the machine's.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { test } from "node:test";
import {
  attachTcx,
  attachXdp,
  type Link,
  UnknownInterfaceError,
  WrongProgramTypeError,
} from "../../src/link/index.js";
import { Program } from "../../src/program/program.js";
import { BpfError, ClosedError, InputError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";
import { count, counter, Receiver, sendTo, udpPortCounter } from "./programs.js";

const XDP_PASS = 2;
const XDP_DROP = 1;
const TC_ACT_OK = 0;
const TC_ACT_SHOT = 2;

type Kind = "xdp" | "sched_cls";
const attach: Record<Kind, (p: Program) => Link> = {
  xdp: (p) => attachXdp(p, "lo", { mode: "generic" }),
  sched_cls: (p) => attachTcx(p, "lo", "ingress"),
};
const verdicts: Record<Kind, { pass: number; drop: number }> = {
  xdp: { pass: XDP_PASS, drop: XDP_DROP },
  sched_cls: { pass: TC_ACT_OK, drop: TC_ACT_SHOT },
};

for (const kind of ["xdp", "sched_cls"] as const) {
  const name = kind === "xdp" ? "attachXdp (generic) on lo" : "attachTcx on lo ingress";

  test(`${name}: counts the datagrams to one port and passes them; update swaps the program; detach stops it`, async (t) => {
    if (!needsRoot(t)) return;
    using map = counter();
    const receiver = await Receiver.open();
    const client = dgram.createSocket("udp4");
    const { pass } = verdicts[kind];
    using program = udpPortCounter(kind, map, receiver.port, pass, pass);
    using other = udpPortCounter(kind, map, receiver.port, pass, pass);
    const link = attach[kind](program);
    try {
      const info = link.info();
      assert.equal(info.type, kind === "xdp" ? "xdp" : "tcx");
      assert.equal(info.programId, program.info().id);
      if (info.type === "xdp" || info.type === "tcx") assert.equal(info.ifindex, 1, "lo");
      if (info.type === "tcx") assert.equal(info.attachType, "tcx_ingress");
      for (let i = 0; i < 3; i++) await sendTo(client, receiver.port, `d${i}`);
      await receiver.until(3);
      assert.deepEqual(receiver.received, ["d0", "d1", "d2"]);
      assert.equal(count(map), 3n, "each datagram ran the program once");

      link.update(other);
      assert.equal(link.info().programId, other.info().id, "the link runs the new program");
      assert.throws(
        () => link.update(program, { expected: program }),
        (e: unknown) => e instanceof BpfError && e.errnoName === "EPERM",
        "BPF_F_REPLACE: the link no longer runs the expected program",
      );
      link.update(other, { expected: other });
      await sendTo(client, receiver.port, "d3");
      await receiver.until(4);
      assert.equal(count(map), 4n);

      link.detach();
      const detached = link.info();
      assert.equal(
        detached.type === "xdp" || detached.type === "tcx" ? detached.ifindex : -1,
        0,
        "no interface",
      );
      await sendTo(client, receiver.port, "d4");
      await receiver.until(5);
      assert.equal(count(map), 4n, "a detached link runs nothing");
    } finally {
      link.close();
      client.close();
      receiver.socket.close();
    }
  });

  test(`${name}: a program that drops the datagrams to one port keeps them from arriving`, async (t) => {
    if (!needsRoot(t)) return;
    using map = counter();
    const dropped = await Receiver.open();
    const sentinel = await Receiver.open();
    const client = dgram.createSocket("udp4");
    const { pass, drop } = verdicts[kind];
    using program = udpPortCounter(kind, map, dropped.port, drop, pass);
    const link = attach[kind](program);
    try {
      await sendTo(client, dropped.port, "dropped");
      await sendTo(client, sentinel.port, "arrives");
      await sentinel.until(1);
      assert.deepEqual(sentinel.received, ["arrives"]);
      assert.deepEqual(dropped.received, [], "Node saw nothing");
      assert.equal(dropped.pending(), undefined, "and nothing waits in the socket");
    } finally {
      link.close();
    }
    try {
      await sendTo(client, dropped.port, "after close");
      await dropped.until(1);
      assert.deepEqual(dropped.received, ["after close"], "closing the link stops the dropping");
    } finally {
      client.close();
      dropped.socket.close();
      sentinel.socket.close();
    }
  });
}

test("attachXdp / attachTcx: bad input is refused before the kernel, saying what to do", (t) => {
  if (!needsRoot(t)) return;
  using map = counter();
  using filter = Program.load({
    type: "socket_filter",
    instructions: [
      { code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 },
      { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
    ],
  });
  using xdp = udpPortCounter("xdp", map, 9, XDP_PASS, XDP_PASS);
  using cls = udpPortCounter("sched_cls", map, 9, TC_ACT_OK, TC_ACT_OK);
  assert.throws(
    () => attachXdp(filter, "lo"),
    (e: unknown) =>
      e instanceof WrongProgramTypeError && /needs a 'xdp' program, got a 'socket_filter'/.test(e.message),
  );
  assert.throws(() => attachTcx(xdp, "lo", "ingress"), WrongProgramTypeError);
  assert.throws(
    () => attachXdp(xdp, "no-such-if0"),
    (e: unknown) => e instanceof UnknownInterfaceError && /'no-such-if0'.*lo \(1\)/.test(e.message),
  );
  assert.throws(() => attachXdp(xdp, 999_999), UnknownInterfaceError);
  assert.throws(() => attachXdp(xdp, -1), InputError);
  assert.throws(
    () => attachXdp(xdp, "lo", { mode: "native" as never }),
    (e: unknown) => e instanceof InputError && /'generic', 'driver' or 'offload'/.test(e.message),
  );
  assert.throws(() => attachTcx(cls, "lo", "sideways" as never), /'ingress' or 'egress'/);
  assert.throws(() => attachTcx(cls, "lo", "ingress", { expectedRevision: -1 }), InputError);
  const closed = udpPortCounter("xdp", map, 9, XDP_PASS, XDP_PASS);
  closed.close();
  assert.throws(() => attachXdp(closed, "lo"), ClosedError);
});

test("attachXdp: one XDP link per interface and mode (the kernel says EBUSY); update refuses a program of another type", (t) => {
  if (!needsRoot(t)) return;
  using map = counter();
  using a = udpPortCounter("xdp", map, 9, XDP_PASS, XDP_PASS);
  using cls = udpPortCounter("sched_cls", map, 9, TC_ACT_OK, TC_ACT_OK);
  const link = attachXdp(a, "lo", { mode: "generic" });
  try {
    assert.throws(
      () => attachXdp(a, "lo", { mode: "generic" }),
      (e: unknown) => e instanceof Error && /EBUSY/.test(e.message),
    );
    assert.throws(() => link.update(cls), WrongProgramTypeError);
  } finally {
    link.close();
  }
});
