/**
 * prog.ts, btf.ts and obj.ts where mutation testing found no test (npm run mutate -- src/sys/btf.ts
 * src/sys/prog.ts src/sys/obj.ts): a map referred to through fd_array, a test run whose output
 * room the kernel asks to grow, a refused test run's errno (against os.constants.errno),
 * BTF_LOAD's log (none unless asked, complete when it had to grow, the kernel's errno kept), the
 * kernel BTF file helpers (the mapping and its descriptor, against /proc/self/maps and
 * /proc/self/fd), and a pin refused with EEXIST (its hint says why). Pins go under a mkdtemp
 * directory of this file's own.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { constants } from "node:os";
import { test } from "node:test";
import { btfLoad, mapKernelBtfFile, readKernelBtfFile } from "../../src/sys/btf.js";
import { BpfError, RawbpfError } from "../../src/sys/error.js";
import { Fd } from "../../src/sys/fd.js";
import { mapCreate } from "../../src/sys/map.js";
import { enableStats, getFdById, getNextId, objGet, objGetInfoByFd, objPin } from "../../src/sys/obj.js";
import { progLoad, progTestRun } from "../../src/sys/prog.js";
import { inputMessage } from "../support/errors.js";
import { gc } from "../support/mappings.js";
import { needsRoot } from "../support/privilege.js";

const SOCKET_FILTER = 1;
const HASH = 1;

/** Instructions as bytes: [code, dst | src << 4, off, imm] each. */
function insns(...list: [number, number, number, number][]): Uint8Array {
  const b = Buffer.alloc(list.length * 8);
  list.forEach(([code, regs, off, imm], i) => {
    b[i * 8] = code;
    b[i * 8 + 1] = regs;
    b.writeInt16LE(off, i * 8 + 2);
    b.writeInt32LE(imm, i * 8 + 4);
  });
  return b;
}
/** r0 = skb->len; exit: a socket filter that keeps the whole packet */
const RETURN_LEN = insns([0x61, 0x10, 0, 0], [0x95, 0, 0, 0]);

test("progLoad sends fd_array: a map named by its index there is found (the kernel refuses the index without it)", (t) => {
  if (!needsRoot(t)) return;
  using map = new Fd(mapCreate({ mapType: HASH, keySize: 4, valueSize: 4, maxEntries: 1 }), "map");
  // r1 = map at fd_array[0] (ld_imm64, src BPF_PSEUDO_MAP_IDX = 5); r0 = 0; exit
  const code = insns([0x18, 0x51, 0, 0], [0, 0, 0, 0], [0xb7, 0, 0, 0], [0x95, 0, 0, 0]);
  const fdArray = new Int32Array([map.value]);
  using prog = new Fd(
    progLoad({ progType: SOCKET_FILTER, insns: code, license: "GPL", fdArray }).fd,
    "program",
  );
  assert.ok(prog.value > 0);
  assert.throws(
    () => progLoad({ progType: SOCKET_FILTER, insns: code, license: "GPL" }),
    (e: Error) => e instanceof BpfError && e.command === "BPF_PROG_LOAD",
    "without fd_array the index names nothing",
  );
});

test("progTestRun grows the output room once when the kernel says it needs more; a refused run keeps the kernel's errno", (t) => {
  if (!needsRoot(t)) return;
  using prog = new Fd(progLoad({ progType: SOCKET_FILTER, insns: RETURN_LEN, license: "GPL" }).fd, "program");
  const packet = Buffer.alloc(64);
  for (let i = 0; i < packet.length; i++) packet[i] = i * 7;
  const r = progTestRun({ fd: prog.value, dataIn: packet, dataSizeOut: 1 });
  assert.equal(r.retval, packet.length - 14, "the filter saw the packet past its Ethernet header");
  // the packet back, after one retry with the size the kernel asked for (its Ethernet header zeroed)
  assert.equal(r.dataOut.length, packet.length);
  assert.deepEqual(r.dataOut.subarray(14), packet.subarray(14));
  using map = new Fd(mapCreate({ mapType: HASH, keySize: 4, valueSize: 4, maxEntries: 1 }), "map");
  assert.throws(
    () => progTestRun({ fd: map.value, dataIn: packet }),
    (e: Error) =>
      e instanceof BpfError && e.command === "BPF_PROG_TEST_RUN" && e.errno === constants.errno.EINVAL,
  );
});

