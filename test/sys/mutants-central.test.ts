/**
 * The corners of src/sys's central files (bpf.ts, map.ts, mmap.ts, ringbuf.ts) that mutation
 * testing found no test for (npm run mutate -- src/sys/bpf.ts ...): which field a bad attribute
 * is named by, MapElemOps' lookup-and-delete and its flag bookkeeping (against the map's contents
 * as the kernel reports them), the attr writers' edges, the global-data mapping's length and its
 * retirement (against /proc/self/maps and the kernel's copy of the values), and the readiness
 * watch's stop, close and ref (a libuv poll handle used after its close is SIGSEGV).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { constants } from "node:os";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { cString, getName, putPtr, putS32, putU32, putU64 } from "../../src/sys/bpf.js";
import { errnoHint, errnoName } from "../../src/sys/errno.js";
import { BpfError, InputError } from "../../src/sys/error.js";
import { Fd } from "../../src/sys/fd.js";
import {
  MapElemOps,
  mapCreate,
  mapFreeze,
  mapLookupBatch,
  mapLookupElem,
  mapUpdateBatch,
} from "../../src/sys/map.js";
import { mapArrayValues, unmapArrayValues } from "../../src/sys/mmap.js";
import { mapRing, watchReadable } from "../../src/sys/ringbuf.js";
import { sendTo, socketpair } from "../../src/sys/socket.js";
import { inputMessage } from "../support/errors.js";
import { mappingsOf } from "../support/mappings.js";
import { needsRoot } from "../support/privilege.js";

const HASH = 1;
const ARRAY = 2;
const BPF_F_MMAPABLE = 1 << 10;
const BPF_EXIST = 2;

test("mapCreate names the attribute a bad value was given for", () => {
  const base = { mapType: HASH, keySize: 4, valueSize: 4, maxEntries: 1 };
  for (const [field, words] of [
    ["mapType", "map type"],
    ["keySize", "key size"],
    ["valueSize", "value size"],
    ["maxEntries", "max entries"],
    ["numaNode", "numa node"],
    ["innerMapFd", "inner map fd"],
    ["ifindex", "ifindex"],
    ["btfFd", "btf fd"],
    ["btfKeyTypeId", "btf key type id"],
    ["btfValueTypeId", "btf value type id"],
    ["btfVmlinuxValueTypeId", "btf vmlinux value type id"],
    ["mapExtra", "map extra"],
  ] as const) {
    const message = inputMessage(() => mapCreate({ ...base, [field]: -1 }));
    assert.ok(message.startsWith(`${words} must be`), `${field}: ${message}`);
  }
  assert.match(
    inputMessage(() => mapCreate({ ...base, name: "a-b" })),
    /^map name 'a-b' is not accepted/,
  );
});

test("mapCreate sends the ifindex: a hash map offloaded to lo (no offload there) is refused by the kernel", (t) => {
  if (!needsRoot(t)) return;
  assert.throws(
    () => mapCreate({ mapType: HASH, keySize: 4, valueSize: 4, maxEntries: 1, ifindex: 1 }),
    (e: Error) => e instanceof BpfError && e.command === "BPF_MAP_CREATE",
  );
});

test("the element and batch commands name the attribute a bad value was given for", () => {
  const key = Buffer.alloc(4);
  const value = Buffer.alloc(4);
  assert.match(
    inputMessage(() => mapFreeze(-1)),
    /^map fd must be/,
  );
  assert.match(
    inputMessage(() => mapLookupElem(-1, key, value)),
    /^map fd must be/,
  );
  assert.match(
    inputMessage(() => mapLookupElem(3, key, value, -1)),
    /^flags must be/,
  );
  const batch = { fd: 3, keys: key, values: value, count: 1 };
  assert.match(
    inputMessage(() => mapLookupBatch({ ...batch, fd: -1 })),
    /^map fd must be/,
  );
  assert.match(
    inputMessage(() => mapLookupBatch({ ...batch, count: -1 })),
    /^batch count must be/,
  );
  assert.match(
    inputMessage(() => mapUpdateBatch({ ...batch, elemFlags: -1 })),
    /^elem flags must be/,
  );
  assert.match(
    inputMessage(() => mapUpdateBatch({ ...batch, flags: -1 })),
    /^flags must be/,
  );
});

test("MapElemOps.lookupAndDelete takes the element out (the kernel no longer has it); a map type without the command throws", (t) => {
  if (!needsRoot(t)) return;
  using fd = new Fd(mapCreate({ mapType: HASH, keySize: 4, valueSize: 8, maxEntries: 4 }), "map");
  const ops = new MapElemOps(fd.value, 4, 8);
  ops.key.writeUInt32LE(5, 0);
  ops.value.writeBigUInt64LE(0xabcdefn, 0);
  ops.update(0);
  ops.value.fill(0);
  // the lookup's own attr now carries flags the kernel refuses (lookup-and-delete has its own)
  assert.throws(
    () => ops.lookup(BPF_EXIST),
    (e: Error) => e instanceof BpfError && e.errno === constants.errno.EINVAL,
  );
  assert.equal(ops.lookupAndDelete(), true);
  assert.equal(ops.value.readBigUInt64LE(0), 0xabcdefn, "the value as it was");
  const key = Buffer.alloc(4);
  key.writeUInt32LE(5, 0);
  assert.equal(mapLookupElem(fd.value, key, Buffer.alloc(8)), false, "the kernel has no element 5 any more");
  assert.equal(ops.lookupAndDelete(), false, "nothing left to take");
  using array = new Fd(mapCreate({ mapType: ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 }), "array");
  const arrayOps = new MapElemOps(array.value, 4, 8);
  assert.throws(
    () => arrayOps.lookupAndDelete(),
    (e: Error) => e instanceof BpfError && e.command === "BPF_MAP_LOOKUP_AND_DELETE_ELEM",
  );
});

test("MapElemOps keeps the lookup's flags and the update's apart: BPF_EXIST after a refused lookup with the same flags", (t) => {
  if (!needsRoot(t)) return;
  using fd = new Fd(mapCreate({ mapType: HASH, keySize: 4, valueSize: 8, maxEntries: 4 }), "map");
  const ops = new MapElemOps(fd.value, 4, 8);
  ops.key.writeUInt32LE(9, 0);
  // the kernel takes no BPF_EXIST on a lookup
  assert.throws(
    () => ops.lookup(BPF_EXIST),
    (e: Error) => e instanceof BpfError && e.errno === constants.errno.EINVAL,
  );
  // BPF_EXIST on a key the map does not have: ENOENT, and the map stays empty
  assert.throws(
    () => ops.update(BPF_EXIST),
    (e: Error) => e instanceof BpfError && e.errno === constants.errno.ENOENT,
  );
  assert.equal(mapLookupElem(fd.value, ops.key, Buffer.alloc(8)), false, "no element 9 in the kernel's map");
  ops.update(0);
  assert.equal(ops.lookup(0), true);
});

test("the attr writers: a value's default name, an empty view's pointer, a char[16] without its NUL, a NUL in a C string", () => {
  const buf = Buffer.alloc(16, 0xff);
  assert.match(
    inputMessage(() => putU32(buf, 0, -1)),
    /^value must be/,
  );
  assert.match(
    inputMessage(() => putS32(buf, 0, 2 ** 31)),
    /^value must be/,
  );
  assert.match(
    inputMessage(() => putU64(buf, 0, -1)),
    /^value must be/,
  );
  putPtr(buf, 0, undefined);
  assert.equal(buf.readBigUInt64LE(0), 0n, "no data: a null pointer");
  buf.fill(0xff);
  // an empty view at the end of a buffer has an address (koffi's), but no bytes to point at
  putPtr(buf, 0, new Uint8Array(new ArrayBuffer(8), 8, 0));
  assert.equal(buf.readBigUInt64LE(0), 0n, "an empty view: a null pointer");
  const data = new Uint8Array(4);
  putPtr(buf, 8, data);
  assert.notEqual(buf.readBigUInt64LE(8), 0n, "a view with bytes: its address");
  const name = Buffer.alloc(24, "a".charCodeAt(0));
  assert.equal(getName(name, 2), "a".repeat(16), "a char[16] with no NUL is 16 characters");
  name[5] = 0;
  assert.equal(getName(name, 2), "aaa");
  assert.throws(() => cString("a\0b"), InputError);
  assert.deepEqual([...cString("ab")], [0x61, 0x62, 0]);
});

test("mapRing of a map that is no ring buffer: the kernel's refusal names the consumer page of a ring buffer", (t) => {
  if (!needsRoot(t)) return;
  using fd = new Fd(mapCreate({ mapType: HASH, keySize: 4, valueSize: 4, maxEntries: 1 }), "map");
  assert.throws(
    () => mapRing(fd.value, 4096),
    (e: Error) =>
      e instanceof BpfError && e.command === "mmap" && /of a ring buffer \(consumer page\)/.test(e.message),
  );
});

test("mapArrayValues maps every page of the values (the kernel's writes show there); unmapArrayValues leaves zeros, the kernel's copy intact", (t) => {
  if (!needsRoot(t)) return;
  const entries = 1024; // 8 KiB of u64: two pages
  using fd = new Fd(
    mapCreate({ mapType: ARRAY, keySize: 4, valueSize: 8, maxEntries: entries, mapFlags: BPF_F_MMAPABLE }),
    "array",
  );
  const before = mappingsOf("bpf-map");
  const m = mapArrayValues(fd.value, entries * 8, true, "of a test");
  assert.equal(mappingsOf("bpf-map"), before + 1, "one mapping of the map");
  assert.equal(m.memory.byteLength, entries * 8);
  assert.equal(m.region.length, entries * 8);
  const view = new BigUint64Array(m.memory);
  const key = Buffer.alloc(4);
  key.writeUInt32LE(entries - 1, 0);
  const value = Buffer.alloc(8);
  value.writeBigUInt64LE(0x5566n, 0);
  const ops = new MapElemOps(fd.value, 4, 8);
  ops.key.set(key);
  ops.value.set(value);
  ops.update(0);
  assert.equal(view[entries - 1], 0x5566n, "the kernel's write, seen on the second page");
  unmapArrayValues(m);
  assert.equal(mappingsOf("bpf-map"), before, "the map's pages are no longer mapped");
  assert.equal(view[entries - 1], 0n, "a stale view reads zeros");
  const back = Buffer.alloc(8);
  assert.equal(mapLookupElem(fd.value, key, back), true);
  assert.equal(back.readBigUInt64LE(0), 0x5566n, "the kernel still has the value");
  unmapArrayValues(m); // a second time: nothing
  assert.equal(view[entries - 1], 0n);
  // a size under a page still maps a whole page
  const small = mapArrayValues(fd.value, 8, false, "of a test");
  assert.equal(small.memory.byteLength, 4096);
  unmapArrayValues(small);
});

/** Resolves after `n` turns of the event loop (a poll callback gets its chance in each). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 1));
}

test("watchReadable calls back while the descriptor is readable, not after stop(); a closed watch ignores start, stop and ref", async (t) => {
  if (!needsRoot(t)) return;
  const [a, b] = socketpair();
  using _a = new Fd(a, "socket");
  using _b = new Fd(b, "socket");
  let calls = 0;
  const watch = watchReadable(a, () => calls++);
  let stopped: number;
  try {
    sendTo(b, new Uint8Array([1])); // readable from now on: nothing reads it
    await turns(5);
    assert.equal(calls, 0, "created stopped");
    watch.start();
    for (let i = 0; i < 200 && calls === 0; i++) await turns(1);
    assert.ok(calls > 0, "called back once readable");
    watch.stop();
    stopped = calls;
    await turns(20);
    assert.equal(calls, stopped, "no call back after stop()");
  } finally {
    watch.close(); // a watch left started would keep this process alive
  }
  // on a closed libuv handle each of these would be a use after free (SIGSEGV)
  watch.start();
  watch.stop();
  watch.ref(false);
  watch.ref(true);
  watch.close();
  await turns(5);
  assert.equal(calls, stopped, "no call back after close()");
});

test("watchReadable's ref(false) lets the process exit while the watch waits (a child that would otherwise never end)", (t) => {
  if (!needsRoot(t)) return;
  const ringbuf = JSON.stringify(fileURLToPath(new URL("../../src/sys/ringbuf.ts", import.meta.url)));
  const socket = JSON.stringify(fileURLToPath(new URL("../../src/sys/socket.ts", import.meta.url)));
  const code = `
import { watchReadable } from ${ringbuf};
import { socketpair } from ${socket};
const [a] = socketpair();
const w = watchReadable(a, () => {});
w.start();
w.ref(false);
console.log("waiting");`;
  const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    encoding: "utf8",
    timeout: 20_000,
  });
  assert.equal(out.trim(), "waiting", "the child ended by itself");
});

test("every errno with a hint of its own gives words, not the general fallback nor an empty string", () => {
  const fallback = errnoHint(9999);
  // errno.test.ts checks that each differs from the fallback, which an empty hint does too
  for (const name of [
    ...["EPERM", "EACCES", "EINVAL", "E2BIG", "ENOSPC", "ENOENT", "EEXIST", "EBADF", "EFAULT", "EMFILE"],
    ...["ENOMEM", "EBUSY", "ENOTSUPP", "EOPNOTSUPP", "ENOTSOCK", "ENOPROTOOPT", "ENFILE"],
  ]) {
    const n = name === "ENOTSUPP" ? 524 : (constants.errno as Record<string, number>)[name]!;
    assert.equal(errnoName(n), name);
    const hint = errnoHint(n);
    assert.ok(hint.length > 10 && hint !== fallback, `${name}: ${JSON.stringify(hint)}`);
  }
  assert.ok(fallback.length > 10, "the fallback is words too");
});
