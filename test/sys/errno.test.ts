/** The errno table against an independent reading: Node's os.constants.errno (libuv's, from the C headers). */
import assert from "node:assert/strict";
import { constants } from "node:os";
import { test } from "node:test";
import { Errno, errnoHint, errnoName } from "../../src/sys/errno.js";

/** Kernel-internal numbers that never reach C's errno.h (include/linux/errno.h), with their values. */
const KERNEL_ONLY: Readonly<Record<string, number>> = { ENOTSUPP: 524 };

const system = constants.errno as Readonly<Record<string, number>>;

test("every errno name rawbpf gives is the C library's name of that number", () => {
  let named = 0;
  for (let n = 1; n < 4096; n++) {
    const name = errnoName(n);
    if (name === `E${n}`) continue;
    named++;
    const expected = KERNEL_ONLY[name] ?? system[name];
    assert.equal(expected, n, `errnoName(${n}) is ${name}, which is ${expected} in errno.h`);
  }
  assert.ok(named >= 25, `named ${named} errnos`);
});

test("every Errno constant is errno.h's value, and has its name back", () => {
  for (const [name, n] of Object.entries(Errno)) {
    assert.equal(n, KERNEL_ONLY[name] ?? system[name], `Errno.${name}`);
    assert.equal(errnoName(n), name, `errnoName(Errno.${name})`);
  }
});

test("the errnos a bpf() caller meets most are named, and have a hint of their own", () => {
  for (const name of [
    "EPERM",
    "EACCES",
    "EINVAL",
    "E2BIG",
    "ENOSPC",
    "ENOENT",
    "EEXIST",
    "EBADF",
    "EFAULT",
    "EMFILE",
  ]) {
    const n = system[name]!;
    assert.equal(errnoName(n), name);
    assert.notEqual(errnoHint(n), errnoHint(9999), `${name} has a hint of its own`);
  }
  assert.equal(errnoName(9999), "E9999");
});