/** A BTF blob: one INT type "int" of `size` bytes and `bits` bits. */
function btfBlob(size: number, bits: number): Buffer {
  const strings = Buffer.from("\0int\0", "latin1");
  const types = Buffer.alloc(16);
  types.writeUInt32LE(1, 0); // name_off
  types.writeUInt32LE(1 << 24, 4); // kind INT
  types.writeUInt32LE(size, 8);
  types.writeUInt32LE(bits, 12); // encoding 0, offset 0, bits
  const header = Buffer.alloc(24);
  header.writeUInt16LE(0xeb9f, 0);
  header[2] = 1; // version
  header.writeUInt32LE(24, 4); // hdr_len
  header.writeUInt32LE(0, 8); // type_off
  header.writeUInt32LE(types.length, 12);
  header.writeUInt32LE(types.length, 16); // str_off
  header.writeUInt32LE(strings.length, 20);
  return Buffer.concat([header, types, strings]);
}

test("btfLoad: no log unless asked; asked, the kernel's log without its NUL; refused, the complete log and the kernel's errno", (t) => {
  if (!needsRoot(t)) return;
  const good = btfLoad({ blob: btfBlob(4, 32) });
  using _g = new Fd(good.fd, "BTF");
  assert.equal(good.log, "", "no log was asked for");
  const logged = btfLoad({ blob: btfBlob(4, 32), logLevel: 1 });
  using _l = new Fd(logged.fd, "BTF");
  assert.ok(logged.log.length > 0, "the kernel wrote a log");
  assert.ok(!logged.log.includes("\0"), "no NUL in the log");
  // 64 bits in 4 bytes: the kernel refuses it
  const refusal = (logSize?: number, logLevel?: number): BpfError => {
    try {
      btfLoad({ blob: btfBlob(4, 64), logSize, logLevel });
    } catch (e) {
      assert.ok(e instanceof BpfError, String(e));
      return e;
    }
    assert.fail("the kernel took an int of 64 bits in 4 bytes");
  };
  const full = refusal();
  assert.equal(full.errno, constants.errno.EINVAL);
  assert.ok((full.log ?? "").length > 40, `a log saying why: ${full.log}`);
  const asked = refusal(undefined, 1);
  assert.equal(asked.errno, constants.errno.EINVAL, "asked with a log: still the kernel's EINVAL");
  assert.equal(asked.log, full.log);
  const grown = refusal(16, 1);
  assert.equal(grown.errno, constants.errno.EINVAL, "the log grew to the kernel's true size, not ENOSPC");
  assert.equal(grown.log, full.log, "the whole log, as with room to spare");
  assert.match(
    inputMessage(() => btfLoad({ blob: btfBlob(4, 32), logLevel: 2 ** 32 })),
    /^log level must be/,
  );
  assert.match(
    inputMessage(() => btfLoad({ blob: btfBlob(4, 32), flags: -1 })),
    /^BTF flags must be/,
  );
});

