import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { BtfBuilder } from "../../src/btf/builder.js";
import { Btf } from "../../src/btf/decode.js";
import { BtfError } from "../../src/btf/errors.js";
import { loadBtf } from "../../src/btf/load.js";
import { type BtfValue, formatValue } from "../../src/btf/value.js";
import { closeRaw, MapElemOps, mapCreate, objGetInfoByFd } from "../../src/sys/index.js";
import { MAP_INFO } from "../../src/sys/layout.js";
import { needsRoot } from "../support/privilege.js";

function valueType() {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  const u8 = b.int("unsigned char", 1);
  const u64 = b.int("long long unsigned int", 8);
  const char = b.int("char", 1, { signed: true });
  const bool = b.int("_Bool", 1, { bool: true });
  const color = b.enum("color", { RED: 0, GREEN: 1, BLUE: 2 });
  const inner = b.struct("inner", [
    { name: "x", type: int },
    { name: "y", type: int },
  ]);
  const value = b.struct("value", [
    { name: "count", type: u64 },
    { name: "name", type: b.array(char, 8) },
    { name: "small", type: b.array(u8, 3) },
    { name: "on", type: bool },
    { name: "lo", type: int, bitfieldSize: 3 },
    { name: "hi", type: int, bitfieldSize: 5 },
    { name: "c", type: color },
    { name: "at", type: inner },
    { name: "neg", type: int },
  ]);
  return { b, int, value };
}

function sample(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  const v = new DataView(bytes.buffer);
  v.setBigUint64(0, 1n << 40n, true); // count
  bytes.set(Buffer.from("hello\0"), 8); // name
  bytes.set([1, 2, 3], 16); // small
  bytes[19] = 1; // on
  bytes[20] = (2 & 7) | ((-3 & 31) << 3); // lo = 2, hi = -3 (signed int bitfields)
  v.setUint32(24, 2, true); // c = BLUE
  v.setInt32(28, 7, true);
  v.setInt32(32, 8, true);
  v.setInt32(36, -42, true);
  return bytes;
}

test("formatValue turns bytes into a JS object by their BTF type", () => {
  const { b, value } = valueType();
  const btf = Btf.parse(b.build());
  assert.equal(btf.sizeOf(value), 40);
  const got = formatValue(btf, value, sample(40));
  assert.deepEqual(got, {
    count: 1n << 40n,
    name: "hello",
    small: [1, 2, 3],
    on: true,
    lo: 2,
    hi: -3,
    c: "BLUE",
    at: { x: 7, y: 8 },
    neg: -42,
  });
  assert.throws(() => formatValue(btf, value, new Uint8Array(10)), BtfError);
});

function plain(v: BtfValue): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? Number(x) : x)));
}

test("formatValue agrees with bpftool's BTF-aware map dump", (t) => {
  if (!needsRoot(t)) return;
  const { b, int, value } = valueType();
  const blob = b.build();
  const btf = Btf.parse(blob);
  using fd = loadBtf(blob).fd;
  const map = mapCreate({
    mapType: 2, // array
    keySize: 4,
    valueSize: 40,
    maxEntries: 1,
    btfFd: fd.value,
    btfKeyTypeId: int,
    btfValueTypeId: value,
    name: "btf_value_t",
  });
  try {
    const ops = new MapElemOps(map, 4, 40);
    ops.key.writeUInt32LE(0);
    ops.value.set(sample(40));
    ops.update();
    const info = Buffer.alloc(MAP_INFO.size);
    objGetInfoByFd(map, info);
    const id = info.readUInt32LE(MAP_INFO.offset.id);
    const dump = JSON.parse(
      execFileSync("bpftool", ["-j", "map", "dump", "id", String(id)], { encoding: "utf8" }),
    );
    const theirs = dump[0].formatted.value;
    const ours = plain(formatValue(btf, value, sample(40))) as Record<string, number>;
    // bpftool shows bitfields as unsigned hex; everything else as we do
    ours.lo = `0x${(ours.lo! & 7).toString(16)}` as unknown as number;
    ours.hi = `0x${(ours.hi! & 31).toString(16)}` as unknown as number;
    assert.deepEqual(ours, theirs);
  } finally {
    closeRaw(map);
  }
});
