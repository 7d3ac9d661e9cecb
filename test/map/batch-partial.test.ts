import assert from "node:assert/strict";
import { test } from "node:test";
import { u32 } from "../../src/codec/int.js";
import { BpfMap } from "../../src/map/map.js";
import { BatchError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";

test("a batch update the kernel stops part-way says how many elements it stored", (t) => {
  if (!needsRoot(t)) return;
  using m = BpfMap.create({ type: "array", key: u32, value: u32, maxEntries: 4 });
  assert.throws(
    () =>
      m.setBatch([
        [0, 10],
        [1, 11],
        [7, 17], // past max_entries: the kernel stops here (E2BIG)
        [2, 12],
      ]),
    (e: unknown) => {
      assert.ok(e instanceof BatchError, String(e));
      assert.equal(e.command, "BPF_MAP_UPDATE_BATCH");
      assert.equal(e.errnoName, "E2BIG");
      assert.equal(e.count, 2);
      assert.match(e.message, /after 2 elements/);
      return true;
    },
  );
  assert.equal(m.get(0), 10);
  assert.equal(m.get(1), 11);
  assert.equal(m.get(2), 0, "the kernel stopped before the fourth element");
});
