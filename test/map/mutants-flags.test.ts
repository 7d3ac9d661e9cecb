/**
 * Flag inputs, found by mutation testing (npm run mutate -- src/map): what each flags argument
 * takes, and that everything else is an InputError naming what was given, before the kernel is
 * asked. The numbers the kernel takes are checked against the kernel: a u32 we pass on is the
 * kernel's to refuse (BpfError EINVAL), not ours.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { u32 } from "../../src/codec/index.js";
import { lookupFlagsValue, mapFlagsValue, updateFlagsValue } from "../../src/map/flags.js";
import { BpfMap } from "../../src/map/map.js";
import { BpfError, InputError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";

const refused = (f: () => unknown, message: RegExp, what: string) =>
  assert.throws(f, (e: Error) => e instanceof InputError && message.test(e.message), what);

test("map flags: names and u32 numbers; anything else refused", () => {
  assert.equal(mapFlagsValue(undefined), 0);
  assert.equal(mapFlagsValue(0xffffffff), 0xffffffff);
  assert.equal(mapFlagsValue(["BPF_F_NO_PREALLOC", "BPF_F_RDONLY"]), 9);
  for (const n of [-1, 1.5, 2 ** 32, Number.NaN])
    refused(() => mapFlagsValue(n), /^map flags must be an integer from 0 to 4294967295/, `map flags ${n}`);
  refused(() => mapFlagsValue("BPF_F_RDONLY" as never), /^map flags must be a list/, "a bare name");
  for (const name of ["BPF_F_NOPE", "toString", 1])
    refused(() => mapFlagsValue([name] as never), /^unknown map flag /, `map flag ${String(name)}`);
});

test("update flags: a name, names, or a u32; unknown names, contradictions and other numbers refused", () => {
  assert.equal(updateFlagsValue(undefined), 0);
  assert.equal(updateFlagsValue("noexist"), 1);
  assert.equal(updateFlagsValue("BPF_EXIST"), 2);
  assert.equal(updateFlagsValue(["BPF_EXIST", "BPF_F_LOCK"]), 6);
  assert.equal(updateFlagsValue(["exist", "BPF_EXIST"]), 2, "the same one twice is no contradiction");
  assert.equal(updateFlagsValue(0xffffffff), 0xffffffff);
  for (const n of [-1, 1.5, 2 ** 32, Number.NaN])
    refused(
      () => updateFlagsValue(n),
      /^update flags must be an integer from 0 to 4294967295/,
      `update ${n}`,
    );
  for (const name of ["nope", "toString", "__proto__"]) {
    refused(() => updateFlagsValue(name as never), /^unknown update flag /, `update flag ${name}`);
    refused(() => updateFlagsValue([name] as never), /^unknown update flag /, `update flags [${name}]`);
  }
  refused(() => updateFlagsValue([2] as never), /^unknown update flag 2/, "a number in the list");
  refused(() => updateFlagsValue(true as never), /^update flags must be a name, a list/, "a boolean");
  refused(
    () => updateFlagsValue(["BPF_NOEXIST", "exist"]),
    /^BPF_NOEXIST and BPF_EXIST contradict/,
    "noexist with exist",
  );
});

test("lookup flags: only BPF_F_LOCK (4)", () => {
  assert.equal(lookupFlagsValue(undefined), 0);
  assert.equal(lookupFlagsValue(0), 0);
  assert.equal(lookupFlagsValue(4), 4);
  assert.equal(lookupFlagsValue("BPF_F_LOCK"), 4);
  for (const f of [1, 2, "lock", "BPF_ANY"])
    refused(() => lookupFlagsValue(f as never), /^lookup flags may only be "BPF_F_LOCK"/, `lookup ${f}`);
});

test("a u32 of update flags the kernel does not know: the kernel refuses it (EINVAL), not us", (t) => {
  if (!needsRoot(t)) return;
  using m = BpfMap.create({ type: "hash", key: u32, value: u32, maxEntries: 2 });
  assert.throws(
    () => m.set(1, 1, 0xffffffff),
    (e: Error) => e instanceof BpfError && e.errno === 22,
  );
  m.set(1, 1, 1);
  assert.throws(
    () => m.set(1, 2, "noexist"),
    (e: Error) => e instanceof BpfError && e.errno === 17,
    "BPF_NOEXIST on a key that is there: EEXIST",
  );
});
