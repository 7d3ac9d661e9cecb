/**
 * query.ts's results, where mutation testing found them hardly checked (npm run mutate --
 * src/sys/query.ts): BPF_PROG_QUERY's room grown on ENOSPC and the ids read back, checked
 * against the ids the kernel gave the test's own programs and against `bpftool cgroup show`;
 * BPF_TASK_FD_QUERY's name buffer grown for a uprobe whose path is longer than its first 256
 * bytes, checked against `bpftool perf list`; the errnos taken as "no program" and the ones
 * that are not; the attribute a bad value was given for. (ESRCH, EINVAL and EOPNOTSUPP, also
 * taken as "none", are not reached: this kernel answers a process that does not exist with ENOENT,
 * and EINVAL needs query flags taskFdQuery does not send.)
 *
 * Everything here is the test's own: a cgroup it makes (and removes) under
 * /sys/fs/cgroup/unified, programs attached only there, a uprobe on a file of its own that no
 * process maps, so it runs without the kernel lock (scripts/mutate.mjs, LOCK_FREE).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { BpfError } from "../../src/sys/error.js";
import { Fd } from "../../src/sys/fd.js";
import { linkCreate, perfEventOpenUprobe, progAttach } from "../../src/sys/link.js";
import { objGetInfoByFd } from "../../src/sys/obj.js";
import { progLoad } from "../../src/sys/prog.js";
import { progQuery, QUERY_EFFECTIVE, taskFdQuery } from "../../src/sys/query.js";
import { inputMessage } from "../support/errors.js";
import { needsRoot } from "../support/privilege.js";
import { needsSetpriv, srcModule, withCapabilities } from "../support/setpriv.js";

const CGROUP_SKB = 8;
const KPROBE = 2;
const CGROUP_INET_INGRESS = 0;
const PERF_EVENT = 41;
const ALLOW_MULTI = 2;
const NOT_OPEN = 0x7ffffff0;
const CGROUPS = "/sys/fs/cgroup/unified";
/** more than query.ts's first room (64) and than one cgroup holds (BPF_CGROUP_MAX_PROGS, 64) */
const PARENT_PROGS = 40;
const CHILD_PROGS = 30;

/** r0 = imm; exit */
function returning(imm: number): Buffer {
  const b = Buffer.alloc(16);
  b[0] = 0xb7;
  b.writeInt32LE(imm, 4);
  b[8] = 0x95;
  return b;
}

/** The kernel's id of a program (bpf_prog_info.id). */
function progId(fd: number): number {
  const info = Buffer.alloc(256);
  objGetInfoByFd(fd, info);
  return info.readUInt32LE(4);
}

function bpftoolJson(...args: string[]): unknown {
  return JSON.parse(execFileSync("bpftool", ["-j", ...args], { encoding: "utf8" }));
}

test("progQuery: more programs than its first room (an effective cgroup query of 70) grows the room; the ids are the kernel's, as bpftool sees them", (t) => {
  if (!needsRoot(t)) return;
  // the cgroups an earlier run left when it was killed (a mutant's endless loop) go first
  for (const name of readdirSync(CGROUPS)) {
    const pid = /^rawbpf-mutq-(\d+)$/.exec(name)?.[1];
    if (pid === undefined || existsSync(`/proc/${pid}`)) continue;
    try {
      rmdirSync(join(CGROUPS, name, "c"));
    } catch {}
    try {
      rmdirSync(join(CGROUPS, name));
    } catch {}
  }
  const parentPath = join(CGROUPS, `rawbpf-mutq-${process.pid}`);
  const childPath = join(parentPath, "c");
  mkdirSync(parentPath);
  mkdirSync(childPath);
  const progs: Fd[] = [];
  let parent: number | undefined;
  let child: number | undefined;
  try {
    parent = openSync(parentPath, "r");
    child = openSync(childPath, "r");
    const parentIds: number[] = [];
    const childIds: number[] = [];
    for (let i = 0; i < PARENT_PROGS + CHILD_PROGS; i++) {
      const p = new Fd(progLoad({ progType: CGROUP_SKB, insns: returning(1), license: "GPL" }).fd, "program");
      progs.push(p);
      const mine = i < PARENT_PROGS;
      progAttach({
        target: mine ? parent : child,
        progFd: p.value,
        attachType: CGROUP_INET_INGRESS,
        flags: ALLOW_MULTI,
      });
      (mine ? parentIds : childIds).push(progId(p.value));
    }
    const sorted = (a: readonly number[]) => [...a].sort((x, y) => x - y);

    // the child's own programs: fewer than the room, every field read back once per program
    const own = progQuery(child, CGROUP_INET_INGRESS);
    assert.deepEqual(sorted(own.progIds), sorted(childIds), "the child's own programs");
    assert.equal(own.progIds.length, CHILD_PROGS, "one id per program, no more");
    assert.equal(own.attachFlags, ALLOW_MULTI, "the cgroup's attach flags");
    assert.equal(own.progFlags.length, CHILD_PROGS, "one attach flag per program");
    assert.ok(
      own.progFlags.every((f) => f === ALLOW_MULTI),
      `each program's attach flags are the cgroup's: ${own.progFlags}`,
    );
    assert.equal(own.linkIds.length, CHILD_PROGS, "one link id per program");
    assert.ok(
      own.linkIds.every((l) => l === 0),
      `attached without links: ${own.linkIds}`,
    );
    assert.equal(own.linkFlags.length, CHILD_PROGS, "one link flag per program");
    const theirsOwn = bpftoolJson("cgroup", "show", childPath) as { id: number }[];
    assert.deepEqual(
      own.progIds,
      theirsOwn.map((p) => p.id),
      "bpftool cgroup show: the same ids in the same order",
    );

    // effective: the parent's programs too, 70 > the first room of 64
    const eff = progQuery(child, CGROUP_INET_INGRESS, QUERY_EFFECTIVE);
    assert.equal(eff.progIds.length, PARENT_PROGS + CHILD_PROGS, "every program that runs for the child");
    assert.deepEqual(sorted(eff.progIds), sorted([...parentIds, ...childIds]), "the ids the kernel gave");
    const theirsEff = bpftoolJson("cgroup", "show", childPath, "effective") as { id: number }[];
    assert.deepEqual(
      eff.progIds,
      theirsEff.map((p) => p.id),
      "bpftool cgroup show ... effective: the same ids in the same order",
    );
  } finally {
    for (const p of progs) p.close();
    if (child !== undefined) closeSync(child);
    if (parent !== undefined) closeSync(parent);
    // the attachments go with the cgroups (their programs are released once the cgroup is gone)
    rmdirSync(childPath);
    rmdirSync(parentPath);
  }
});

