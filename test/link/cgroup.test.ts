/**
 * cgroup links against the real kernel: a cgroup_sock program on a fresh cgroup v2 directory
 * refuses IPv4 socket creation; a child process that moves itself into the cgroup sees EPERM.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, rmdirSync } from "node:fs";
import { test } from "node:test";
import { promisify } from "node:util";
import { asm } from "../../src/isa/template.js";
import { attachCgroup, NotACgroupError, WrongProgramTypeError } from "../../src/link/index.js";
import { Program } from "../../src/program/program.js";
import { closeRaw } from "../../src/sys/fd.js";
import { needsRoot } from "../support/privilege.js";

/** Where cgroup v2 is mounted here (/sys/fs/cgroup/unified on this VM, /sys/fs/cgroup on most systems). */
const CGROUP2 =
  readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" "))
    .find((f) => f[2] === "cgroup2")?.[1] ?? "/sys/fs/cgroup/unified";

/**
 * A child Node process that joins `cgroup` (or stays in ours), then opens a UDP socket; prints
 * "bound" or the error code.
 */
async function socketInCgroup(cgroup?: string): Promise<string> {
  const join =
    cgroup === undefined
      ? ""
      : `require("fs").writeFileSync(${JSON.stringify(`${cgroup}/cgroup.procs`)}, String(process.pid));`;
  const script = `
    ${join}
    const s = require("dgram").createSocket("udp4");
    s.on("error", (e) => { console.log(e.code); process.exit(0); });
    s.bind(0, "127.0.0.1", () => { console.log("bound"); s.close(); });
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ["-e", script], { timeout: 60_000 });
  return stdout.trim();
}

/** A cgroup_sock program for sock_create that refuses AF_INET sockets (bpf_sock.family at offset 4). */
function refuseInet(): Program {
  return Program.load({
    type: "cgroup_sock",
    expectedAttachType: "cgroup_inet_sock_create",
    instructions: asm`
      r2 = *(u32 *)(r1 + 4)
      r0 = 1
      if r2 != 2 goto out
      r0 = 0
    out:
      exit
    `,
  });
}

test("attachCgroup: a sock_create program refuses sockets to the processes of its cgroup only", async (t) => {
  if (!needsRoot(t)) return;
  if (!existsSync(`${CGROUP2}/cgroup.procs`)) {
    if (process.env.CI === "true") assert.fail(`cgroup v2 is not mounted at ${CGROUP2}`);
    t.skip(`no cgroup v2 at ${CGROUP2}`);
    return;
  }
  const dir = `${CGROUP2}/rawbpf-link-test-${process.pid}`;
  mkdirSync(dir);
  try {
    using program = refuseInet();
    assert.equal(await socketInCgroup(dir), "bound", "before attaching, the child makes its socket");
    const link = attachCgroup(program, dir, "cgroup_inet_sock_create");
    try {
      const info = link.info();
      assert.equal(info.type, "cgroup");
      assert.equal(info.programId, program.info().id);
      if (info.type === "cgroup") assert.equal(info.attachType, "cgroup_inet_sock_create");
      assert.equal(await socketInCgroup(dir), "EPERM", "in the cgroup, socket(AF_INET) is refused");
      assert.equal(await socketInCgroup(), "bound", "outside it, nothing changes");
      link.detach();
      assert.equal(await socketInCgroup(dir), "bound", "a detached link refuses nothing");
    } finally {
      link.close();
    }
    // by descriptor, which stays ours
    const fd = openSync(dir, "r");
    try {
      const link2 = attachCgroup(program, fd, "cgroup_inet_sock_create");
      try {
        assert.equal(await socketInCgroup(dir), "EPERM");
      } finally {
        link2.close();
      }
      assert.equal(await socketInCgroup(dir), "bound", "closing the link detaches it");
    } finally {
      closeRaw(fd);
    }
  } finally {
    rmdirSync(dir);
  }
});

test("attachCgroup: wrong attach types, program types and paths are refused before the kernel", (t) => {
  if (!needsRoot(t)) return;
  using program = refuseInet();
  assert.throws(
    () => attachCgroup(program, CGROUP2, "cgroup_inet_ingress"),
    (e: unknown) =>
      e instanceof WrongProgramTypeError &&
      /needs a 'cgroup_skb' program, got a 'cgroup_sock'/.test(e.message),
  );
  assert.throws(() => attachCgroup(program, CGROUP2, "xdp" as never), /not a cgroup attach type/);
  assert.throws(
    () => attachCgroup(program, `${CGROUP2}/no-such-cgroup`, "cgroup_inet_sock_create"),
    (e: unknown) => e instanceof NotACgroupError && /ENOENT/.test(e.message),
  );
  assert.throws(
    () => attachCgroup(program, "/tmp", "cgroup_inet_sock_create"),
    (e: unknown) => e instanceof NotACgroupError && /not in a cgroup v2 file system/.test(e.message),
  );
});
