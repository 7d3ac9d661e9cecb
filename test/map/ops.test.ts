/** Element operations of BpfMap against the real kernel, with bpftool as the independent reader. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { array, bytes, cstring, struct, u8, u32, u64, u64n } from "../../src/codec/index.js";
import { BpfMap } from "../../src/map/map.js";
import { possibleCpus } from "../../src/map/percpu.js";
import { BpfError, ClosedError, InputError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";

function isErrno(name: string, command?: string) {
  return (e: unknown) => e instanceof BpfError && e.errnoName === name && (!command || e.command === command);
}

/** bpftool's view of a map's entries: key and value bytes per element. */
function bpftoolDump(id: number): { key: Buffer; value: Buffer }[] {
  const out = JSON.parse(
    execFileSync("bpftool", ["map", "dump", "id", String(id), "-j"], { encoding: "utf8" }),
  );
  const bytesOf = (a: string[]) => Buffer.from(a.map((h) => Number.parseInt(h, 16)));
  return out.map((e: { key: string[]; value: string[] }) => ({
    key: bytesOf(e.key),
    value: bytesOf(e.value),
  }));
}

test("get, set, has, delete on a hash map, as bpftool sees them", (t) => {
  if (!needsRoot(t)) return;
  using counts = BpfMap.create({ type: "hash", key: u32, value: u64, maxEntries: 16, name: "counts" });
  assert.equal(counts.get(42), undefined);
  assert.equal(counts.has(42), false);
  counts.set(42, 1n);
  counts.set(7, 2 ** 40);
  assert.equal(counts.get(42), 1n);
  assert.equal(counts.get(7), 2n ** 40n);
  assert.equal(counts.has(42), true);
  const dump = bpftoolDump(counts.info().id);
  const seen = new Map(dump.map((e) => [e.key.readUInt32LE(0), e.value.readBigUInt64LE(0)]));
  assert.deepEqual(
    seen,
    new Map([
      [42, 1n],
      [7, 2n ** 40n],
    ]),
  );
  assert.equal(counts.delete(42), true);
  assert.equal(counts.delete(42), false);
  assert.equal(counts.get(42), undefined);
  // raw bytes are accepted for typed keys and values
  counts.set(Buffer.from([1, 0, 0, 0]), Buffer.from([9, 0, 0, 0, 0, 0, 0, 0]));
  assert.equal(counts.get(1), 9n);
});

test("update flags: NOEXIST on an existing key is EEXIST, EXIST on a missing key is ENOENT", (t) => {
  if (!needsRoot(t)) return;
  using m = BpfMap.create({ type: "hash", key: u32, value: u32, maxEntries: 4 });
  m.set(1, 10, "BPF_NOEXIST");
  assert.throws(() => m.set(1, 11, "BPF_NOEXIST"), isErrno("EEXIST", "BPF_MAP_UPDATE_ELEM"));
  assert.equal(m.get(1), 10);
  m.set(1, 12, "exist");
  assert.equal(m.get(1), 12);
  assert.throws(() => m.set(2, 1, "BPF_EXIST"), isErrno("ENOENT"));
  m.set(2, 1, ["BPF_ANY"]);
  // F_LOCK on a value without a bpf_spin_lock
  assert.throws(() => m.set(2, 1, "BPF_F_LOCK"), isErrno("EINVAL"));
  // full map
  m.set(3, 3).set(4, 4);
  assert.throws(() => m.set(5, 5), isErrno("E2BIG"));
  assert.throws(() => m.set(1, 1, "BPF_MAYBE" as "BPF_ANY"), InputError);
  assert.throws(() => m.set(1, 1, ["BPF_EXIST", "BPF_NOEXIST"]), /contradict/);
  // arrays cannot be NOEXIST: every index exists
  using a = BpfMap.create({ type: "array", key: u32, value: u32, maxEntries: 2 });
  assert.throws(() => a.set(0, 1, "BPF_NOEXIST"), isErrno("EEXIST"));
  assert.throws(() => a.delete(0), isErrno("EINVAL", "BPF_MAP_DELETE_ELEM"));
  assert.throws(() => a.set(2, 1), isErrno("E2BIG"));
});

