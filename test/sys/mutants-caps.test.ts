/**
 * caps.ts and the EPERM naming of bpf.ts, and the libc bindings test/sys did not reach, found by
 * mutation testing (npm run mutate -- src/sys/libc.ts src/sys/caps.ts): the effective set as the
 * kernel reports it (/proc/self/status, read here line by line) and as setpriv's bounding set makes
 * it in a child; which capability a refusal names there; the unprivileged-bpf sysctl as its file
 * says; send/recv on a socket pair; if_nametoindex against /sys/class/net.
 * The children only read their own capabilities and build error objects: nothing another test sees.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  Capability,
  effectiveCapabilities,
  hasCapability,
  missingCapability,
  unprivilegedBpfDisabled,
} from "../../src/sys/caps.js";
import { Fd } from "../../src/sys/fd.js";
import { interfaceIndex } from "../../src/sys/link.js";
import { recvFrom, sendTo, socketpair } from "../../src/sys/socket.js";
import { needsRoot } from "../support/privilege.js";
import { needsSetpriv, srcModule, withCapabilities } from "../support/setpriv.js";

/** CapEff of /proc/self/status, found line by line (not by caps.ts's pattern). */
function capEff(status: string): bigint {
  const line = status.split("\n").find((l) => l.startsWith("CapEff:"));
  assert.ok(line, "a CapEff line");
  return BigInt(`0x${line.slice("CapEff:".length).trim()}`);
}

// not behind needsRoot, which asks effectiveCapabilities itself
test("effectiveCapabilities is the kernel's CapEff of this process; root's is not empty", () => {
  const eff = effectiveCapabilities();
  assert.equal(eff, capEff(readFileSync("/proc/self/status", "latin1")));
  if (process.getuid?.() === 0) assert.ok(eff > 0n, "root has capabilities");
  assert.equal(hasCapability("CAP_BPF"), ((eff >> 39n) & 1n) === 1n);
  assert.equal(hasCapability("CAP_SYS_ADMIN"), ((eff >> 21n) & 1n) === 1n);
  assert.equal(missingCapability("admin"), hasCapability("CAP_SYS_ADMIN") ? undefined : "CAP_SYS_ADMIN");
});

test("in a child whose bounding set is CAP_BPF alone: that is its effective set, and refusals name what it lacks", (t) => {
  if (!needsRoot(t) || !needsSetpriv(t)) return;
  const code = `
import { readFileSync } from "node:fs";
import { bpfError } from ${srcModule("sys/bpf.ts")};
import { effectiveCapabilities, missingCapability } from ${srcModule("sys/caps.ts")};
import { enableStats, getNextId } from ${srcModule("sys/obj.ts")};
const EPERM = 1, EINVAL = 22, MAP_CREATE = 0;
const e = (errno, ctx) => bpfError(MAP_CREATE, errno, ctx).capability ?? null;
const refusal = (f) => { try { f(); return "accepted"; } catch (e) { return { errno: e.errno, capability: e.capability ?? null, hint: e.hint }; } };
console.log(JSON.stringify({
  stats: refusal(() => enableStats()),
  nextId: refusal(() => getNextId("map", 0)),
  eff: effectiveCapabilities().toString(16),
  status: readFileSync("/proc/self/status", "latin1"),
  missing: ["bpf", "net", "perfmon", "admin"].map((k) => missingCapability(k) ?? null),
  eperm: e(EPERM), einval: e(EINVAL), net: e(EPERM, { privilege: "net" }),
  given: e(EPERM, { privilege: "net", details: { capability: "CAP_SYS_ADMIN" } }),
}));`;
  const r = withCapabilities(["bpf"], code);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(BigInt(`0x${out.eff}`), 1n << BigInt(Capability.CAP_BPF), "CAP_BPF alone");
  assert.equal(BigInt(`0x${out.eff}`), capEff(out.status as string), "the kernel's CapEff");
  assert.deepEqual(out.missing, [null, "CAP_NET_ADMIN", "CAP_PERFMON", "CAP_SYS_ADMIN"]);
  assert.equal(out.eperm, null, "CAP_BPF is there: an EPERM of a plain command has another cause");
  assert.equal(out.einval, null, "an EINVAL names no capability");
  assert.equal(out.net, "CAP_NET_ADMIN");
  assert.equal(out.given, "CAP_SYS_ADMIN", "a capability the caller named is kept");
  // the kernel's refusals of what needs CAP_SYS_ADMIN itself
  const stats = out.stats as { errno: number; capability: string; hint: string };
  assert.equal(stats.errno, 1, "BPF_ENABLE_STATS: EPERM");
  assert.equal(stats.capability, "CAP_SYS_ADMIN");
  assert.match(
    stats.hint,
    /needs CAP_SYS_ADMIN, and CAP_BPF is not enough.*\(or set the sysctl kernel\.bpf_stats_enabled=1 instead\)/,
  );
  const nextId = out.nextId as { errno: number; capability: string; hint: string };
  assert.equal(nextId.errno, 1, "BPF_MAP_GET_NEXT_ID: EPERM");
  assert.equal(nextId.capability, "CAP_SYS_ADMIN");
  assert.match(
    nextId.hint,
    /needs CAP_SYS_ADMIN, and CAP_BPF is not enough.*\(or open the object from a pin path or a descriptor instead\)/,
  );
});

test("in a child with no capabilities: an EPERM names CAP_BPF, an EINVAL nothing", (t) => {
  if (!needsRoot(t) || !needsSetpriv(t)) return;
  const code = `
import { bpfError } from ${srcModule("sys/bpf.ts")};
import { effectiveCapabilities } from ${srcModule("sys/caps.ts")};
const e = (errno, ctx) => bpfError(0, errno, ctx).capability ?? null;
console.log(JSON.stringify({ eff: effectiveCapabilities().toString(), eperm: e(1), einval: e(22), admin: e(1, { privilege: "admin" }) }));`;
  const r = withCapabilities([], code);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    eff: "0",
    eperm: "CAP_BPF",
    einval: null,
    admin: "CAP_SYS_ADMIN",
  });
});

test("unprivilegedBpfDisabled is the number in /proc/sys/kernel/unprivileged_bpf_disabled", () => {
  let expected: number | undefined;
  try {
    expected = Number(readFileSync("/proc/sys/kernel/unprivileged_bpf_disabled", "utf8").trim());
  } catch {
    expected = undefined;
  }
  assert.equal(unprivilegedBpfDisabled(), expected);
});

test("send and recv on a socket pair carry the bytes; recv with nothing waiting is undefined", (t) => {
  if (!needsRoot(t)) return;
  const [a, b] = socketpair();
  using _a = new Fd(a, "socket");
  using _b = new Fd(b, "socket");
  assert.equal(recvFrom(b), undefined, "nothing sent yet");
  assert.equal(sendTo(a, new Uint8Array([1, 2, 3])), 3);
  assert.deepEqual([...(recvFrom(b) ?? [])], [1, 2, 3]);
});

test("interfaceIndex is the index /sys/class/net gives; 0 for a name no interface has", () => {
  assert.equal(interfaceIndex("lo"), Number(readFileSync("/sys/class/net/lo/ifindex", "utf8")));
  assert.equal(interfaceIndex("rawbpf-none0"), 0);
});
