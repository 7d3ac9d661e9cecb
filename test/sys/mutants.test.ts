/**
 * The native edge's corners that no other test of src/sys reached, found by mutation testing
 * (npm run mutate -- src/sys/...): the s32 and u64 writers' bounds (against Buffer's own
 * readers), the command names (against the kernel's enum bpf_cmd in its BTF), the element calls
 * a caller makes with its own buffers, a batch the kernel stopped part-way (against the map's
 * contents), fcntl's refusal of a descriptor that is not open, the hint of EMFILE and ENFILE
 * (against `ulimit -n`), a ring mapped with a size larger than the map's (the consumer page is
 * given back), and how errors with a log or a cause read.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { constants } from "node:os";
import { test } from "node:test";
import { inspect } from "node:util";
import { Cmd, cmdName, putS32, putU64 } from "../../src/sys/bpf.js";
import { Errno } from "../../src/sys/errno.js";
import { BatchError, BpfError, InputError, NativeUnavailableError } from "../../src/sys/error.js";
import {
  descriptorPressureDetails,
  duplicateFd,
  Fd,
  openDescriptorCount,
  reclaimDescriptors,
} from "../../src/sys/fd.js";
import { MapElemOps, mapCreate, mapGetNextKey, mapLookupElem, mapUpdateBatch } from "../../src/sys/map.js";
import { mapRing } from "../../src/sys/ringbuf.js";
import { haveTools, skipUnlessCI } from "../support/ci.js";
import { mappingsOf } from "../support/mappings.js";
import { needsRoot } from "../support/privilege.js";

const HASH = 1;
const RINGBUF = 27;

test("putS32 takes -2^31 to 2^31-1 and writes them as Buffer reads them; anything else is an InputError", () => {
  const buf = Buffer.alloc(8);
  for (const v of [-0x80000000, -1, 0, 1, 0x7fffffff]) {
    putS32(buf, 4, v);
    assert.equal(buf.readInt32LE(4), v);
  }
  for (const v of [-0x80000001, 0x80000000, 1.5, Number.NaN, Number.POSITIVE_INFINITY])
    assert.throws(() => putS32(buf, 0, v, "f"), InputError, String(v));
});

test("putU64 takes integers from 0 to 2^64-1 (number or bigint); a fraction is an InputError", () => {
  const buf = Buffer.alloc(8);
  for (const v of [0, 1, 2 ** 53 - 1, 0n, 0xffffffffffffffffn]) {
    putU64(buf, 0, v);
    assert.equal(buf.readBigUInt64LE(0), BigInt(v));
  }
  for (const v of [1.5, 0.5, -1, -1n, 2n ** 64n, Number.NaN])
    assert.throws(() => putU64(buf, 0, v, "f"), InputError, String(v));
});

test("every command's name is the kernel's (enum bpf_cmd in /sys/kernel/btf/vmlinux); an unknown one is named by number", (t) => {
  if (!haveTools("bpftool")) return skipUnlessCI(t, "bpftool is not installed");
  const dump = execFileSync("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"], {
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  const body = /enum bpf_cmd \{([^}]*)\}/.exec(dump)?.[1];
  assert.ok(body, "enum bpf_cmd is in the kernel's BTF");
  const kernel = new Map<number, string>();
  for (const m of body.matchAll(/(BPF_\w+) = (\d+)/g))
    if (!kernel.has(Number(m[2]))) kernel.set(Number(m[2]), m[1]!);
  for (const value of Object.values(Cmd)) assert.equal(cmdName(value), kernel.get(value), `command ${value}`);
  assert.equal(cmdName(4000), "BPF_CMD_4000");
});

test("mapLookupElem and mapGetNextKey with the caller's buffers: true with the element, false at ENOENT, a BpfError otherwise", (t) => {
  if (!needsRoot(t)) return;
  using fd = new Fd(mapCreate({ mapType: HASH, keySize: 4, valueSize: 8, maxEntries: 4 }), "map");
  const key = Buffer.alloc(4);
  const value = Buffer.alloc(8);
  const next = Buffer.alloc(4);
  assert.equal(mapGetNextKey(fd.value, undefined, next), false, "an empty map has no first key");
  assert.equal(mapLookupElem(fd.value, key, value), false);
  const ops = new MapElemOps(fd.value, 4, 8);
  ops.key.writeUInt32LE(7, 0);
  ops.value.writeBigUInt64LE(0x1122334455667788n, 0);
  ops.update(0);
  key.writeUInt32LE(7, 0);
  assert.equal(mapLookupElem(fd.value, key, value), true);
  assert.equal(value.readBigUInt64LE(0), 0x1122334455667788n);
  assert.equal(mapGetNextKey(fd.value, undefined, next), true);
  assert.equal(next.readUInt32LE(0), 7);
  assert.equal(mapGetNextKey(fd.value, next, next), false, "no key after the only one");
  // a flag BPF_MAP_LOOKUP_ELEM does not know: the kernel's EINVAL, as a BpfError
  assert.throws(
    () => mapLookupElem(fd.value, key, value, 1 << 20),
    (e: Error) =>
      e instanceof BpfError && e.errno === constants.errno.EINVAL && e.command === "BPF_MAP_LOOKUP_ELEM",
  );
  assert.throws(
    () => mapGetNextKey(0x7ffffff0, key, next),
    (e: Error) =>
      e instanceof BpfError && e.errno === constants.errno.EBADF && e.command === "BPF_MAP_GET_NEXT_KEY",
  );
});

test("a batch update the kernel stops part-way is a BatchError counting the elements stored, as the map holds them", (t) => {
  if (!needsRoot(t)) return;
  using fd = new Fd(mapCreate({ mapType: HASH, keySize: 4, valueSize: 4, maxEntries: 2 }), "map");
  const keys = Buffer.alloc(12);
  const values = Buffer.alloc(12);
  for (let i = 0; i < 3; i++) {
    keys.writeUInt32LE(10 + i, 4 * i);
    values.writeUInt32LE(100 + i, 4 * i);
  }
  let error: unknown;
  try {
    mapUpdateBatch({ fd: fd.value, keys, values, count: 3 });
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof BatchError, `a BatchError, got ${String(error)}`);
  assert.equal(error.errno, constants.errno.E2BIG, "the map is full");
  // the kernel's word: which keys are in the map
  const stored: number[] = [];
  const key = Buffer.alloc(4);
  const value = Buffer.alloc(4);
  for (let i = 0; i < 3; i++) {
    key.writeUInt32LE(10 + i, 0);
    if (mapLookupElem(fd.value, key, value)) stored.push(i);
  }
  assert.deepEqual(stored, [0, 1]);
  assert.equal(error.count, stored.length);
  assert.match(error.message, /\(after 2 elements\)$/);
  const one = new BatchError(new BpfError("BPF_MAP_UPDATE_BATCH", Errno.E2BIG, { capability: "CAP_BPF" }), 1);
  assert.match(one.message, /\(needs CAP_BPF\).*\(after 1 element\)$/);
  assert.equal(one.capability, "CAP_BPF");
  assert.equal(new BatchError(new BpfError("BPF_MAP_UPDATE_BATCH", Errno.E2BIG), 0).capability, undefined);
});

test("duplicateFd of a descriptor that is not open: fcntl's EBADF as a BpfError", () => {
  assert.throws(
    () => duplicateFd(0x7ffffff0, "a test's descriptor"),
    (e: Error) =>
      e instanceof BpfError && e.errno === constants.errno.EBADF && e.command === "fcntl(F_DUPFD_CLOEXEC)",
  );
});

test("the hint of EMFILE names this process's limit (ulimit -n) and what rawbpf holds; ENFILE the system's; other errnos none", (t) => {
  if (!needsRoot(t)) return;
  // the shell started from here inherits this process's limit
  const limit = execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).trim();
  using held = new Fd(mapCreate({ mapType: HASH, keySize: 4, valueSize: 4, maxEntries: 1 }), "map");
  const n = openDescriptorCount();
  assert.ok(n >= 1 && !held.closed, "this test holds one");
  const emfile = descriptorPressureDetails(constants.errno.EMFILE).hint ?? "";
  assert.match(
    emfile,
    new RegExp(`this process ran out of file descriptors \\(limit ${limit}: ulimit -n\\)`),
  );
  assert.match(emfile, new RegExp(`rawbpf objects hold ${n} of them`));
  const enfile = descriptorPressureDetails(constants.errno.ENFILE).hint ?? "";
  assert.match(enfile, /the system ran out of file descriptors \(the limit is \/proc\/sys\/fs\/file-max\)/);
  assert.match(enfile, new RegExp(`rawbpf objects hold ${n} of them`));
  held.close();
  reclaimDescriptors();
  if (openDescriptorCount() === 0)
    assert.ok(
      !/rawbpf objects hold/.test(descriptorPressureDetails(constants.errno.EMFILE).hint ?? ""),
      "no word of what rawbpf holds when it holds nothing",
    );
  else t.diagnostic(`rawbpf objects of this process still hold ${openDescriptorCount()} descriptors`);
  assert.deepEqual(descriptorPressureDetails(constants.errno.EINVAL), {});
  assert.deepEqual(descriptorPressureDetails(constants.errno.EBADF), {});
});

test("mapRing with a size larger than the ring's: the kernel refuses the producer mapping and the consumer page is given back", (t) => {
  if (!needsRoot(t)) return;
  using fd = new Fd(mapCreate({ mapType: RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096 }), "ring");
  const before = mappingsOf("bpf-map");
  assert.throws(
    () => mapRing(fd.value, 4096 * 4),
    (e: Error) => e instanceof BpfError && e.command === "mmap" && /producer page and data/.test(e.message),
  );
  assert.equal(mappingsOf("bpf-map"), before, "nothing stays mapped");
  const ring = mapRing(fd.value, 4096);
  assert.equal(ring.size, 4096);
  assert.equal(mappingsOf("bpf-map"), before + 2, "the consumer page and the producer pages");
});

test("a BpfError with a verifier log prints where the log is, not the log; NativeUnavailableError names the first line of its cause", () => {
  for (const [log, lines] of [
    ["0: R1=ctx\n", 1],
    ["0: R1=ctx\n1: (b7) r0 = 0\n2: exit\n\n", 3],
  ] as const) {
    const e = new BpfError("BPF_PROG_LOAD", Errno.EACCES, { log });
    assert.equal(e.log, log);
    const text = inspect(e);
    assert.ok(text.includes(`err.log (the kernel's log, ${lines} line${lines === 1 ? "" : "s"})`), text);
    assert.ok(!text.includes("(b7) r0 = 0"), "the log itself is not printed");
  }
  assert.ok(
    !inspect(new BpfError("BPF_MAP_CREATE", Errno.EINVAL)).includes("err.log"),
    "no log, no pointer to it",
  );
  const cause = new Error("libkoffi.so: cannot open shared object file\n    at somewhere");
  const native = new NativeUnavailableError(cause);
  assert.equal(native.code, "ENATIVE");
  assert.equal(native.cause, cause);
  assert.match(native.message, /koffi could not be loaded \(libkoffi\.so: cannot open shared object file\);/);
  assert.match(new NativeUnavailableError("no binary").message, /\(no binary\)/);
});
