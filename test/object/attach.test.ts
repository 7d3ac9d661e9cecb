/**
 * BpfObject.attach(): programs attached where their sections say (raw tracepoint, uprobe with
 * BINARY:FUNCTION, tracepoint), cgroup programs to the cgroup given; the links close with the
 * object. And a real tool end to end: examples/opensnoop.bpf.c's openat tracepoint read through a RingBuffer.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "node:test";
import { BpfObject } from "../../src/object/index.js";
import { RingBuffer } from "../../src/ringbuf/index.js";
import { BpfError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";
import { BUILD_DIR, compileFixture, EXAMPLES } from "./compile.js";

const N = 17;

function target(): string {
  const src = join(BUILD_DIR, "attach-target.c");
  const bin = join(BUILD_DIR, "attach-target");
  writeFileSync(
    src,
    `#include <stdlib.h>
__attribute__((noinline)) int rawbpf_target(int x) { return x + 1; }
int main(int argc, char **argv) { volatile int s = 0; for (int i = 1; i <= atoi(argv[1]); i++) s += rawbpf_target(i); return 0; }
`,
  );
  execFileSync("cc", ["-O0", "-o", bin, src]);
  return bin;
}

test("attach(): raw_tp, uprobe BINARY:FUNCTION and cgroup programs, links closed with the object", (t) => {
  if (!needsRoot(t)) return;
  const bin = target();
  const path = compileFixture("attach", [`-DTARGET="${bin}"`]);
  const cgroup = `/sys/fs/cgroup/unified/rawbpf-obj-${process.pid}`;
  mkdirSync(cgroup);
  try {
    const obj = BpfObject.open(path, { constants: { target_tgid: process.pid } }).load();
    const first = obj.attach();
    assert.deepEqual(
      [...first.keys()].sort(),
      ["count_getppid", "on_target"],
      "the ones whose sections say where",
    );
    assert.match(obj.unattached.get("allow_egress") ?? "", /give attach\(\{ cgroup \}\)/);
    const second = obj.attach({ cgroup });
    assert.deepEqual([...second.keys()], ["allow_egress"], "the cgroup program, given its cgroup");
    assert.equal(obj.unattached.size, 0, "nothing left out");
    const before = obj.variable("raw_hits").get() as bigint;
    for (let i = 0; i < 5; i++) void process.ppid; // getppid(2) each time
    assert.ok(
      (obj.variable("raw_hits").get() as bigint) - before >= 5n,
      "the raw tracepoint saw our getppid calls",
    );
    const r = spawnSync(bin, [String(N)]);
    assert.equal(r.status, 0, "the target ran");
    assert.equal(obj.variable("uprobe_hits").get(), BigInt(N), "the uprobe fired once per call");
    assert.equal(obj.variable("uprobe_arg_sum").get(), BigInt((N * (N + 1)) / 2), "and saw the argument");
    const links = ["count_getppid", "on_target", "allow_egress"].map((n) => obj.link(n));
    const ids = links.map((l) => l.info().id);
    const listed = execFileSync("bpftool", ["link", "list", "--json"], { encoding: "utf8" });
    for (const id of ids) assert.ok(listed.includes(`"id":${id},`), `bpftool lists link ${id}`);
    obj.close();
    assert.ok(
      links.every((l) => l.closed),
      "every link closed with the object",
    );
    const after = execFileSync("bpftool", ["link", "list", "--json"], { encoding: "utf8" });
    for (const id of ids) assert.ok(!after.includes(`"id":${id},`), `link ${id} is gone`);
  } finally {
    rmdirSync(cgroup);
  }
});

test("fentry: this kernel refuses the load, and the error says so; attach of an unknown program is typed", (t) => {
  if (!needsRoot(t)) return;
  const path = compileFixture("attach", [`-DTARGET="/bin/true"`]);
  assert.throws(
    () => BpfObject.open(path).load({ programs: ["on_unlink"] }),
    (e: unknown) =>
      e instanceof BpfError &&
      e.errnoName === "EPERM" &&
      /program 'on_unlink' failed: EPERM: the kernel refused/.test(e.message),
  );
  using obj = BpfObject.open(path, { constants: { target_tgid: 1 } }).load({ programs: ["allow_egress"] });
  assert.throws(
    () => obj.attach({ programs: ["allow_egress"] }),
    /allow_egress.*cannot be attached: a cgroup program/,
  );
  assert.throws(() => obj.attach({ programs: ["on_unlink"] }), /no loaded program 'on_unlink'/);
});

test("opensnoop.bpf.c: a tracepoint tool end to end, openat records read through a RingBuffer", async (t) => {
  if (!needsRoot(t)) return;
  const path = compileFixture("opensnoop.bpf", [], EXAMPLES);
  using obj = BpfObject.open(path, { constants: { target_tgid: process.pid } }).load();
  assert.deepEqual([...obj.attach().keys()], ["trace_openat"]);
  using ring = RingBuffer.open(obj.map("events"));
  const file = join(BUILD_DIR, `opened-by-${process.pid}.txt`);
  writeFileSync(file, "x");
  const fd = openSync(file, "r");
  closeSync(fd);
  const seen: { pid: number; flags: number; comm: string; filename: string }[] = [];
  const text = (b: Uint8Array) => new TextDecoder().decode(b.subarray(0, Math.max(0, b.indexOf(0))));
  ring.consume((r) => {
    const bytes = new Uint8Array(r.view.buffer, r.view.byteOffset + r.offset, r.length);
    seen.push({
      pid: r.view.getUint32(r.offset, true),
      flags: r.view.getUint32(r.offset + 4, true),
      comm: text(bytes.subarray(8, 24)),
      filename: text(bytes.subarray(24, 280)),
    });
  });
  const mine = seen.filter((s) => s.filename === file);
  assert.ok(
    mine.length >= 2,
    `the write and the read open of ${file} were seen (${JSON.stringify(seen.slice(0, 5))})`,
  );
  assert.ok(
    mine.every((s) => s.pid === process.pid),
    "with our pid",
  );
  assert.ok(
    mine.some((s) => (s.flags & 3) === 0) && mine.some((s) => (s.flags & 3) === 1),
    "O_RDONLY and O_WRONLY",
  );
  assert.equal(obj.variable("lost").get(), 0n, "nothing dropped");
});

test("attach({ netns }): sk_lookup and flow_dissector programs on a network namespace, as bpftool lists them", (t) => {
  if (!needsRoot(t)) return;
  const path = compileFixture("netns");
  // a namespace of its own (a child holds it), so nothing else on this machine sees the programs
  const holder = spawn("unshare", ["-n", "sleep", "60"], { stdio: "ignore" });
  try {
    const ns = `/proc/${holder.pid}/ns/net`;
    const self = statSync("/proc/self/ns/net").ino;
    for (let i = 0; i < 200 && statSync(ns).ino === self; i++) execFileSync("sleep", ["0.01"]);
    const ino = statSync(ns).ino;
    assert.notEqual(ino, self, "the child is in a namespace of its own");
    using obj = BpfObject.open(path).load();
    const without = obj.attach();
    assert.equal(without.size, 0, "no namespace given: nothing attached");
    assert.match(obj.unattached.get("lookup_pass") ?? "", /give attach\(\{ netns \}\)/);
    const links = obj.attach({ netns: ns });
    assert.deepEqual([...links.keys()].sort(), ["dissect_none", "lookup_pass"]);
    const listed = JSON.parse(execFileSync("bpftool", ["-j", "link", "show"], { encoding: "utf8" })) as {
      id: number;
      type: string;
      prog_id: number;
      netns_ino?: number;
      attach_type?: string;
    }[];
    for (const [name, type] of [
      ["lookup_pass", "sk_lookup"],
      ["dissect_none", "flow_dissector"],
    ] as const) {
      const progId = obj.program(name).info().id;
      const l = listed.find((x) => x.prog_id === progId);
      assert.ok(l, `bpftool lists a link of ${name} (program ${progId})`);
      assert.equal(l.type, "netns", `${name}: a netns link`);
      assert.equal(l.netns_ino, ino, `${name}: on the child's namespace`);
      assert.equal(l.attach_type, type, `${name}: attach type`);
    }
    // a descriptor works as well as a path: a second object's sk_lookup joins the first; a second
    // flow dissector on one namespace is refused by the kernel (one at a time)
    const fd = openSync(ns, "r");
    try {
      using second = BpfObject.open(path).load();
      const more = second.attach({ netns: fd, programs: ["lookup_pass"] });
      assert.equal(more.get("lookup_pass")?.info().programId, second.program("lookup_pass").info().id);
      assert.throws(
        () => second.attach({ netns: fd, programs: ["dissect_none"] }),
        (e) => e instanceof BpfError && e.errnoName === "E2BIG",
      );
    } finally {
      closeSync(fd);
    }
    obj.close();
    const after = JSON.parse(execFileSync("bpftool", ["-j", "link", "show"], { encoding: "utf8" })) as {
      netns_ino?: number;
    }[];
    assert.equal(after.filter((x) => x.netns_ino === ino).length, 0, "the links closed with the object");
    using third = BpfObject.open(path).load();
    assert.throws(
      () => third.attach({ netns: "/nonexistent/ns", programs: ["lookup_pass"] }),
      /cannot use network namespace \/nonexistent\/ns: ENOENT/,
    );
  } finally {
    holder.kill();
  }
});
