/**
 * The bounds of PerfBuffer's options, found by mutation testing (npm run mutate -- src/perf): the
 * largest wakeup the kernel's u32 takes is accepted by the kernel, one more is an InputError
 * before anything is opened, and so is an onLost that is not a function. A source without
 * maxEntries (a descriptor and a type) is read with the kernel's count of slots.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BpfMap } from "../../src/map/map.js";
import { PerfBuffer } from "../../src/perf/index.js";
import { InputError } from "../../src/sys/error.js";
import { openFdCount } from "../support/fds.js";
import { needsRoot } from "../support/privilege.js";

test("wakeupEvents and wakeupWatermark: 2^32 - 1 is opened by the kernel, 2^32 is an InputError; onLost must be a function", (t) => {
  if (!needsRoot(t)) return;
  using events = BpfMap.create({ type: "perf_event_array", keySize: 4, valueSize: 4, maxEntries: 64 });
  const fds = openFdCount("anon_inode:");
  // refused by the check of the options, which names them (not later, by the attr's field)
  const wakeup = /wakeupEvents and wakeupWatermark must be positive integers, got 4294967296$/;
  for (const [options, message] of [
    [{ wakeupEvents: 2 ** 32 }, wakeup],
    [{ wakeupWatermark: 2 ** 32 }, wakeup],
    [{ onLost: 5 as never }, /onLost must be a function/],
  ] as const) {
    assert.throws(
      () => PerfBuffer.open(events, options),
      (e: Error) => e instanceof InputError && message.test(e.message),
      JSON.stringify(options),
    );
  }
  assert.equal(openFdCount("anon_inode:"), fds, "nothing was opened");
  // the kernel takes the largest u32 (attr.wakeup_events) as it is
  using perf = PerfBuffer.open(events, { wakeupEvents: 2 ** 32 - 1 });
  assert.ok(perf.cpus.length > 0, "opened on every online CPU");
});

test("a source with no maxEntries is read with the slots the kernel reports", (t) => {
  if (!needsRoot(t)) return;
  using events = BpfMap.create({ type: "perf_event_array", keySize: 4, valueSize: 4, maxEntries: 64 });
  using perf = PerfBuffer.open({ type: "perf_event_array", fd: events.fd });
  assert.ok(perf.cpus.length > 0, "opened on every online CPU");
  assert.equal(
    perf.consume(() => {}),
    0,
  );
});
