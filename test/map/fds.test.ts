/** Descriptor hygiene: create/close cycles leave the count where it was; the GC closes dropped maps. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { u32, u64 } from "../../src/codec/index.js";
import { BpfMap } from "../../src/map/map.js";
import { settledFdCount } from "../support/fds.js";
import { needsRoot } from "../support/privilege.js";

const BPF = "anon_inode:bpf"; // maps and their inner templates, and nothing Node opens

test("10,000 create/close cycles leave the descriptor count where it started", (t) => {
  if (!needsRoot(t)) return;
  const start = settledFdCount(BPF);
  for (let i = 0; i < 10_000; i++) {
    const m = BpfMap.create({ type: "hash", key: u32, value: u64, maxEntries: 4 });
    m.set(i, 1n);
    m.close();
  }
  assert.equal(settledFdCount(BPF), start);
  // with `using`, inner map templates and failed creates
  for (let i = 0; i < 1000; i++) {
    using outer = BpfMap.create({
      type: "array_of_maps",
      key: u32,
      maxEntries: 1,
      innerMap: { type: "array", key: u32, value: u32, maxEntries: 1 },
    });
    void outer;
    assert.throws(() => BpfMap.create({ type: "array", key: u32, value: u32, maxEntries: 0 }));
    using storage = BpfMap.create({
      type: "task_storage",
      key: u32,
      value: u32,
      flags: ["BPF_F_NO_PREALLOC"],
    });
    void storage;
  }
  assert.equal(settledFdCount(BPF), start);
});

test("maps only the garbage collector sees get their descriptors closed", (t) => {
  if (!needsRoot(t)) return;
  const child = fileURLToPath(new URL("./fixtures/gc-child.ts", import.meta.url));
  const out = execFileSync(process.execPath, ["--expose-gc", "--import", "tsx", child], { encoding: "utf8" });
  const { before, leaked, after } = JSON.parse(out) as { before: number; leaked: number; after: number };
  assert.equal(leaked, before + 200, "200 maps hold 200 descriptors");
  assert.equal(after, before, "after GC every dropped map's descriptor is closed");
});
