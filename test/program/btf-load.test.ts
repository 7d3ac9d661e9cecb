import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { BtfBuilder } from "../../src/btf/builder.js";
import { programBtf } from "../../src/btf/ext.js";
import { loadBtf } from "../../src/btf/load.js";
import {
  add,
  call,
  callLocal,
  exit,
  ldFunc,
  mov,
  ProgramBuilder,
  R0,
  R1,
  R2,
  R3,
  R4,
} from "../../src/isa/builder/index.js";
import { dumpMap } from "../../src/map/dump.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { ProgramRejectedError } from "../../src/program/rejected.js";
import { BpfError, InputError } from "../../src/sys/error.js";
import { VerifierError } from "../../src/verifier/error.js";
import { needsRoot } from "../support/privilege.js";

const data = Buffer.alloc(14);

function twoFunctions() {
  const b = new ProgramBuilder("outer");
  b.emit(mov(R1, 20), callLocal("inner"), add(R0, 2), exit());
  b.function("inner", (f) => f.emit(mov(R0, R1), add(R0, R1), exit()));
  return b.build();
}

/** bpf_loop(3, cb, 0, 0) where cb returns 0: returns 3 (the iterations done). */
function withCallback() {
  const b = new ProgramBuilder("loops");
  b.emit(mov(R1, 3), ldFunc(R2, "cb"), mov(R3, 0), mov(R4, 0), call("bpf_loop"), exit());
  b.function("cb", (f) => f.emit(mov(R0, 0), exit()));
  return b.build();
}

/** The kernel's own account of the program's BTF, through bpftool. */
function bpftoolFuncs(btfId: number): string[] {
  const out = execFileSync("bpftool", ["btf", "dump", "id", String(btfId)], { encoding: "utf8" });
  return [...out.matchAll(/FUNC '([^']+)' type_id=\d+ linkage=(\w+)/g)].map((m) => `${m[2]} ${m[1]}`);
}

test("default: BTF emitted for several functions; the kernel names both, bpftool agrees", (t) => {
  if (!needsRoot(t)) return;
  using p = Program.load({ type: "socket_filter", instructions: twoFunctions() });
  assert.equal(p.testRun({ data }).retval, 42);
  const f = p.functions();
  assert.equal(f.funcInfoCount, 2);
  assert.deepEqual(
    f.functions.map((x) => [x.name, x.linkage, x.insnOffset]),
    [
      ["outer", "global", 0],
      ["inner", "static", 4],
    ],
  );
  assert.deepEqual(bpftoolFuncs(f.btfId).sort(), ["global outer", "static inner"]);
  assert.equal(p.info().btfId, f.btfId);
});

test("a one-function program gets no BTF unless asked", (t) => {
  if (!needsRoot(t)) return;
  using p = Program.load({ type: "socket_filter", instructions: [mov(R0, 1), exit()] });
  const f = p.functions();
  assert.equal(f.btfId, 0);
  assert.equal(f.funcInfoCount, 0);
  assert.equal(f.functions.length, 1);
  assert.equal(f.functions[0]!.name, undefined);
});

test("btf: false loads a static subprogram without BTF; the kernel keeps no func_info", (t) => {
  if (!needsRoot(t)) return;
  for (const spec of [{ btf: false as const }, { emitBtf: false }]) {
    using p = Program.load({ type: "socket_filter", instructions: twoFunctions(), ...spec });
    assert.equal(p.testRun({ data }).retval, 42);
    const f = p.functions();
    assert.equal(f.btfId, 0);
    assert.equal(f.funcInfoCount, 0);
    assert.equal(f.functions.length, 2, "still two JIT-compiled functions");
    assert.ok(f.functions.every((x) => x.name === undefined));
  }
});

test("btf: false on a callback: the kernel's 'missing btf func_info' with the log", (t) => {
  if (!needsRoot(t)) return;
  const built = withCallback();
  assert.throws(
    () => Program.load({ type: "socket_filter", instructions: built, btf: false }),
    (e: Error & { log?: unknown }) => {
      const log = typeof e.log === "string" ? e.log : String((e.log as { text?: string })?.text);
      return /missing btf func_info/.test(log);
    },
  );
  using p = Program.load({ type: "socket_filter", instructions: built });
  assert.equal(p.testRun({ data }).retval, 3);
});

test("BTF by hand: a blob with records, or a descriptor with records", (t) => {
  if (!needsRoot(t)) return;
  const built = withCallback();
  const fns = built.functions.map((f) => ({ name: f.name, start: f.startSlot, callback: f.callback }));
  const emitted = programBtf(fns);
  using a = Program.load({
    type: "socket_filter",
    instructions: built,
    btf: emitted.btf,
    funcInfo: emitted.funcInfo,
  });
  assert.equal(a.testRun({ data }).retval, 3);
  assert.deepEqual(
    a.functions().functions.map((x) => x.name),
    ["loops", "cb"],
  );

  // a descriptor the caller owns; it stays open after the load
  using btf = loadBtf(emitted.btf).fd;
  using b = Program.load({ type: "socket_filter", instructions: built, btf, funcInfo: emitted.funcInfo });
  assert.equal(b.testRun({ data }).retval, 3);
  assert.equal(btf.closed, false);
  assert.equal(b.functions().funcInfoCount, 2);
});

