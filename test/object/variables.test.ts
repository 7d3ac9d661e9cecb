/**
 * Typed writes of global variables through shared memory: what the fast paths write is what the
 * kernel's own lookup of the data map returns (BPF_MAP_LOOKUP_ELEM, a second reading), and values
 * out of range are refused before anything is written.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BpfObject, InputError } from "../../src/index.js";
import { needsRoot } from "../support/privilege.js";
import { compileFixture } from "./compile.js";

test("u64 and u32 globals written through shared memory read back through the map lookup syscall", (t) => {
  if (!needsRoot(t)) return;
  using obj = BpfObject.open(compileFixture("globals")).load();
  const hits = obj.variable("hits");
  const data = obj.spec.variables.find((v) => v.name === "hits")!;
  const lookup = () => Buffer.from(obj.map(data.map).get(new Uint8Array(4)) as Uint8Array);
  for (const v of [0n, 1n, 0xfedcba9876543210n, (1n << 64n) - 1n]) {
    hits.set(v);
    assert.equal(lookup().readBigUInt64LE(data.offset), v, `the kernel reads ${v}`);
    assert.equal(hits.get(), v, "and so does get()");
  }
  hits.set(5);
  assert.equal(lookup().readBigUInt64LE(data.offset), 5n, "a number is written as a u64");
  const before = lookup();
  for (const bad of [-1n, 1n << 64n, -1, 2 ** 64])
    assert.throws(() => hits.set(bad), InputError, `${bad} does not fit a u64`);
  assert.deepEqual(lookup(), before, "nothing was written by the refused values");

  const seenVar = obj.spec.variables.find((v) => v.name === "calls");
  if (seenVar) {
    const calls = obj.variable("calls");
    calls.set(0xffffffff);
    assert.equal(lookup().readUInt32LE(seenVar.offset), 0xffffffff, "a u32 at its offset");
    assert.throws(() => calls.set(2 ** 32), InputError, "2^32 does not fit a u32");
    assert.throws(() => calls.set(-1), InputError, "-1 does not fit a u32");
    assert.throws(() => calls.set(1.5), InputError, "1.5 is not an integer");
  }
});
