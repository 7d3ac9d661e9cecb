/**
 * The map-in-map value codec and the per-CPU helpers, found by mutation testing (npm run mutate --
 * src/map): what mapRef writes (read back with Buffer's reader) and refuses; the CPU list syntax of
 * /sys/devices/system/cpu/* (Documentation/admin-guide/cputopology.rst: comma-separated numbers
 * and ranges); a per-CPU value written for every CPU fills exactly its slots.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { test } from "node:test";
import { u32 } from "../../src/codec/index.js";
import { mapRef } from "../../src/map/mapref.js";
import { parseCpuList, perCpu, possibleCpus } from "../../src/map/percpu.js";
import { InputError } from "../../src/sys/error.js";

test("mapRef writes a descriptor number, or a map's fd, as a u32; anything else is an InputError", () => {
  const buf = Buffer.alloc(8, 0xaa);
  for (const [value, fd] of [
    [0, 0],
    [7, 7],
    [{ fd: 9 }, 9],
    [{ fd: 0x7fffffff }, 0x7fffffff],
  ] as const) {
    mapRef.write(buf, 4, value);
    assert.equal(buf.readUInt32LE(4), fd, JSON.stringify(value));
    assert.equal(mapRef.read(buf, 4), fd);
  }
  for (const bad of [-1, 0x80000000, 1.5, null, undefined, "3", { fd: -1 }, { fd: 0x80000000 }, {}])
    assert.throws(() => mapRef.write(buf, 0, bad as never), InputError, String(bad));
});

test("parseCpuList counts the CPUs of a list (numbers and ranges, commas, a final newline) and refuses the rest", () => {
  for (const [text, n] of [
    ["0", 1],
    ["0-1\n", 2],
    ["0-3,5,7-8", 7],
    ["10-11", 2],
    ["12,14-15", 3],
    [",0,", 1],
    ["0-127", 128],
  ] as const)
    assert.equal(parseCpuList(text), n, JSON.stringify(text));
  for (const text of ["", "\n", ",", "x", "3-1", "1-3x", "a0-1", "0-", "-1", "1--2"])
    assert.throws(() => parseCpuList(text), InputError, JSON.stringify(text));
  // this machine's: at least the CPUs Node sees
  const possible = possibleCpus();
  assert.equal(possible, parseCpuList(readFileSync("/sys/devices/system/cpu/possible", "latin1")));
  assert.ok(possible >= availableParallelism(), `${possible} possible CPUs`);
});

test("a per-CPU value written once for all CPUs fills each slot and nothing past them", () => {
  const codec = perCpu(u32, 3);
  assert.equal(codec.size, 24);
  const buf = Buffer.alloc(32, 0xee);
  codec.write(buf, 0, 0x01020304);
  for (let i = 0; i < 3; i++) {
    assert.equal(buf.readUInt32LE(8 * i), 0x01020304, `CPU ${i}`);
    assert.equal(buf.readUInt32LE(8 * i + 4), 0, `CPU ${i}'s padding`);
  }
  assert.equal(buf.readUInt32LE(24), 0xeeeeeeee, "past the last slot: untouched");
  assert.deepEqual(codec.read(buf, 0), [0x01020304, 0x01020304, 0x01020304]);
  codec.write(buf, 0, [1, 2, 3]);
  assert.deepEqual(codec.read(buf, 0), [1, 2, 3]);
  assert.equal(buf.readUInt32LE(24), 0xeeeeeeee);
  assert.throws(() => codec.write(buf, 0, [1, 2]), InputError);
});