/** Descriptors of this process open on `path`. */
function fdsOn(path: string): number {
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

test("the kernel's BTF files: a missing one is ENOKERNELBTF with its cause; a file that cannot be mapped is undefined; no descriptor stays open", async () => {
  try {
    readKernelBtfFile("rawbpf_no_such_module");
    assert.fail("read a module that is not there");
  } catch (e) {
    assert.ok(e instanceof RawbpfError && e.code === "ENOKERNELBTF", String(e));
    assert.equal(
      (e.cause as NodeJS.ErrnoException | undefined)?.code,
      "ENOENT",
      "the read's error as the cause",
    );
  }
  // a sysfs attribute (4096 bytes by stat) has no mmap
  const attribute = "/sys/devices/system/cpu/online";
  assert.equal(mapKernelBtfFile(attribute), undefined);
  assert.equal(fdsOn(attribute), 0, "its descriptor closed");
  const vmlinux = "/sys/kernel/btf/vmlinux";
  const maps = () =>
    readFileSync("/proc/self/maps", "utf8")
      .trimEnd()
      .split("\n")
      .filter((l) => l.endsWith(vmlinux)).length;
  const before = maps();
  let bytes = mapKernelBtfFile(vmlinux);
  if (bytes === undefined) return; // a kernel before 6.16 maps no BTF file
  assert.equal(fdsOn(vmlinux), 0, "the mapping needs no descriptor");
  assert.equal(maps(), before + 1, "mapped once");
  assert.equal(new DataView(bytes.buffer, bytes.byteOffset).getUint16(0, true), 0xeb9f, "BTF's magic");
  bytes = undefined;
  // the mapping goes when the bytes are garbage (a finalizer: after a collection, in a later task)
  for (let i = 0; i < 100 && maps() > before; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(maps(), before, "unmapped once garbage");
});

test("objPin refused with EEXIST says why: something is pinned there, or the path is a directory", (t) => {
  if (!needsRoot(t)) return;
  const dir = mkdtempSync("/sys/fs/bpf/rawbpf-mutants-");
  try {
    using map = new Fd(mapCreate({ mapType: HASH, keySize: 4, valueSize: 4, maxEntries: 1 }), "map");
    const path = `${dir}/m`;
    objPin(map.value, path);
    using again = new Fd(objGet(path), "map");
    assert.ok(again.value > 0);
    assert.throws(
      () => objPin(map.value, path),
      (e: Error) =>
        e instanceof BpfError &&
        e.errno === constants.errno.EEXIST &&
        /already exists \(something is pinned there, or it is a file\): remove it first/.test(e.hint ?? ""),
    );
    assert.throws(
      () => objPin(map.value, dir),
      (e: Error) =>
        e instanceof BpfError &&
        e.errno === constants.errno.EEXIST &&
        /is a directory: pin at a new name inside it/.test(e.hint ?? ""),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("progLoad names the attribute a bad value was given for", () => {
  const base = { progType: SOCKET_FILTER, insns: RETURN_LEN, license: "GPL" };
  for (const [field, value, words] of [
    ["progType", -1, "program type"],
    ["insns", new Uint8Array(12), "instruction count"],
    ["logLevel", -1, "log level"],
    ["logSize", 1.5, "log size"],
    ["kernVersion", -1, "kernel version"],
    ["progFlags", -1, "program flags"],
    ["name", "a-b", "program name"],
    ["ifindex", -1, "ifindex"],
    ["expectedAttachType", -1, "expected attach type"],
    ["progBtfFd", -1, "program BTF fd"],
  ] as const) {
    const message = inputMessage(() => progLoad({ ...base, [field]: value }));
    assert.ok(message.startsWith(words), `${field}: ${message}`);
  }
});

test("getFdById: the attributes' names; an id no object has is ENOENT with no word of CAP_SYS_ADMIN", (t) => {
  assert.match(
    inputMessage(() => getFdById("map", -1)),
    /^id must be/,
  );
  assert.match(
    inputMessage(() => getFdById("map", 1, -1)),
    /^open flags must be/,
  );
  if (!needsRoot(t)) return;
  assert.throws(
    () => getFdById("map", 0x7ffffff0),
    (e: Error) =>
      e instanceof BpfError && e.errno === constants.errno.ENOENT && !/CAP_SYS_ADMIN/.test(e.hint),
  );
});

test("the object commands name the attribute a bad value was given for", () => {
  assert.match(
    inputMessage(() => enableStats(-1)),
    /^stats type must be/,
  );
  assert.match(
    inputMessage(() => objGet("/sys/fs/bpf/x", -1)),
    /^open flags must be/,
  );
  assert.match(
    inputMessage(() => objGetInfoByFd(-1, Buffer.alloc(8))),
    /^fd must be/,
  );
  assert.match(
    inputMessage(() => getNextId("map", -1)),
    /^start id must be/,
  );
  assert.match(
    inputMessage(() => objPin(-1, "/sys/fs/bpf/x")),
    /^fd must be/,
  );
});