test("freeze: later updates from user space fail with EPERM", (t) => {
  if (!needsRoot(t)) return;
  using m = BpfMap.create({ type: "array", key: u32, value: u32, maxEntries: 2 });
  m.set(0, 5);
  m.freeze();
  assert.throws(() => m.set(0, 6), isErrno("EPERM", "BPF_MAP_UPDATE_ELEM"));
  assert.equal(m.get(0), 5);
  // a frozen map is no longer writable through the system call, so a second freeze is refused too
  assert.throws(() => m.freeze(), isErrno("EPERM", "BPF_MAP_FREEZE"));
});

test("BPF_F_RDONLY_PROG leaves user space writable; BPF_F_RDONLY makes the descriptor read-only", (t) => {
  if (!needsRoot(t)) return;
  using p = BpfMap.create({
    type: "array",
    key: u32,
    value: u32,
    maxEntries: 1,
    flags: ["BPF_F_RDONLY_PROG"],
  });
  p.set(0, 3);
  assert.equal(p.get(0), 3);
  assert.deepEqual(p.info().flagNames, ["BPF_F_RDONLY_PROG"]);
  using r = BpfMap.create({ type: "array", key: u32, value: u32, maxEntries: 1, flags: ["BPF_F_RDONLY"] });
  assert.equal(r.get(0), 0);
  assert.throws(() => r.set(0, 1), isErrno("EPERM", "BPF_MAP_UPDATE_ELEM"));
  using w = BpfMap.create({ type: "array", key: u32, value: u32, maxEntries: 1, flags: ["BPF_F_WRONLY"] });
  w.set(0, 1);
  assert.throws(() => w.get(0), isErrno("EPERM", "BPF_MAP_LOOKUP_ELEM"));
});

test("getInto copies raw value bytes; wrong sizes are InputErrors", (t) => {
  if (!needsRoot(t)) return;
  using m = BpfMap.create({ type: "hash", key: u32, value: u64, maxEntries: 4 });
  m.set(3, 0x0102030405060708n);
  const out = Buffer.alloc(8);
  assert.equal(m.getInto(Buffer.from([3, 0, 0, 0]), out), true);
  assert.equal(out.readBigUInt64LE(0), 0x0102030405060708n);
  assert.equal(m.getInto(Buffer.from([4, 0, 0, 0]), out), false);
  assert.throws(() => m.getInto(Buffer.alloc(3), out), InputError);
  assert.throws(() => m.getInto(Buffer.alloc(4), Buffer.alloc(4)), InputError);
  assert.throws(() => m.get(Buffer.alloc(5)), /key must be 4 bytes/);
  assert.throws(() => m.set(1, Buffer.alloc(4)), /value must be 8 bytes/);
  assert.throws(() => m.get(-1), InputError);
  assert.throws(() => m.get(2 ** 32), InputError);
  assert.throws(() => m.set(1, -1n), InputError);
  assert.throws(() => m.set(1, 2n ** 64n), InputError);
  assert.throws(() => m.set(1, "1" as unknown as bigint), InputError);
});

test("raw maps take and give bytes", (t) => {
  if (!needsRoot(t)) return;
  using m = BpfMap.create({ type: "hash", keySize: 3, valueSize: 5, maxEntries: 4 });
  m.set(Buffer.from("abc"), new Uint8Array([1, 2, 3, 4, 5]));
  assert.deepEqual(m.get(Buffer.from("abc")), Buffer.from([1, 2, 3, 4, 5]));
  assert.deepEqual([...m.keys()], [Buffer.from("abc")]);
  assert.throws(() => m.get(Buffer.from("ab")), /exactly 3 bytes/);
  assert.throws(() => m.get("abc" as unknown as Buffer), InputError);
});

test("struct keys and values with strings, arrays and u64 as number", (t) => {
  if (!needsRoot(t)) return;
  const key = struct({ pid: u32, comm: cstring(16) });
  const value = struct({ calls: u64n, hist: array(u8, 3) });
  using m = BpfMap.create({ type: "hash", key, value, maxEntries: 8 });
  assert.equal(m.keySize, 20);
  assert.equal(m.valueSize, 16);
  m.set({ pid: 1, comm: "systemd" }, { calls: 2 ** 52, hist: [1, 2, 3] });
  assert.deepEqual(m.get({ pid: 1, comm: "systemd" }), { calls: 2 ** 52, hist: [1, 2, 3] });
  assert.equal(m.get({ pid: 1, comm: "systemd2" }), undefined);
  assert.deepEqual([...m.keys()], [{ pid: 1, comm: "systemd" }]);
});

