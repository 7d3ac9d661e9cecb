/**
 * An iterator link's info(), typed by target, against `bpftool -j link show id N` (an independent
 * reader of the same BPF_OBJ_GET_INFO_BY_FD): the target name, and the task (tid or pid), cgroup
 * (id and order) or map the walk was given.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmdirSync, statSync } from "node:fs";
import { test } from "node:test";
import { u32, u64 } from "../../src/codec/index.js";
import { asm } from "../../src/index.js";
import { attachIter, iterTarget } from "../../src/iter/index.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { BpfError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";

type Bpftool = Record<string, unknown>;

function bpftoolLink(id: number): Bpftool {
  return JSON.parse(execFileSync("bpftool", ["-j", "link", "show", "id", String(id)], { encoding: "utf8" }));
}

function iterProgram(target: string): Program {
  return Program.load({ ...iterTarget(target), instructions: asm`r0 = 0; exit` });
}

/** bpftool's names of enum bpf_cgroup_iter_order, as rawbpf's attach options spell them. */
const ORDER: Record<string, string> = {
  order_unspec: "unspec",
  self_only: "self",
  descendants_pre: "descendants_pre",
  descendants_post: "descendants_post",
  ancestors_up: "ancestors_up",
};

test("iter/task links: info() has the target and the tid or pid bpftool shows", (t) => {
  if (!needsRoot(t)) return;
  using program = iterProgram("task");
  for (const [options, key] of [
    [{}, undefined],
    [{ task: { pid: process.pid } }, "pid"],
    [{ task: { tid: process.pid } }, "tid"],
  ] as const) {
    using iter = attachIter(program, options);
    const info = iter.info();
    const theirs = bpftoolLink(info.id);
    assert.equal(info.type, "iter");
    assert.equal(theirs.type, "iter", "bpftool sees an iter link");
    assert.equal(info.programId, theirs.prog_id);
    assert.equal(info.targetName, "task");
    assert.equal(info.targetName, theirs.target_name, "target_name");
    assert.equal(info.tid, theirs.tid, `tid (${key ?? "none"})`);
    assert.equal(info.pid, theirs.pid, `pid (${key ?? "none"})`);
    if (key) assert.equal(info[key], process.pid, `the ${key} given`);
    assert.deepEqual(iter.link.info(), info, "the Link's info() is the same");
  }
});

test("iter/cgroup links: info() has the cgroup id and the order bpftool shows", (t) => {
  if (!needsRoot(t)) return;
  const root = execFileSync("awk", ['$3 == "cgroup2" { print $2; exit }', "/proc/mounts"], {
    encoding: "utf8",
  }).trim();
  assert.ok(root, "a cgroup2 mount");
  const dir = `${root}/rawbpf-iter-info-${process.pid}`;
  mkdirSync(dir);
  try {
    using program = iterProgram("cgroup");
    for (const order of ["self", "descendants_post", "ancestors_up"] as const) {
      using iter = attachIter(program, { cgroup: { path: dir, order } });
      const info = iter.info();
      const theirs = bpftoolLink(info.id);
      assert.equal(info.targetName, "cgroup");
      assert.equal(theirs.target_name, "cgroup");
      assert.equal(info.cgroupId, BigInt(statSync(dir).ino), "the cgroup's id is its inode number");
      assert.equal(info.cgroupId, BigInt(theirs.cgroup_id as number), "cgroup_id");
      assert.equal(info.order, order, "the order given");
      assert.equal(info.order, ORDER[theirs.order as string], `bpftool's order ${String(theirs.order)}`);
    }
  } finally {
    rmdirSync(dir);
  }
});

test("iter/bpf_map_elem links: info() has the map id bpftool shows", (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "hash", key: u32, value: u64, maxEntries: 4, name: "iter_info" });
  let program: Program;
  try {
    program = iterProgram("bpf_map_elem");
  } catch (e) {
    if (e instanceof BpfError && e.errnoName === "EPERM") {
      t.skip("this kernel refuses bpf_map_elem iterator programs with EPERM (as bpftool's loads get)");
      return;
    }
    throw e;
  }
  using _program = program;
  using iter = attachIter(program, { map });
  const info = iter.info();
  const theirs = bpftoolLink(info.id);
  assert.equal(info.targetName, "bpf_map_elem");
  assert.equal(theirs.target_name, "bpf_map_elem");
  assert.equal(info.mapId, map.info().id, "the map given");
  assert.equal(info.mapId, theirs.map_id, "map_id");
});
