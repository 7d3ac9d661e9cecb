/**
 * Objects compiled by clang-19 from C written for this project, loaded by rawbpf and by libbpf (a
 * C harness compiled here with -lbpf): the same test-run return values, the same map contents
 * after the runs, and the same translated instructions (the kernel's xlated dump, map ids
 * numbered by first use).
 */
import assert from "node:assert/strict";
import test from "node:test";
import { BpfObject } from "../../src/object/index.js";
import { needsRoot } from "../support/privilege.js";
import { compileFixture } from "./compile.js";
import { sameAsLibbpf } from "./oracle.js";

test("globals.c: rawbpf and libbpf give the same return values, map contents and xlated instructions", (t) => {
  if (!needsRoot(t)) return;
  const path = compileFixture("globals");
  const programs = ["count_packets", "second", "pass"];
  const maps = ["counts", "pairs", "globals.bss", "globals.data", "globals.rodata"];
  using obj = BpfObject.open(path).load();
  sameAsLibbpf(obj, path, programs, maps);
  // .bss through shared memory, no system call: what the program wrote
  const hits = obj.variable("hits").get();
  const bss = obj.map("globals.bss").get(new Uint8Array(4)) as Uint8Array;
  assert.equal(
    hits,
    new DataView(bss.buffer, bss.byteOffset).getBigUint64(0, true),
    "hits read through the mapping",
  );
  assert.ok((hits as bigint) > 0n, "the programs wrote hits");
  obj.variable("hits").set(12345n);
  const again = obj.map("globals.bss").get(new Uint8Array(4)) as Uint8Array;
  assert.equal(
    new DataView(again.buffer, again.byteOffset).getBigUint64(0, true),
    12345n,
    "a write through the mapping is the map's value",
  );
});

test("constants: a read-only global set before load changes what the program returns", (t) => {
  if (!needsRoot(t)) return;
  const path = compileFixture("globals");
  const data = new Uint8Array(64);
  using a = BpfObject.open(path).load({ programs: ["count_packets"] });
  using b = BpfObject.open(path, { constants: { threshold: 1000 } }).load({ programs: ["count_packets"] });
  assert.notEqual(a.program("count_packets").testRun({ data }).retval, 0, "64 > 7: the subprograms run");
  assert.equal(b.program("count_packets").testRun({ data }).retval, 0, "64 <= 1000: returns 0");
  assert.throws(() => BpfObject.open(path, { constants: { threshold: 1n << 40n } }).load(), /does not fit/);
  assert.throws(() => BpfObject.open(path, { constants: { hits: 1 } }), /no read-only variable .* 'hits'/);
});