test("lookupAndDelete, and queue/stack push, pop and peek", (t) => {
  if (!needsRoot(t)) return;
  using h = BpfMap.create({ type: "hash", key: u32, value: u32, maxEntries: 4 });
  h.set(1, 100);
  assert.equal(h.lookupAndDelete(1), 100);
  assert.equal(h.lookupAndDelete(1), undefined);
  assert.equal(h.has(1), false);

  using q = BpfMap.create({ type: "queue", value: u32, maxEntries: 2 });
  assert.equal(q.peek(), undefined);
  q.push(1).push(2);
  assert.throws(() => q.push(3), isErrno("E2BIG"));
  q.push(3, "BPF_EXIST"); // a full queue drops its oldest element
  assert.equal(q.peek(), 2);
  assert.equal(q.pop(), 2);
  assert.equal(q.pop(), 3);
  assert.equal(q.pop(), undefined);

  using s = BpfMap.create({ type: "stack", value: u64, maxEntries: 4 });
  s.push(1n).push(2n);
  assert.equal(s.pop(), 2n);
  assert.equal(s.pop(), 1n);
  assert.equal(s.pop(), undefined);
});

test("bloom_filter: mayContain is false for values never pushed", (t) => {
  if (!needsRoot(t)) return;
  using b = BpfMap.create({ type: "bloom_filter", value: u32, maxEntries: 64, mapExtra: 3 });
  for (let i = 0; i < 10; i++) b.push(i * 7);
  for (let i = 0; i < 10; i++) assert.equal(b.mayContain(i * 7), true);
  let absent = 0;
  for (let i = 1000; i < 1100; i++) if (!b.mayContain(i)) absent++;
  assert.ok(absent > 50, `a 64-entry bloom filter with 10 values rules out most others (${absent}/100)`);
});

test("iteration: keys, values, entries; safe while deleting", (t) => {
  if (!needsRoot(t)) return;
  using m = BpfMap.create({ type: "hash", key: u32, value: u32, maxEntries: 128 });
  for (let i = 0; i < 100; i++) m.set(i, i * 2);
  assert.deepEqual(
    [...m.keys()].sort((a, b) => a - b),
    Array.from({ length: 100 }, (_, i) => i),
  );
  assert.equal(
    [...m.values()].reduce((a, b) => a + b, 0),
    2 * 4950,
  );
  for (const [k, v] of m) assert.equal(v, k * 2);
  // deleting the key just yielded: every key is seen exactly once and the map ends empty
  const seen = new Set<number>();
  for (const k of m.keys()) {
    assert.ok(!seen.has(k), `key ${k} seen twice`);
    seen.add(k);
    assert.equal(m.delete(k), true);
  }
  assert.equal(seen.size, 100);
  assert.deepEqual([...m.keys()], []);
  // deleting other keys while iterating entries: deleted keys are skipped
  for (let i = 0; i < 10; i++) m.set(i, i);
  const got: number[] = [];
  for (const [k] of m.entries()) {
    got.push(k);
    for (let j = 0; j < 10; j++) if (j !== k && !got.includes(j)) m.delete(j);
  }
  assert.equal(got.length, 1);
  // array maps iterate every index
  using a = BpfMap.create({ type: "array", key: u32, value: u32, maxEntries: 3 });
  assert.deepEqual(
    [...a.entries()],
    [
      [0, 0],
      [1, 0],
      [2, 0],
    ],
  );
});

