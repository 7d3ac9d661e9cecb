/** Batch operations against the kernel, including the visible fallback where a map type has none. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { array, struct, u8, u32, u64 } from "../../src/codec/index.js";
import { BpfMap } from "../../src/map/map.js";
import { possibleCpus } from "../../src/map/percpu.js";
import { BpfError, InputError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";

const byKey = (a: [number, unknown], b: [number, unknown]) => a[0] - b[0];

test("getBatch reads every entry of a hash map in batches", (t) => {
  if (!needsRoot(t)) return;
  using m = BpfMap.create({ type: "hash", key: u32, value: u64, maxEntries: 5000 });
  for (let i = 0; i < 3000; i++) m.set(i, BigInt(i) * 3n);
  for (const chunk of [undefined, 1, 7, 4096]) {
    const r = m.getBatch(chunk === undefined ? {} : { chunk });
    assert.equal(r.fallback, false);
    assert.equal(r.entries.length, 3000, `chunk ${chunk}`);
    const sorted = r.entries.sort(byKey);
    sorted.forEach(([k, v], i) => {
      assert.equal(k, i);
      assert.equal(v, BigInt(i) * 3n);
    });
  }
  assert.throws(() => m.getBatch({ chunk: 0 }), InputError);
});

test("getBatch on arrays and per-CPU maps", (t) => {
  if (!needsRoot(t)) return;
  using a = BpfMap.create({ type: "array", key: u32, value: u32, maxEntries: 10 });
  a.set(3, 33);
  const r = a.getBatch({ chunk: 4 });
  assert.equal(r.fallback, false);
  assert.deepEqual(
    r.entries,
    Array.from({ length: 10 }, (_, i) => [i, i === 3 ? 33 : 0]),
  );
  const cpus = possibleCpus();
  using p = BpfMap.create({ type: "percpu_hash", key: u32, value: u32, maxEntries: 10 });
  p.set(1, 5).set(2, 6);
  const pr = p.getBatch();
  assert.deepEqual(pr.entries.sort(byKey), [
    [1, new Array(cpus).fill(5)],
    [2, new Array(cpus).fill(6)],
  ]);
});

test("setBatch, deleteBatch and lookupAndDeleteBatch on a hash map", (t) => {
  if (!needsRoot(t)) return;
  using m = BpfMap.create({ type: "hash", key: u32, value: u32, maxEntries: 100 });
  const entries = Array.from({ length: 50 }, (_, i) => [i, i + 1000] as [number, number]);
  assert.deepEqual(m.setBatch(entries), { count: 50, fallback: false });
  assert.equal(m.get(49), 1049);
  assert.throws(
    () => m.setBatch([[1, 1]], "BPF_NOEXIST"),
    (e: unknown) => e instanceof BpfError && e.errnoName === "EEXIST",
  );
  assert.deepEqual(m.deleteBatch([0, 1, 2]), { count: 3, fallback: false });
  assert.equal(m.has(1), false);
  // a missing key stops the kernel's delete batch (ENOENT): the count says how many went
  assert.deepEqual(m.deleteBatch([3, 0, 4]), { count: 1, fallback: false });
  assert.equal(m.has(3), false);
  assert.equal(m.has(4), true);
  const drained = m.lookupAndDeleteBatch({ chunk: 8 });
  assert.equal(drained.fallback, false);
  assert.deepEqual(drained.entries.sort(byKey), entries.slice(4));
  assert.deepEqual([...m.keys()], []);
  assert.deepEqual(m.setBatch([]), { count: 0, fallback: false });
  assert.throws(() => m.setBatch([[1]] as unknown as [number, number][]), /not a \[key, value\] pair/);
  assert.throws(() => m.deleteBatch([-1]), InputError);
});

test("fallback: lookupAndDeleteBatch on lpm_trie goes element by element and says so", (t) => {
  if (!needsRoot(t)) return;
  const key = struct({ prefixlen: u32, addr: array(u8, 4) });
  using lpm = BpfMap.create({
    type: "lpm_trie",
    key,
    value: u64,
    maxEntries: 8,
    flags: ["BPF_F_NO_PREALLOC"],
  });
  lpm.set({ prefixlen: 8, addr: [10, 0, 0, 0] }, 1n);
  lpm.set({ prefixlen: 24, addr: [10, 1, 2, 0] }, 2n);
  assert.equal(lpm.get({ prefixlen: 32, addr: [10, 1, 2, 3] }), 2n, "longest prefix match");
  assert.equal(lpm.get({ prefixlen: 32, addr: [10, 9, 9, 9] }), 1n);
  const r = lpm.lookupAndDeleteBatch();
  assert.equal(r.fallback, true);
  assert.ok(r.fallback && /BPF_MAP_LOOKUP_AND_DELETE_BATCH refused with ENOTSUPP/.test(r.reason));
  assert.equal(r.entries.length, 2);
  assert.deepEqual([...lpm.keys()], []);
});

test("fallback: getBatch on devmap_hash and prog_array says fallback: true", (t) => {
  if (!needsRoot(t)) return;
  using d = BpfMap.create({ type: "devmap_hash", key: u32, value: u32, maxEntries: 4 });
  d.set(7, 1); // ifindex 1: the loopback device
  const r = d.getBatch();
  assert.equal(r.fallback, true);
  assert.ok(r.fallback && /BPF_MAP_LOOKUP_BATCH refused/.test(r.reason));
  assert.deepEqual(r.entries, [[7, 1]]);
  using p = BpfMap.create({ type: "prog_array", key: u32, value: u32, maxEntries: 2 });
  const pr = p.getBatch();
  assert.equal(pr.fallback, true);
  assert.deepEqual(pr.entries, []);
  const ds = d.setBatch([[8, 1]]);
  assert.equal(ds.fallback, true);
  assert.equal(d.get(8), 1);
  const dd = d.deleteBatch([7, 8]);
  assert.equal(dd.fallback, true);
  assert.equal(dd.count, 2);
});

test("a refusal the fallback cannot help is still thrown (queue has no keys)", (t) => {
  if (!needsRoot(t)) return;
  using q = BpfMap.create({ type: "queue", value: u32, maxEntries: 2 });
  assert.throws(
    () => q.getBatch(),
    (e: unknown) => e instanceof BpfError && e.command === "BPF_MAP_GET_NEXT_KEY",
  );
});