test("progQuery: the kernel's refusal is a BpfError; a bad value names its attribute", (t) => {
  if (!needsRoot(t)) return;
  const fd = openSync("/proc/self/stat", "r");
  try {
    assert.throws(
      () => progQuery(fd, CGROUP_INET_INGRESS),
      (e: Error) => e instanceof BpfError && e.command === "BPF_PROG_QUERY",
      "a file that is no cgroup",
    );
  } finally {
    closeSync(fd);
  }
  assert.match(
    inputMessage(() => progQuery(-1, 0)),
    /query target/,
  );
  assert.match(
    inputMessage(() => progQuery(0, 2 ** 32)),
    /attach type/,
  );
  assert.match(
    inputMessage(() => progQuery(0, 0, -1)),
    /query flags/,
  );
  assert.match(
    inputMessage(() => taskFdQuery(-1, 0)),
    /pid/,
  );
  assert.match(
    inputMessage(() => taskFdQuery(process.pid, -1)),
    /\bfd\b/,
  );
});

test("taskFdQuery: a uprobe's path longer than the first name buffer (256, and exactly 256) comes back whole, as bpftool perf list shows it", (t) => {
  if (!needsRoot(t)) return;
  const pmuType = Number(readFileSync("/sys/bus/event_source/devices/uprobe/type", "utf8"));
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-mutq-"));
  try {
    using prog = new Fd(progLoad({ progType: KPROBE, insns: returning(0), license: "GPL" }).fd, "program");
    const id = progId(prog.value);
    // a short path, one of exactly 256 bytes (the first buffer with no room for the NUL), a long one
    const deep = join(dir, "d".repeat(200), "e".repeat(200));
    mkdirSync(deep, { recursive: true });
    const paths = [join(dir, "short"), join(dir, "x".repeat(256 - dir.length - 1)), join(deep, "target")];
    assert.equal(paths[1]?.length, 256, "a path of 256 bytes");
    const OFFSET = 8;
    for (const path of paths) {
      writeFileSync(path, Buffer.alloc(64, 0x90));
      using perf = new Fd(
        perfEventOpenUprobe({ pmuType, path, offset: OFFSET, pid: -1 }, "a uprobe"),
        "perf event",
      );
      // a perf event that runs no program yet: ENOENT, "none"
      assert.equal(taskFdQuery(process.pid, perf.value), undefined, "no program on the event yet");
      using link = new Fd(
        linkCreate({ progFd: prog.value, target: perf.value, attachType: PERF_EVENT }),
        "perf_event link",
      );
      const q = taskFdQuery(process.pid, perf.value);
      assert.ok(q !== undefined, `the program on ${path.length} bytes of path`);
      assert.equal(q.name, path, `the whole path (${path.length} bytes)`);
      assert.equal(q.progId, id, "the program's id");
      assert.equal(q.probeOffset, BigInt(OFFSET), "the probed offset");
      const theirs = (
        bpftoolJson("perf", "list") as {
          pid: number;
          fd: number;
          prog_id: number;
          filename?: string;
          offset?: number;
        }[]
      ).find((e) => e.pid === process.pid && e.fd === perf.value);
      assert.ok(theirs !== undefined, "bpftool perf list shows the event");
      assert.equal(theirs.prog_id, q.progId, "bpftool: the program's id");
      assert.equal(theirs.filename, q.name, "bpftool: the path");
      assert.equal(theirs.offset, Number(q.probeOffset), "bpftool: the offset");
      void link;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("taskFdQuery: a descriptor that runs no program (a file, one not open) or a process that is gone is undefined", (t) => {
  if (!needsRoot(t)) return;
  const fd = openSync("/proc/self/stat", "r");
  try {
    assert.equal(taskFdQuery(process.pid, fd), undefined, "a file: ENOTSUPP");
  } finally {
    closeSync(fd);
  }
  assert.equal(taskFdQuery(process.pid, NOT_OPEN), undefined, "a descriptor not open: EBADF");
  // above pid_max (at most 2^22): no such process, which this kernel answers with ENOENT
  assert.equal(taskFdQuery(2 ** 22 + 1, 0), undefined, "a process that does not exist");
});

test("taskFdQuery: an errno that is not 'no program' (EPERM without CAP_SYS_ADMIN) is thrown", (t) => {
  if (!needsRoot(t) || !needsSetpriv(t)) return;
  const code = `
    import { taskFdQuery } from ${srcModule("sys/query.ts")};
    let out;
    try { out = { result: taskFdQuery(process.pid, 0) ?? "none" }; }
    catch (e) { out = { name: e.constructor.name, command: e.command, errno: e.errno }; }
    console.log(JSON.stringify(out));`;
  const r = withCapabilities(["bpf"], code);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { name: "BpfError", command: "BPF_TASK_FD_QUERY", errno: 1 });
});
