/**
 * Fd, the owner of one descriptor, found by mutation testing (npm run mutate -- src/sys/fd.ts):
 * what it takes, release() (ownership handed back, the descriptor left open, as /proc/self/fd
 * shows), and the count of descriptors rawbpf objects hold.
 */
import assert from "node:assert/strict";
import { readlinkSync } from "node:fs";
import { test } from "node:test";
import { ClosedError } from "../../src/sys/error.js";
import { closeRaw, Fd, openDescriptorCount } from "../../src/sys/fd.js";
import { mapCreate } from "../../src/sys/map.js";
import { needsRoot } from "../support/privilege.js";

const isOpen = (fd: number): boolean => {
  try {
    readlinkSync(`/proc/self/fd/${fd}`);
    return true;
  } catch {
    return false;
  }
};

test("Fd refuses what is not a descriptor number", () => {
  for (const bad of [-1, 1.5, Number.NaN, -0.5])
    assert.throws(() => new Fd(bad, "x"), RangeError, String(bad));
});

test("release() hands the number back open; the Fd is then closed, and counted no more", (t) => {
  if (!needsRoot(t)) return;
  const before = openDescriptorCount();
  const fd = new Fd(mapCreate({ mapType: 2, keySize: 4, valueSize: 4, maxEntries: 1 }), "map 'r'");
  assert.equal(openDescriptorCount(), before + 1);
  assert.equal(fd.closed, false);
  const n = fd.value;
  assert.equal(fd.release(), n);
  assert.equal(fd.closed, true);
  assert.equal(openDescriptorCount(), before, "no longer rawbpf's");
  assert.ok(isOpen(n), "released, not closed");
  assert.equal(readlinkSync(`/proc/self/fd/${n}`), "anon_inode:bpf-map");
  assert.throws(() => fd.value, ClosedError);
  assert.throws(() => fd.release(), ClosedError);
  fd.close(); // nothing: it owns nothing
  assert.ok(isOpen(n), "close() after release() leaves the number alone");
  assert.equal(openDescriptorCount(), before);
  closeRaw(n);
  assert.ok(!isOpen(n), "closeRaw closed it");
  closeRaw(-1); // nothing to close
  const other = new Fd(mapCreate({ mapType: 2, keySize: 4, valueSize: 4, maxEntries: 1 }), "map");
  assert.equal(openDescriptorCount(), before + 1);
  other[Symbol.dispose]();
  assert.equal(openDescriptorCount(), before);
  assert.equal(other.closed, true);
});
