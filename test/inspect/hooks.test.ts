import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmdirSync } from "node:fs";
import { test } from "node:test";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { asm } from "../../src/isa/template.js";
import { attachCgroup } from "../../src/link/cgroup.js";
import { attachRawTracepoint, attachTcx, attachTracepoint, attachXdp } from "../../src/link/index.js";
import { Program } from "../../src/program/program.js";
import { needsRoot } from "../support/privilege.js";

function bpftool(...args: string[]): unknown {
  return JSON.parse(execFileSync("bpftool", ["-j", ...args], { encoding: "utf8" }));
}

async function cli(...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  const io = captureIo();
  const status = await main(argv, io);
  return { status, out: io.out, err: io.err };
}

test("rawbpf cgroup tree / show --json: bpftool -j cgroup's entries for a cgroup we made", async (t) => {
  if (!needsRoot(t)) return;
  const root = execFileSync("awk", ['$3 == "cgroup2" { print $2; exit }', "/proc/mounts"], {
    encoding: "utf8",
  }).trim();
  assert.ok(root, "a cgroup2 mount");
  const dir = `${root}/rawbpf-inspect-${process.pid}`;
  mkdirSync(dir);
  try {
    using prog = Program.load({
      type: "cgroup_skb",
      name: "insp_cgroup",
      expectedAttachType: "cgroup_inet_ingress",
      instructions: asm`r0 = 1; exit`,
    });
    using _in = attachCgroup(prog, dir, "cgroup_inet_ingress");
    using _out = attachCgroup(prog, dir, "cgroup_inet_egress");
    const show = await cli("cgroup", "show", dir, "--json");
    assert.equal(show.status, 0, show.err);
    assert.deepEqual(JSON.parse(show.out), bpftool("cgroup", "show", dir));
    const tree = await cli("cgroup", "tree", root, "--json");
    assert.equal(tree.status, 0, tree.err);
    const mine = (rows: unknown) => (rows as { cgroup: string }[]).find((r) => r.cgroup === dir);
    const ours = mine(JSON.parse(tree.out));
    assert.ok(ours, "our cgroup is in the tree");
    assert.deepEqual(ours, mine(bpftool("cgroup", "tree", root)));
    const text = await cli("cgroup", "tree", root);
    assert.match(
      text.out,
      new RegExp(`^ {4}${prog.info().id} +cgroup_inet_ingress multi +insp_cgroup$`, "m"),
    );
  } finally {
    rmdirSync(dir);
  }
  const gone = await cli("cgroup", "show", dir);
  assert.equal(gone.status, 1);
  assert.match(gone.err, /is not a cgroup directory \(ENOENT\)/);
});

test("rawbpf perf list --json: bpftool -j perf's entries for this process's raw tracepoint", async (t) => {
  if (!needsRoot(t)) return;
  using prog = Program.load({ type: "raw_tracepoint", instructions: asm`r0 = 0; exit` });
  using _link = attachRawTracepoint(prog, "sys_enter");
  const mine = (rows: unknown) =>
    (rows as { pid: number; prog_id: number }[]).filter(
      (r) => r.pid === process.pid && r.prog_id === prog.info().id,
    );
  const r = await cli("perf", "list", "--json");
  assert.equal(r.status, 0, r.err);
  const ours = mine(JSON.parse(r.out));
  assert.equal(ours.length, 1, r.out);
  assert.deepEqual(ours, mine(bpftool("perf", "list")));
  assert.deepEqual(
    { ...ours[0], fd: 0 },
    {
      pid: process.pid,
      fd: 0,
      prog_id: prog.info().id,
      fd_type: "raw_tracepoint",
      tracepoint: "sys_enter",
    },
  );
});

test("rawbpf perf list --links: the perf-event links no process holds an event descriptor of", async (t) => {
  if (!needsRoot(t)) return;
  using prog = Program.load({ type: "tracepoint", instructions: asm`r0 = 0; exit` });
  using link = attachTracepoint(prog, "syscalls", "sys_enter_getppid");
  const plain = JSON.parse((await cli("perf", "list", "--json")).out) as { prog_id: number }[];
  assert.equal(
    plain.find((x) => x.prog_id === prog.info().id),
    undefined,
    "bpftool's list has no entry: the link holds the event",
  );
  const r = await cli("perf", "list", "--links", "--json");
  assert.equal(r.status, 0, r.err);
  const mine = (JSON.parse(r.out) as Record<string, unknown>[]).find((x) => x.prog_id === prog.info().id);
  assert.deepEqual(mine, {
    link_id: link.info().id,
    prog_id: prog.info().id,
    fd_type: "tracepoint",
    tracepoint: "sys_enter_getppid",
    cookie: 0,
  });
});

test("rawbpf net list dev lo --json: XDP and tcx programs on lo, as bpftool -j net shows them", async (t) => {
  if (!needsRoot(t)) return;
  using xdp = Program.load({ type: "xdp", name: "insp_xdp", instructions: asm`r0 = 2; exit` });
  using _x = attachXdp(xdp, "lo", { mode: "generic" });
  using tc = Program.load({ type: "sched_cls", name: "insp_tcx", instructions: asm`r0 = -1; exit` });
  using tcLink = attachTcx(tc, "lo", "ingress");
  const r = await cli("net", "list", "dev", "lo", "--json");
  assert.equal(r.status, 0, r.err);
  const [ours] = JSON.parse(r.out) as { xdp: Record<string, unknown>[]; tc: Record<string, unknown>[] }[];
  const [theirs] = bpftool("net", "list", "dev", "lo") as { xdp: Record<string, unknown>[] }[];
  const id = xdp.info().id;
  const a = ours!.xdp.find((x) => x.id === id);
  const b = theirs!.xdp.find((x) => x.id === id);
  assert.ok(a && b, "the XDP program on lo is listed by both");
  // both read XDP from one rtnetlink link dump: the same entry, mode included
  assert.deepEqual(a, b);
  // bpftool 7.1 prints no tcx rows; this is the shape of 7.3+ (net.c __show_dev_tc_bpf)
  assert.deepEqual(
    ours!.tc.find((x) => x.prog_id === tc.info().id),
    {
      devname: "lo",
      ifindex: 1,
      kind: "tcx/ingress",
      name: "insp_tcx",
      prog_id: tc.info().id,
      prog_flags: [],
      link_id: tcLink.info().id,
      link_flags: [],
    },
  );
  const none = await cli("net", "list", "dev", "no-such-dev0");
  assert.equal(none.status, 1);
  assert.match(none.err, /no network device 'no-such-dev0'/);
});
