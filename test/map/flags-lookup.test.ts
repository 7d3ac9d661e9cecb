import assert from "node:assert/strict";
import { test } from "node:test";
import { u32 } from "../../src/codec/int.js";
import { BpfMap } from "../../src/map/map.js";
import { BpfError, InputError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";

test("get with BPF_F_LOCK: refused by the kernel for a value without a spin lock, bad flags before it", (t) => {
  if (!needsRoot(t)) return;
  using m = BpfMap.create({ type: "array", key: u32, value: u32, maxEntries: 1 });
  m.set(0, 7);
  assert.equal(m.get(0), 7);
  // the kernel only takes BPF_F_LOCK for values that hold a bpf_spin_lock (EINVAL otherwise)
  assert.throws(
    () => m.get(0, "BPF_F_LOCK"),
    (e: unknown) => e instanceof BpfError && e.errnoName === "EINVAL",
  );
  assert.throws(() => m.get(0, 1 as never), InputError);
  assert.throws(() => m.get(0, "BPF_F_LOKC" as never), /lookup flags may only be "BPF_F_LOCK"/);
});
