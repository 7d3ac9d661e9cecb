/** Batch operations against the kernel, including the visible fallback where a map type has none. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
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

test("fallback: deleteBatch counts only the keys that were there", (t) => {
  if (!needsRoot(t)) return;
  using d = BpfMap.create({ type: "devmap_hash", key: u32, value: u32, maxEntries: 8 });
  for (const k of [1, 2, 3, 5]) d.set(k, 1); // ifindex 1: the loopback device
  // 4, 6 and 7 were never there; 2 is named twice (the second time it is gone)
  const r = d.deleteBatch([1, 4, 2, 6, 2, 7, 5]);
  assert.equal(r.fallback, true, "devmap_hash has no delete batch here");
  // bpftool's dump is the independent reading of what is left
  const left = (
    JSON.parse(
      execFileSync("bpftool", ["map", "dump", "id", String(d.info().id), "-j"], { encoding: "utf8" }),
    ) as { key: string[] }[]
  ).map((e) => Buffer.from(e.key.map((h) => Number.parseInt(h, 16))).readUInt32LE(0));
  assert.deepEqual(left, [3], "only key 3 is left");
  assert.equal(r.count, 4 - left.length, `count ${r.count}: keys deleted, not keys named (7)`);
  assert.deepEqual(d.deleteBatch([1, 2, 4]), {
    count: 0,
    fallback: true,
    reason: r.fallback ? r.reason : "",
  });
});

test("batch chunks: integers from 1 to 2^20, capped at the map's size, each named when refused", (t) => {
  if (!needsRoot(t)) return;
  using m = BpfMap.create({ type: "hash", key: u32, value: u32, maxEntries: 4 });
  m.set(1, 10).set(2, 20).set(3, 30);
  for (const chunk of [0, -1, 1.5, 2 ** 20 + 1, Number.NaN])
    assert.throws(
      () => m.getBatch({ chunk }),
      (e: unknown) => e instanceof InputError && e.message.includes(`got ${chunk}`),
      `chunk ${chunk} is refused`,
    );
  // the largest chunk is accepted, and capped at max_entries (the kernel refuses nothing)
  for (const chunk of [1, 2 ** 20]) {
    const r = m.getBatch({ chunk });
    assert.deepEqual(
      r.entries.sort(byKey),
      [
        [1, 10],
        [2, 20],
        [3, 30],
      ],
      `chunk ${chunk}`,
    );
  }
  const raw = m.getBatchRaw({ chunk: 1 });
  assert.equal(raw.count, 3, "three chunks of one are joined");
  assert.equal(raw.keys.byteLength, 12);
  assert.equal(raw.values.byteLength, 12);
});

test("fallback reasons name the command and the errno; EINVAL names the flags too", (t) => {
  if (!needsRoot(t)) return;
  using d = BpfMap.create({ type: "devmap_hash", key: u32, value: u32, maxEntries: 4 });
  const r = d.setBatch([[1, 1]]);
  assert.ok(r.fallback, "devmap_hash has no update batch here");
  assert.match(
    r.reason,
    /^BPF_MAP_UPDATE_BATCH refused with (\S+) for this map type.*; done element by element instead$/,
  );
  const errno = /refused with (\S+)/.exec(r.reason)![1];
  if (errno === "EINVAL") assert.match(r.reason, /for this map type or these flags/);
  else assert.doesNotMatch(r.reason, /these flags/);
  assert.equal(d.get(1), 1, "the fallback stored it");
});

test("a refusal the fallback cannot help is still thrown (queue has no keys)", (t) => {
  if (!needsRoot(t)) return;
  using q = BpfMap.create({ type: "queue", value: u32, maxEntries: 2 });
  assert.throws(
    () => q.getBatch(),
    (e: unknown) => e instanceof BpfError && e.command === "BPF_MAP_GET_NEXT_KEY",
  );
});

test("getBatchRaw gives the same bytes as bpftool, and a visible fallback", (t) => {
  if (!needsRoot(t)) return;
  using m = BpfMap.create({ type: "hash", key: u32, value: u64, maxEntries: 2000 });
  for (let i = 0; i < 1500; i++) m.set(i, BigInt(i) << 33n);
  const r = m.getBatchRaw({ chunk: 100 });
  assert.equal(r.fallback, false);
  assert.equal(r.count, 1500);
  assert.equal(r.keys.byteLength, 1500 * 4);
  assert.equal(r.values.byteLength, 1500 * 8);
  const ours = new Map<number, bigint>();
  for (let i = 0; i < r.count; i++) ours.set(r.keys.readUInt32LE(i * 4), r.values.readBigUInt64LE(i * 8));
  const dump = JSON.parse(
    execFileSync("bpftool", ["map", "dump", "id", String(m.info().id), "-j"], { encoding: "utf8" }),
  );
  const theirs = new Map<number, bigint>();
  for (const e of dump as { key: string[]; value: string[] }[]) {
    const k = Buffer.from(e.key.map((h) => Number.parseInt(h, 16)));
    const v = Buffer.from(e.value.map((h) => Number.parseInt(h, 16)));
    theirs.set(k.readUInt32LE(0), v.readBigUInt64LE(0));
  }
  assert.deepEqual(ours, theirs);
  using d = BpfMap.create({ type: "devmap", key: u32, value: u32, maxEntries: 2 });
  d.set(1, 1); // slot 1 -> ifindex 1 (loopback); slot 0 stays empty
  const dr = d.getBatchRaw();
  assert.equal(dr.fallback, true);
  assert.equal(dr.count, 1);
  assert.deepEqual(dr.keys, Buffer.from([1, 0, 0, 0]));
  assert.deepEqual(dr.values, Buffer.from([1, 0, 0, 0]));
});
