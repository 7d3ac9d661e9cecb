/**
 * The size a source says, checked before anything is mapped, found by mutation testing (npm run
 * mutate -- src/ringbuf): a ringbuf's size is a power of 2 from 8 (the check's floor; the kernel
 * asks for whole pages and the reader maps the size the kernel reports) to 2^31. A size the spec
 * gets wrong but that could be a ring's passes, and the kernel's word is what is mapped.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BpfMap } from "../../src/map/map.js";
import { RingBuffer } from "../../src/ringbuf/index.js";
import { InputError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";

test("maxEntries of a source: refused unless a power of 2 from 8 to 2^31; then the kernel's size", (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 4096 });
  for (const maxEntries of [0, 4, 7, 12, 4095, 3.5, -8, 2 ** 32, 2 ** 31 + 1, Number.NaN]) {
    assert.throws(
      () => RingBuffer.open({ type: "ringbuf", fd: map.fd, maxEntries }),
      (e: Error) =>
        e instanceof InputError &&
        /^a ringbuf's size must be a power of 2 up to 2 GiB, got /.test(e.message) &&
        e.message.endsWith(`got ${String(maxEntries)}`),
      `maxEntries ${maxEntries}`,
    );
  }
  for (const maxEntries of [8, 16, 8192, 2 ** 31]) {
    using ring = RingBuffer.open({ type: "ringbuf", fd: map.fd, maxEntries });
    assert.equal(ring.size, 4096, `maxEntries ${maxEntries}: the size the kernel reports`);
  }
});
