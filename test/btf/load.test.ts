import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { BtfBuilder } from "../../src/btf/builder.js";
import { BtfError } from "../../src/btf/errors.js";
import {
  decodeFuncInfo,
  decodeLineInfo,
  encodeFuncInfo,
  encodeLineInfo,
  programBtf,
} from "../../src/btf/ext.js";
import { BtfLoadError, loadBtf } from "../../src/btf/load.js";
import { BpfError, closeRaw, objGetInfoByFd, PROG_INFO, progLoad } from "../../src/sys/index.js";
import { needsRoot } from "../support/privilege.js";
import { everyKind } from "./helpers.js";

const SOCKET_FILTER = 1;

/** main: r1 = 5; call sub; exit / sub: r0 = r1; exit */
function insns(): Uint8Array {
  const hex = [
    "b701000005000000",
    "8510000001000000",
    "9500000000000000",
    "bf10000000000000",
    "9500000000000000",
  ].join("");
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

function progId(fd: number): number {
  const info = Buffer.alloc(PROG_INFO.size);
  objGetInfoByFd(fd, info);
  return info.readUInt32LE(PROG_INFO.offset.id);
}

test("func_info and line_info records round-trip", () => {
  const f = [
    { insnOff: 0, typeId: 7 },
    { insnOff: 12, typeId: 9 },
  ];
  assert.deepEqual(decodeFuncInfo(encodeFuncInfo(f)), f);
  const l = [{ insnOff: 3, fileNameOff: 1, lineOff: 20, line: 4000, column: 17 }];
  const bytes = encodeLineInfo(l);
  assert.equal(bytes.length, 16);
  assert.equal(new DataView(bytes.buffer).getUint32(12, true), (4000 << 10) | 17);
  assert.deepEqual(decodeLineInfo(bytes), l);
  assert.throws(() => encodeLineInfo([{ ...l[0]!, column: 1024 }]), BtfError);
  assert.throws(() => decodeFuncInfo(new Uint8Array(7)), BtfError);
});

test("programBtf checks the function list before the kernel does", () => {
  assert.throws(() => programBtf([]), BtfError);
  assert.throws(() => programBtf([{ name: "main", start: 1 }]), /instruction 0/);
  assert.throws(() => programBtf([{ name: "has space", start: 0 }]), /identifier/);
  assert.throws(
    () =>
      programBtf([
        { name: "a", start: 0 },
        { name: "b", start: 0 },
      ]),
    BtfError,
  );
});

test("a hand-built blob with every kind the kernel accepts loads", (t) => {
  if (!needsRoot(t)) return;
  const { builder } = everyKind();
  // the kernel refuses extern functions (libbpf turns them into static before loading)
  const types = builder.types.map((ty) =>
    ty.kind === "func" && ty.linkage === "extern" ? { ...ty, linkage: "static" as const } : ty,
  );
  const b = new BtfBuilder();
  for (const ty of types) b.add(ty);
  using loaded = loadBtf(b.build()).fd;
  assert.ok(loaded.value > 0);
});

test("a broken blob is rejected with the BTF verifier's log", (t) => {
  if (!needsRoot(t)) return;
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  b.ptr(int + 40); // points at a type that does not exist
  const err = (() => {
    try {
      loadBtf(b.build());
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(err instanceof BtfLoadError, String(err));
  assert.ok(err instanceof BtfError);
  assert.match(err.log, /Invalid type_id|type_id/i);
  assert.equal(err.errnoName, "EINVAL");
  assert.ok(err.cause instanceof BpfError);
});

test("a program with a subprogram loads with our func_info and line_info, and bpftool shows them", (t) => {
  if (!needsRoot(t)) return;
  const lines = new Map([
    [0, { file: "demo.c", line: 10, column: 3, text: "int x = 5;" }],
    [1, { file: "demo.c", line: 11, text: "return twice(x);" }],
    [3, { file: "demo.c", line: 20, text: "return a;" }],
  ]);
  const p = programBtf(
    [
      { name: "entry", start: 0 },
      { name: "twice", start: 3, args: 1 },
    ],
    { lines },
  );
  using btf = loadBtf(p.btf).fd;
  const r = progLoad({
    progType: SOCKET_FILTER,
    insns: insns(),
    license: "GPL",
    progBtfFd: btf.value,
    funcInfo: p.funcInfo,
    lineInfo: p.lineInfo!,
  });
  try {
    const out = execFileSync("bpftool", ["prog", "dump", "xlated", "id", String(progId(r.fd))], {
      encoding: "utf8",
    });
    assert.match(out, /int entry\(void \* ctx\)/);
    assert.match(out, /int twice\(long arg1\)/);
    assert.match(out, /_twice/);
    assert.match(out, /; return twice\(x\);/);
    assert.match(out, /; return a;/);
  } finally {
    closeRaw(r.fd);
  }
});

test("the verifier rejects func_info that does not match the subprograms, and line_info missing a function", (t) => {
  if (!needsRoot(t)) return;
  const p = programBtf([
    { name: "entry", start: 0 },
    { name: "twice", start: 3, args: 1 },
  ]);
  using btf = loadBtf(p.btf).fd;
  const base = { progType: SOCKET_FILTER, insns: insns(), license: "GPL", progBtfFd: btf.value };
  // only the main program's record: the subprogram at 3 has none
  assert.throws(
    () => progLoad({ ...base, funcInfo: p.funcInfo.subarray(0, 8) }),
    (e: unknown) => e instanceof BpfError && /func_info|subprog/i.test(e.log ?? ""),
  );
  // a line for the main program only: the kernel wants one at every function start
  const lineInfo = encodeLineInfo([{ insnOff: 0, fileNameOff: 0, lineOff: 0, line: 1, column: 0 }]);
  assert.throws(
    () => progLoad({ ...base, funcInfo: p.funcInfo, lineInfo }),
    (e: unknown) => e instanceof BpfError && /missing bpf_line_info/.test(e.log ?? ""),
  );
  // and with both right it loads
  const ok = progLoad({ ...base, funcInfo: p.funcInfo });
  closeRaw(ok.fd);
});
