import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BpfError,
  ClosedError,
  errnoName,
  Fd,
  InputError,
  MAP_CREATE,
  mapCreate,
  missingCapability,
  putName,
  putU32,
  putU64,
  scratchAttr,
} from "../../src/sys/index.js";
import { openFdCount } from "../support/fds.js";
import { needsRoot } from "../support/privilege.js";

// BPF map descriptors only: tsx opens its cache files from the threadpool while a test runs
test("Fd: close is idempotent, use after close is a ClosedError, using disposes", (t) => {
  if (!needsRoot(t)) return;
  const before = openFdCount("anon_inode:bpf-map");
  const fd = new Fd(mapCreate({ mapType: 2, keySize: 4, valueSize: 4, maxEntries: 1 }), "map 'x'");
  assert.equal(openFdCount("anon_inode:bpf-map"), before + 1);
  fd.close();
  fd.close();
  assert.equal(openFdCount("anon_inode:bpf-map"), before);
  assert.throws(() => fd.value, ClosedError);
  assert.throws(() => fd.value, /map 'x' is closed/);
  {
    using f2 = new Fd(mapCreate({ mapType: 2, keySize: 4, valueSize: 4, maxEntries: 1 }), "map");
    assert.equal(openFdCount("anon_inode:bpf-map"), before + 1);
    assert.ok(f2.value >= 0);
  }
  assert.equal(openFdCount("anon_inode:bpf-map"), before);
});

test("the kernel's refusals become BpfErrors with the command and errno name", (t) => {
  if (!needsRoot(t)) return;
  try {
    mapCreate({ mapType: 2, keySize: 4, valueSize: 4, maxEntries: 0 });
    assert.fail("an array of 0 entries must be refused");
  } catch (e) {
    assert.ok(e instanceof BpfError);
    assert.equal(e.command, "BPF_MAP_CREATE");
    assert.equal(e.errnoName, "EINVAL");
    assert.equal(e.errno, 22);
    assert.match(e.message, /BPF_MAP_CREATE failed: EINVAL/);
  }
});

test("bad numbers and names are InputErrors before the kernel is asked", () => {
  const attr = scratchAttr();
  assert.throws(() => putU32(attr, 0, -1, "key size"), InputError);
  assert.throws(() => putU32(attr, 0, 2 ** 32, "key size"), /key size must be an integer/);
  assert.throws(() => putU32(attr, 0, 1.5), InputError);
  assert.throws(() => putU64(attr, 0, -1n), InputError);
  assert.throws(
    () => putName(attr, MAP_CREATE.offset.map_name, "a-name-that-is-far-too-long", "map"),
    InputError,
  );
  assert.throws(() => putName(attr, MAP_CREATE.offset.map_name, "bad name", "map"), /at most 15 characters/);
  assert.throws(() => mapCreate({ mapType: 2, keySize: -4, valueSize: 4, maxEntries: 1 }), InputError);
  assert.equal(errnoName(1), "EPERM");
  assert.equal(errnoName(9999), "E9999");
});

test("missingCapability reads the effective set the way the kernel checks it", () => {
  const bit = (n: number) => 1n << BigInt(n);
  assert.equal(missingCapability("bpf", 0n), "CAP_BPF");
  assert.equal(missingCapability("bpf", bit(39)), undefined);
  assert.equal(missingCapability("net", bit(39)), "CAP_NET_ADMIN");
  assert.equal(missingCapability("net", bit(39) | bit(12)), undefined);
  assert.equal(missingCapability("perfmon", bit(39)), "CAP_PERFMON");
  assert.equal(missingCapability("perfmon", bit(21)), undefined, "CAP_SYS_ADMIN stands in");
});

// EPERM naming the capability, in children with reduced capabilities: caps.test.ts
