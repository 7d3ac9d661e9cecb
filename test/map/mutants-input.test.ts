/**
 * Inputs BpfMap refuses before the kernel is asked, found by mutation testing (npm run mutate --
 * src/map): a pin path that is not a non-empty string is an InputError that says what pin needs,
 * not the kernel's ENOENT nor a TypeError from deep inside.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { u32 } from "../../src/codec/index.js";
import { BpfMap } from "../../src/map/map.js";
import { InputError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";

test("pin() of an empty path or of a non-string: InputError before any system call", (t) => {
  if (!needsRoot(t)) return;
  using m = BpfMap.create({ type: "array", key: u32, value: u32, maxEntries: 1 });
  for (const path of ["", 5, undefined, null]) {
    assert.throws(
      () => m.pin(path as string),
      (e: Error) => e instanceof InputError && /^pin needs a path inside a bpffs mount/.test(e.message),
      `path ${String(path)}`,
    );
  }
});