test("per-CPU maps: one value per possible CPU, padded to 8 bytes", (t) => {
  if (!needsRoot(t)) return;
  const cpus = possibleCpus();
  using m = BpfMap.create({ type: "percpu_hash", key: u32, value: u32, maxEntries: 4 });
  assert.equal(m.valueSize, 4);
  assert.equal(m.value.size, 8 * cpus);
  const per = Array.from({ length: cpus }, (_, i) => 100 + i);
  m.set(1, per);
  assert.deepEqual(m.get(1), per);
  m.set(2, 9);
  assert.deepEqual(m.get(2), new Array(cpus).fill(9));
  // raw bytes: every CPU's 8-byte slot
  const raw = Buffer.alloc(8 * cpus);
  assert.equal(m.getInto(Buffer.from([1, 0, 0, 0]), raw), true);
  for (let i = 0; i < cpus; i++) assert.equal(raw.readUInt32LE(8 * i), 100 + i);
  assert.throws(() => m.set(3, [1]), /one value for each of the/);
  // bpftool reads the same per-CPU values
  const dump = JSON.parse(
    execFileSync("bpftool", ["map", "dump", "id", String(m.info().id), "-j"], { encoding: "utf8" }),
  );
  const one = dump.find((e: { key: string[] }) => Number.parseInt(e.key[0]!, 16) === 1);
  assert.deepEqual(
    one.values.map((v: { value: string[] }) => Number.parseInt(v.value[0]!, 16)),
    per.map((x) => x & 0xff),
  );
  using a = BpfMap.create({ type: "percpu_array", key: u32, value: array(u32, 2), maxEntries: 2 });
  a.set(0, [1, 2]);
  assert.deepEqual(a.get(0), new Array(cpus).fill([1, 2]));
  const perArrays = Array.from({ length: cpus }, (_, i) => [i, i + 1]);
  a.set(1, perArrays);
  assert.deepEqual(a.get(1), perArrays);
});

test("map-in-map: set stores an inner map, get returns its id", (t) => {
  if (!needsRoot(t)) return;
  using inner = BpfMap.create({ type: "array", key: u32, value: u32, maxEntries: 1 });
  inner.set(0, 77);
  for (const type of ["array_of_maps", "hash_of_maps"] as const) {
    using outer = BpfMap.create({
      type,
      key: u32,
      maxEntries: 2,
      innerMap: { type: "array", key: u32, value: u32, maxEntries: 1 },
    });
    outer.set(1, inner);
    const id = outer.get(1);
    assert.equal(id, inner.info().id);
    using again = BpfMap.fromId(id!, { key: u32, value: u32 });
    assert.equal(again.get(0), 77);
    // an inner map of another shape is refused by the kernel
    using other = BpfMap.create({ type: "hash", key: u32, value: u32, maxEntries: 1 });
    assert.throws(() => outer.set(0, other), isErrno("EINVAL"));
    assert.throws(() => outer.set(0, "x" as unknown as number), InputError);
  }
  // a live map as the template
  using outer = BpfMap.create({ type: "hash_of_maps", key: u32, maxEntries: 2, innerMap: inner });
  outer.set(5, inner.fd);
  assert.deepEqual([...outer.entries()], [[5, inner.info().id]]);
});

test("a closed map is a ClosedError for every operation", (t) => {
  if (!needsRoot(t)) return;
  const m = BpfMap.create({ type: "hash", key: u32, value: u32, maxEntries: 1, name: "gone" });
  m.close();
  m.close();
  assert.equal(m.closed, true);
  const ops: (() => unknown)[] = [
    () => m.get(1),
    () => m.set(1, 1),
    () => m.has(1),
    () => m.delete(1),
    () => m.lookupAndDelete(1),
    () => m.getInto(Buffer.alloc(4), Buffer.alloc(4)),
    () => [...m.keys()],
    () => [...m.entries()],
    () => m.getBatch(),
    () => m.setBatch([[1, 1]]),
    () => m.deleteBatch([1]),
    () => m.freeze(),
    () => m.info(),
    () => m.pin("/sys/fs/bpf/x"),
    () => m.fd,
    () => m.pop(),
  ];
  for (const op of ops)
    assert.throws(op, (e: unknown) => e instanceof ClosedError && /map 'gone' is closed/.test(e.message));
});

test("bytes codec maps take exactly their size", (t) => {
  if (!needsRoot(t)) return;
  using m = BpfMap.create({ type: "array", key: u32, value: bytes(6), maxEntries: 1 });
  m.set(0, Buffer.from("abcdef"));
  assert.equal(m.get(0)!.toString(), "abcdef");
  assert.throws(() => m.set(0, Buffer.from("abc")), /exactly 6 bytes/);
});
