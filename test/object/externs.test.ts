/**
 * .kconfig and .ksyms externs (fixtures/externs.c) against libbpf: the same kconfig map, the
 * same values seen by the programs, the same xlated instructions (kfunc calls by BTF id, a
 * typeless ksym's address, weak absent ones as 0); and the typed errors for what cannot be given.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import test from "node:test";
import { gunzipSync } from "node:zlib";
import { vmlinuxBtf } from "../../src/btf/kernel.js";
import {
  BpfObject,
  ExternError,
  fillKconfig,
  type ObjectExtern,
  POISON_CALL_KFUNC_BASE,
} from "../../src/object/index.js";
import { ProgramRejectedError } from "../../src/program/rejected.js";
import { needsRoot } from "../support/privilege.js";
import { compileFixture } from "./compile.js";
import { sameAsLibbpf } from "./oracle.js";

const PROGRAMS = ["read_kconfig", "read_ksyms", "call_kfuncs"];

test("externs.c: kconfig values, ksyms and kfuncs as libbpf gives them (test runs, maps, xlated)", (t) => {
  if (!needsRoot(t)) return;
  const path = compileFixture("externs");
  using obj = BpfObject.open(path).load();
  sameAsLibbpf(obj, path, PROGRAMS, ["externs.bss", "externs.kconfig"]);
  // an independent look at what the programs saw: the kernel's own config and BTF
  const config = gunzipSync(readFileSync("/proc/config.gz")).toString();
  const hz = /^CONFIG_HZ=(\d+)$/m.exec(config)?.[1];
  assert.equal(obj.variable("CONFIG_HZ").get(), Number(hz), "CONFIG_HZ as /proc/config.gz says");
  assert.equal(obj.variable("CONFIG_RAWBPF_NO_SUCH_OPTION").get(), 0n, "a weak absent option is 0");
  const seen = obj.map("externs.bss").get(new Uint8Array(4)) as Uint8Array;
  const u64 = (i: number) => new DataView(seen.buffer, seen.byteOffset).getBigUint64(i * 8, true);
  assert.equal(u64(10), 45n, "bpf_iter_num kfuncs summed 0..9");
  assert.equal(u64(11), 2n, "the weak absent kfunc tested as absent");
  assert.equal(u64(8), 1n, "the weak absent typed ksym's address is 0");
  const stext = /^([0-9a-f]+) T _stext$/m.exec(readFileSync("/proc/kallsyms", "latin1"))?.[1];
  assert.equal(u64(9), BigInt(`0x${stext}`), "the typeless ksym is its /proc/kallsyms address");
  // the kfunc calls carry vmlinux's BTF ids
  const xl = obj.program("call_kfuncs").info();
  void xl;
  const want = vmlinuxBtf().findId("bpf_iter_num_new", "func");
  const calls = obj.spec.programs.find((p) => p.name === "call_kfuncs")?.externReferences ?? [];
  assert.ok(
    calls.some((r) => r.call && r.extern === "bpf_iter_num_new"),
    "a kfunc call reference",
  );
  assert.ok(want !== undefined, "vmlinux has bpf_iter_num_new");
});

test("a typed ksym this kernel cannot place: the kernel refuses it by name (BPF_PSEUDO_BTF_ID went in)", (t) => {
  if (!needsRoot(t)) return;
  const path = compileFixture("externs");
  assert.throws(
    () => BpfObject.open(path).load({ programs: ["per_cpu_ksym"] }),
    (e: unknown) =>
      e instanceof ProgramRejectedError &&
      /failed to find the address for kernel symbol 'bpf_prog_active'/.test(e.message),
  );
});

test("kconfig option wins over the system's; a strong missing option is a typed error", (t) => {
  if (!needsRoot(t)) return;
  const path = compileFixture("externs");
  using obj = BpfObject.open(path, {
    kconfig: { CONFIG_HZ: 1000, CONFIG_RAWBPF_NO_SUCH_BOOL: true, CONFIG_DEFAULT_HOSTNAME: '"rawbpf-host"' },
  }).load({ programs: ["read_kconfig"] });
  obj.program("read_kconfig").testRun({ data: new Uint8Array(64) });
  const seen = obj.map("externs.bss").get(new Uint8Array(4)) as Uint8Array;
  const u64 = (i: number) => new DataView(seen.buffer, seen.byteOffset).getBigUint64(i * 8, true);
  assert.equal(u64(1), 1000n, "CONFIG_HZ from the option");
  assert.equal(u64(6), 1n, "the weak bool set by the option");
  assert.equal(u64(4), BigInt("r".charCodeAt(0) | ("a".charCodeAt(0) << 8)), "the string from the option");
  assert.deepEqual(
    obj.variable("CONFIG_DEFAULT_HOSTNAME").get(),
    new TextEncoder().encode("rawbpf-\0"),
    "a long string is cut to the array, NUL-terminated, as libbpf does",
  );
  assert.throws(
    () => BpfObject.open(path, { kconfig: { CONFIG_HZ: "y" } }).load(),
    (e: unknown) =>
      e instanceof ExternError &&
      e.extern === "CONFIG_HZ" &&
      /needs a bool, tristate or char/.test(e.message),
  );
});

const slot = (
  name: string,
  type: "bool" | "int" | "tristate" | "char_array",
  size: number,
  weak = false,
): ObjectExtern => ({
  name,
  kind: "kconfig",
  weak,
  func: false,
  btfId: 1,
  typeId: 1,
  kconfig: { offset: 0, size, align: 1, type, signed: type === "int" },
});

test("fillKconfig: missing strong options, no config at all, values that do not fit (no kernel)", () => {
  const none = { system: () => undefined, kernelVersion: () => 0x61200 };
  const some = {
    system: () => ({ values: new Map([["CONFIG_A", "300"]]), from: "/x/config" }),
    kernelVersion: () => 1,
  };
  assert.throws(
    () => fillKconfig([slot("CONFIG_B", "int", 4)], some),
    (e: unknown) =>
      e instanceof ExternError && /\/x\/config\) does not set it, and it is not __weak/.test(e.message),
  );
  assert.throws(() => fillKconfig([slot("CONFIG_B", "int", 4)], none), /no kernel config was found/);
  assert.deepEqual([...fillKconfig([slot("CONFIG_B", "int", 4, true)], none)], [0, 0, 0, 0], "weak: zero");
  assert.throws(() => fillKconfig([slot("CONFIG_A", "int", 1)], some), /300 does not fit its 1 byte/);
  assert.deepEqual([...fillKconfig([slot("CONFIG_A", "int", 2)], some)], [44, 1]);
  assert.throws(
    () => fillKconfig([slot("CONFIG_M", "bool", 1)], { ...none, extra: new Map([["CONFIG_M", "m"]]) }),
    /'m' \(module\) needs a tristate or char/,
  );
  assert.deepEqual(
    [...fillKconfig([slot("CONFIG_M", "tristate", 4)], { ...none, extra: new Map([["CONFIG_M", "m"]]) })],
    [2, 0, 0, 0],
  );
  assert.deepEqual([...fillKconfig([slot("LINUX_KERNEL_VERSION", "int", 4)], none)], [0, 0x12, 6, 0]);
  assert.throws(() => fillKconfig([slot("LINUX_OTHER", "int", 4)], none), /not a .kconfig name rawbpf knows/);
  assert.ok(POISON_CALL_KFUNC_BASE === 2002000000, "libbpf's poison base");
});
