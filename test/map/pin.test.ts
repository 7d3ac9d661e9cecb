/** pin / open, fromId, fromFd and info against the kernel (bpffs mounted here if needed) and bpftool. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { test } from "node:test";
import { u32, u64 } from "../../src/codec/index.js";
import { BpfMap } from "../../src/map/map.js";
import { BpfError, InputError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";

function ensureBpffs(): string {
  const mounts = readFileSync("/proc/mounts", "utf8");
  if (!/ \/sys\/fs\/bpf bpf /.test(mounts)) execFileSync("mount", ["-t", "bpf", "bpf", "/sys/fs/bpf"]);
  return mkdtempSync("/sys/fs/bpf/rawbpf-map-");
}

test("pin, then open by path: the same map", (t) => {
  if (!needsRoot(t)) return;
  const dir = ensureBpffs();
  try {
    const path = `${dir}/counts`;
    using m = BpfMap.create({ type: "hash", key: u32, value: u64, maxEntries: 8, name: "pinned" });
    m.set(1, 11n);
    m.pin(path);
    assert.ok(existsSync(path));
    assert.throws(
      () => m.pin(path),
      (e: unknown) => e instanceof BpfError && e.errnoName === "EEXIST",
    );
    // bpftool sees the pinned map
    const shown = JSON.parse(
      execFileSync("bpftool", ["map", "show", "pinned", path, "-j"], { encoding: "utf8" }),
    );
    assert.equal(shown.id, m.info().id);
    assert.equal(shown.name, "pinned");
    using o = BpfMap.open(path, { key: u32, value: u64 });
    assert.equal(o.type, "hash");
    assert.equal(o.name, "pinned");
    assert.equal(o.maxEntries, 8);
    assert.equal(o.info().id, m.info().id);
    assert.equal(o.get(1), 11n);
    o.set(2, 22n);
    assert.equal(m.get(2), 22n);
    // read-only open: lookups work, updates are EPERM
    using ro = BpfMap.open(path, { key: u32, value: u64, flags: ["BPF_F_RDONLY"] });
    assert.equal(ro.get(2), 22n);
    assert.throws(
      () => ro.set(3, 1n),
      (e: unknown) => e instanceof BpfError && e.errnoName === "EPERM",
    );
    // without codecs: raw bytes
    using raw = BpfMap.open(path);
    assert.deepEqual(raw.get(Buffer.from([1, 0, 0, 0])), Buffer.from([11, 0, 0, 0, 0, 0, 0, 0]));
    // codecs of the wrong size
    assert.throws(() => BpfMap.open(path, { key: u64 }), /keySize 4 disagrees with the key codec u64/);
    assert.throws(
      () => BpfMap.open(`${dir}/nothing`),
      (e: unknown) => e instanceof BpfError && e.errnoName === "ENOENT",
    );
    assert.throws(() => BpfMap.open(""), InputError);
    assert.throws(() => m.pin("/tmp/not-bpffs"), BpfError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a pinned map outlives its descriptors", (t) => {
  if (!needsRoot(t)) return;
  const dir = ensureBpffs();
  try {
    const path = `${dir}/kept`;
    const m = BpfMap.create({ type: "array", key: u32, value: u32, maxEntries: 1 });
    m.set(0, 5);
    m.pin(path);
    m.close();
    using o = BpfMap.open(path, { key: u32, value: u32 });
    assert.equal(o.get(0), 5);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("fromId opens the map with that id; info matches bpftool", (t) => {
  if (!needsRoot(t)) return;
  using m = BpfMap.create({
    type: "lru_hash",
    key: u32,
    value: u32,
    maxEntries: 32,
    name: "by_id",
    flags: ["BPF_F_NO_COMMON_LRU"],
  });
  const info = m.info();
  assert.ok(info.id > 0);
  assert.equal(info.type, "lru_hash");
  assert.equal(info.name, "by_id");
  assert.deepEqual(info.flagNames, ["BPF_F_NO_COMMON_LRU"]);
  const shown = JSON.parse(
    execFileSync("bpftool", ["map", "show", "id", String(info.id), "-j"], { encoding: "utf8" }),
  );
  assert.equal(shown.type, "lru_hash");
  assert.equal(shown.flags, info.flags);
  assert.equal(shown.bytes_key, 4);
  assert.equal(shown.bytes_value, 4);
  assert.equal(shown.max_entries, 32);
  m.set(3, 4);
  using o = BpfMap.fromId(info.id, { key: u32, value: u32 });
  assert.equal(o.get(3), 4);
  assert.notEqual(o.fd, m.fd);
  assert.throws(() => BpfMap.fromId(-1), InputError);
  assert.throws(
    () => BpfMap.fromId(0x7fffffff),
    (e: unknown) => e instanceof BpfError && e.errnoName === "ENOENT",
  );
});
