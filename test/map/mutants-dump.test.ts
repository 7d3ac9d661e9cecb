/**
 * dumpMap's inputs and a few create() options, found by mutation testing (npm run mutate --
 * src/map): dumpMap takes a BpfMap, an Fd, a descriptor number or `{ fd }` (and reads the same
 * entries, as bpftool does, through each), refuses what is none of them, and says that a map has
 * no BTF; a memory map keeps its name; an inner map given by descriptor; a local-storage map
 * needs 4-byte keys.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { BtfBuilder } from "../../src/btf/builder.js";
import { loadBtf } from "../../src/btf/load.js";
import { dumpMap } from "../../src/map/dump.js";
import { BpfMap } from "../../src/map/map.js";
import { BpfError, InputError } from "../../src/sys/error.js";
import { duplicateFd, Fd } from "../../src/sys/fd.js";
import { haveTools, skipUnlessCI } from "../support/ci.js";
import { needsRoot } from "../support/privilege.js";

function pairMap(): BpfMap {
  const b = new BtfBuilder();
  const u32 = b.int("unsigned int", 4);
  const pair = b.struct("pair", [
    { name: "a", type: u32 },
    { name: "b", type: u32 },
  ]);
  using btf = loadBtf(b.build()).fd;
  return BpfMap.create({
    type: "hash",
    keySize: 4,
    valueSize: 8,
    maxEntries: 4,
    btfFd: btf.value,
    btfKeyTypeId: u32,
    btfValueTypeId: pair,
  });
}

test("dumpMap reads the same entries through a BpfMap, an Fd, a number and { fd }, as bpftool does", (t) => {
  if (!needsRoot(t)) return;
  if (!haveTools("bpftool")) return skipUnlessCI(t, "bpftool is not installed");
  using map = pairMap();
  for (const [k, a, b] of [
    [5, 7, 9],
    [6, 1, 2],
  ]) {
    const v = Buffer.alloc(8);
    v.writeUInt32LE(a!, 0);
    v.writeUInt32LE(b!, 4);
    const key = Buffer.alloc(4);
    key.writeUInt32LE(k!);
    map.set(key, v);
  }
  const tool = (
    JSON.parse(
      execFileSync("bpftool", ["-j", "map", "dump", "id", String(map.info().id)], { encoding: "utf8" }),
    ) as { formatted: unknown }[]
  ).map((e) => e.formatted);
  const byKey = (x: unknown[]) => [...x].sort((p, q) => JSON.stringify(p).localeCompare(JSON.stringify(q)));
  assert.equal(tool.length, 2);
  using fd = new Fd(duplicateFd(map.fd, "a test's map"), "a second descriptor of the map");
  for (const [name, source] of [
    ["BpfMap", map],
    ["number", map.fd],
    ["Fd", fd],
    ["{ fd: number }", { fd: map.fd }],
    ["{ fd: Fd }", { fd }],
  ] as const)
    assert.deepEqual(byKey(dumpMap(source as never)), byKey(tool), name);
});

test("dumpMap refuses what is not a map, and a map without BTF says so", (t) => {
  if (!needsRoot(t)) return;
  for (const bad of [-1, 1.5, null, undefined, "3", { fd: -2 }, { fd: "x" }])
    assert.throws(
      () => dumpMap(bad as never),
      (e: Error) => e instanceof InputError && /dumpMap needs a map/.test(e.message),
      String(bad),
    );
  // descriptor 0 is a number dumpMap takes: the kernel says it is no map
  assert.throws(
    () => dumpMap(0),
    (e: Error) => e instanceof BpfError,
  );
  using plain = BpfMap.create({ type: "array", keySize: 4, valueSize: 4, maxEntries: 1, name: "plain" });
  assert.throws(
    () => dumpMap(plain),
    (e: Error) =>
      e instanceof InputError && /map 'plain' \(id \d+\) has no BTF for its values/.test(e.message),
  );
});

test("create(): a memory map keeps its name; an inner map given by descriptor; local storage needs 4-byte keys", (t) => {
  using named = BpfMap.create({
    type: "hash",
    keySize: 4,
    valueSize: 4,
    maxEntries: 2,
    name: "mem_x",
    backend: "memory",
  });
  assert.equal(named.name, "mem_x");
  using unnamed = BpfMap.create({ type: "hash", keySize: 4, valueSize: 4, maxEntries: 2, backend: "memory" });
  assert.equal(unnamed.name, "");
  if (!needsRoot(t)) return;
  using inner = BpfMap.create({ type: "array", keySize: 4, valueSize: 8, maxEntries: 3 });
  using outer = BpfMap.create({
    type: "array_of_maps",
    keySize: 4,
    valueSize: 4,
    maxEntries: 2,
    innerMap: { fd: inner.fd },
  });
  assert.equal(outer.info().type, "array_of_maps");
  // the kernel compares an inner map with the template: one like it goes in, one unlike is refused
  const key = Buffer.alloc(4);
  const value = Buffer.alloc(4);
  value.writeUInt32LE(inner.fd);
  outer.set(key, value);
  using other = BpfMap.create({ type: "array", keySize: 4, valueSize: 16, maxEntries: 3 });
  value.writeUInt32LE(other.fd);
  assert.throws(() => outer.set(key, value), BpfError);
  assert.throws(
    () =>
      BpfMap.create({
        type: "task_storage",
        keySize: 8,
        valueSize: 4,
        maxEntries: 0,
        flags: ["BPF_F_NO_PREALLOC"],
      }),
    (e: Error) => e instanceof InputError && /keySize must be 4, got 8/.test(e.message),
  );
  using storage = BpfMap.create({
    type: "task_storage",
    keySize: 4,
    valueSize: 4,
    maxEntries: 0,
    flags: ["BPF_F_NO_PREALLOC"],
  });
  assert.ok(storage.info().btfId > 0, "made with BTF of its own");
});