test("BTF by hand with wrong records: the kernel says what is wrong", (t) => {
  if (!needsRoot(t)) return;
  const built = twoFunctions();
  // func_info pointing at an INT instead of a FUNC
  const bb = new BtfBuilder();
  const int = bb.int("int", 4, { signed: true });
  const blob = bb.build();
  const funcInfo = new Uint8Array(16);
  const v = new DataView(funcInfo.buffer);
  v.setUint32(0, 0, true);
  v.setUint32(4, int, true);
  v.setUint32(8, 4, true);
  v.setUint32(12, int, true);
  assert.throws(
    () => Program.load({ type: "socket_filter", instructions: built, btf: blob, funcInfo, logLevel: 1 }),
    (e: Error & { log?: unknown }) => {
      const log = typeof e.log === "string" ? e.log : String((e.log as { text?: string })?.text);
      return new RegExp(`invalid type id ${int} in func info`).test(log);
    },
  );
});

test("BTF option mistakes are InputErrors before the kernel is asked", () => {
  const built = twoFunctions();
  const funcInfo = new Uint8Array(16);
  assert.throws(
    () => Program.load({ type: "socket_filter", instructions: built, funcInfo }),
    (e: Error) => e instanceof InputError && /without the BTF/.test(e.message),
  );
  assert.throws(
    () => Program.load({ type: "socket_filter", instructions: built, btf: false, funcInfo }),
    (e: Error) => e instanceof InputError && /btf: false/.test(e.message),
  );
  assert.throws(
    () =>
      Program.load({
        type: "socket_filter",
        instructions: built,
        btf: new Uint8Array(8),
        funcInfo: new Uint8Array(12),
      }),
    (e: Error) => e instanceof InputError && /8-byte/.test(e.message),
  );
  assert.throws(
    () =>
      Program.load({
        type: "socket_filter",
        instructions: built,
        btf: 3,
        lineInfo: new Uint8Array(8),
      }),
    (e: Error) => e instanceof InputError && /16-byte/.test(e.message),
  );
  assert.throws(
    () => Program.load({ type: "socket_filter", instructions: built, btf: "yes" as unknown as number }),
    (e: Error) => e instanceof InputError && /btf must be/.test(e.message),
  );
});

test("dumpMap: structured values through the map's BTF; a map without BTF is an InputError", (t) => {
  if (!needsRoot(t)) return;
  const b = new BtfBuilder();
  const u32 = b.int("unsigned int", 4);
  const pair = b.struct("pair", [
    { name: "a", type: u32 },
    { name: "b", type: u32 },
  ]);
  let map: BpfMap;
  {
    using btf = loadBtf(b.build()).fd;
    map = BpfMap.create({
      type: "hash",
      keySize: 4,
      valueSize: 8,
      maxEntries: 4,
      btfFd: btf.value,
      btfKeyTypeId: u32,
      btfValueTypeId: pair,
    });
  }
  using _m = map;
  const v = Buffer.alloc(8);
  v.writeUInt32LE(7, 0);
  v.writeUInt32LE(9, 4);
  const k = Buffer.alloc(4);
  k.writeUInt32LE(5);
  map.set(k, v);
  assert.deepEqual(dumpMap(map), [{ key: 5, value: { a: 7, b: 9 } }]);
  // bpftool reads the same through the same BTF
  const tool = JSON.parse(
    execFileSync("bpftool", ["-j", "map", "dump", "id", String(map.info().id)], { encoding: "utf8" }),
  ) as { formatted: { key: number; value: { a: number; b: number } } }[];
  assert.deepEqual(
    tool.map((e) => e.formatted),
    [{ key: 5, value: { a: 7, b: 9 } }],
  );

  using plain = BpfMap.create({ type: "array", keySize: 4, valueSize: 4, maxEntries: 1 });
  assert.throws(() => dumpMap(plain), InputError);
  assert.throws(() => dumpMap({} as unknown as number), InputError);
});

test("a verifier refusal is a ProgramRejectedError: a BpfError with the log, plus the explanation", (t) => {
  if (!needsRoot(t)) return;
  const built = withCallback();
  assert.throws(
    () => Program.load({ type: "socket_filter", name: "loops", instructions: built, btf: false }),
    (e: unknown) => {
      assert.ok(e instanceof ProgramRejectedError);
      assert.ok(e instanceof VerifierError, "a VerifierError");
      assert.ok(e.cause instanceof BpfError, "the BpfError of the load is its cause");
      assert.equal(e.errnoName, "EINVAL");
      assert.equal(e.command, "BPF_PROG_LOAD");
      assert.match(e.log.text, /missing btf func_info/);
      assert.equal(e.cause.log, e.log.text);
      assert.equal(e.explanation?.message, "missing btf func_info");
      assert.match(e.message, /^program 'loops' refused by the verifier \(EINVAL\): missing btf func_info/);
      assert.match(e.render("terminal"), /missing btf func_info/);
      return true;
    },
  );
  // a refusal before the verifier (an unknown program type number) stays a plain BpfError
  assert.throws(
    () => Program.load({ type: "socket_filter", instructions: [mov(R0, 0), exit()], flags: 1 << 30 }),
    (e: unknown) => e instanceof BpfError && !(e instanceof ProgramRejectedError),
  );
});
