import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import * as b from "../../src/isa/builder/index.js";
import {
  BuildError,
  DuplicateLabelError,
  JumpRangeError,
  OperandError,
  ProgramBuilder,
  R0,
  R1,
  R2,
  R3,
  R6,
  R10,
  UndefinedLabelError,
} from "../../src/isa/builder/index.js";
import { decode } from "../../src/isa/decode.js";
import { encode } from "../../src/isa/encode.js";
import { UnknownHelperError } from "../../src/isa/helpers.js";
import { AtomicOp, PseudoCall, PseudoLoad } from "../../src/isa/opcode.js";
import { isValid } from "../../src/isa/validate.js";

test("registers are values; register(n) checks the range", () => {
  assert.equal(b.register(6), R6);
  assert.equal(String(R10), "r10");
  assert.throws(() => b.register(11), OperandError);
  assert.throws(() => b.register(-1), OperandError);
  assert.throws(() => b.register(1.5), OperandError);
});

test("immediates and offsets are checked where the instruction is written", () => {
  assert.throws(
    () => b.mov(R1, 0x80000000),
    (e: unknown) => e instanceof OperandError && /-2147483648/.test(e.message),
  );
  assert.throws(() => b.add(R1, 2 ** 40), OperandError);
  assert.throws(
    () => b.ldxw(R1, R2, 0x8000),
    (e: unknown) => e instanceof OperandError && /16-bit/.test(e.message),
  );
  assert.throws(() => b.stw(R10, -4, 1.5), OperandError);
  assert.throws(() => b.jeq(R1, 0, 40000), OperandError);
  assert.throws(() => b.mov(4 as unknown as b.Register, 1), OperandError);
  assert.throws(() => b.movsx(R1, R2, 64 as 32), OperandError);
  assert.throws(() => b.bswap(R1, 8 as 16), OperandError);
  assert.throws(() => b.atomic.add("b" as "w", R1, 0, R2), OperandError);
  assert.throws(() => b.ldImm64(R1, 2n ** 64n), OperandError);
  assert.throws(() => b.ldImm64(R1, 2 ** 60), OperandError);
  assert.throws(() => b.ldx("q" as "w", R1, R2, 0), OperandError);
  assert.throws(() => b.addrSpaceCast(R1, R2, 1, 1), OperandError);
  assert.throws(() => b.call("bpf_map_lookup"), UnknownHelperError);
  assert.throws(() => b.callKfunc("bpf_map_lookup_elem"), OperandError);
});

test("every constructor yields a valid instruction that round-trips through the codec", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 10 }),
      fc.integer({ min: 0, max: 10 }),
      fc.integer({ min: -0x8000, max: 0x7fff }),
      fc.integer({ min: -0x80000000, max: 0x7fffffff }),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
      (d, s, off, imm, wide) => {
        const dst = b.register(d);
        const src = b.register(s);
        const insns = [
          b.add(dst, imm),
          b.sdiv32(dst, src),
          b.movsx(dst, src, 32),
          b.bswap64(dst),
          b.be16(dst),
          b.ldxsh(dst, src, off),
          b.stdw(dst, off, imm),
          b.stxb(dst, off, src),
          b.atomic.fetchXor("w", dst, off, src),
          b.atomic.loadAcquire("b", dst, src, off),
          b.atomic.storeRelease("dw", dst, off, src),
          b.jsle32(dst, imm, off),
          b.gotol(imm),
          b.mayGoto(off),
          b.ldImm64(dst, wide),
          b.ldInd("w", src, imm),
          b.callx(dst),
        ];
        for (const insn of insns) assert.ok(isValid(insn), JSON.stringify(insn));
        const back = decode(encode(insns));
        assert.deepEqual(
          back,
          insns.map(({ ref: _ref, ...rest }) => rest),
        );
        const ld = back[14]!;
        const value = (BigInt(ld.imm2!) << 32n) | BigInt(ld.imm >>> 0);
        assert.equal(BigInt.asUintN(64, value), BigInt.asUintN(64, wide));
      },
    ),
  );
});

test("load-acquire keeps the destination in dst and the address in src; store-release the reverse", () => {
  const load = b.atomic.loadAcquire("dw", R0, R1, 8);
  assert.deepEqual([load.dst, load.src, load.off, load.imm], [0, 1, 8, AtomicOp.LOAD_ACQ]);
  const store = b.atomic.storeRelease("w", R1, 4, R2);
  assert.deepEqual([store.dst, store.src, store.off, store.imm], [1, 2, 4, AtomicOp.STORE_REL]);
});

test("labels resolve forward and backward; labels are local to their function", () => {
  const p = new ProgramBuilder("prog");
  p.label("top")
    .emit(b.ldImm64(R1, 5n), b.jeq(R1, 0, "end"), b.ja("top"))
    .label("end")
    .emit(b.exit())
    .function("f", (f) => f.label("top").emit(b.ja("end")).label("end").emit(b.exit()));
  const { insns } = p.build();
  // slots: ld_imm64 0-1, jeq 2, ja 3, exit 4; f: ja 5, exit 6
  assert.equal(insns[1]!.off, 1); // jeq at slot 2 -> slot 4
  assert.equal(insns[2]!.off, -4); // ja at slot 3 -> slot 0
  assert.equal(insns[4]!.off, 0); // f's ja -> f's end
  assert.deepEqual(insns[1]!.ref, { kind: "label", name: "end" });
});

test("duplicate, undefined and dangling labels are typed errors that name them", () => {
  assert.throws(
    () => new ProgramBuilder().label("x").emit(b.exit()).label("x"),
    (e: unknown) => e instanceof DuplicateLabelError && e.label === "x" && /"x"/.test(e.message),
  );
  assert.throws(
    () => new ProgramBuilder().emit(b.ja("nowhere"), b.exit()).build(),
    (e: unknown) => e instanceof UndefinedLabelError && e.label === "nowhere" && e.index === 0,
  );
  // a label of another function is not visible
  assert.throws(
    () =>
      new ProgramBuilder()
        .emit(b.ja("inner"), b.exit())
        .function("f", (f) => f.label("inner").emit(b.exit()))
        .build(),
    UndefinedLabelError,
  );
  assert.throws(
    () => new ProgramBuilder().emit(b.callLocal("missing"), b.exit()).build(),
    (e: unknown) => e instanceof UndefinedLabelError && /function "missing"/.test(e.message),
  );
  assert.throws(
    () => new ProgramBuilder().function("f", (f) => f.emit(b.exit())).function("f", (f) => f.emit(b.exit())),
    DuplicateLabelError,
  );
  assert.throws(() => new ProgramBuilder().emit(b.ja("end")).label("end").build(), BuildError);
});

test("a conditional jump out of 16-bit range is an error naming the label; ja becomes gotol", () => {
  const far = (jump: ReturnType<typeof b.ja>) => {
    const p = new ProgramBuilder().emit(jump);
    for (let i = 0; i < 33000; i++) p.emit(b.mov(R0, 0));
    return p.label("far").emit(b.exit());
  };
  assert.throws(
    () => far(b.jeq(R1, 0, "far")).build(),
    (e: unknown) =>
      e instanceof JumpRangeError && e.label === "far" && e.distance === 33000 && /"far"/.test(e.message),
  );
  const { insns } = far(b.ja("far")).build();
  assert.deepEqual([insns[0]!.code, insns[0]!.off, insns[0]!.imm], [0x06, 0, 33000]);
  // backward too
  const p = new ProgramBuilder().label("back");
  for (let i = 0; i < 33000; i++) p.emit(b.mov(R0, 0));
  const back = p.emit(b.ja("back"), b.exit()).build().insns[33000]!;
  assert.deepEqual([back.code, back.imm], [0x06, -33001]);
});

test("local calls, function pointers, helpers, maps and kfuncs", () => {
  const counters = { name: "counters", fd: 3 };
  const p = new ProgramBuilder("main");
  p.emit(
    b.ldMapFd(R1, counters),
    b.ldFunc(R2, "cb"),
    b.call("bpf_loop"),
    b.callLocal("helper_fn"),
    b.ldMapValue(R3, counters, 16),
    b.callKfunc("bpf_task_acquire"),
    b.exit(),
  )
    .function("cb", (f) => f.emit(b.mov(R0, 0), b.exit()))
    .function("helper_fn", (f) => f.emit(b.mov(R0, 1), b.exit()));
  const built = p.build();
  const { insns } = built;
  // slots: ldMapFd 0-1, ldFunc 2-3, call 4, callLocal 5, ldMapValue 6-7, kfunc 8, exit 9, cb 10-11, helper_fn 12-13
  assert.deepEqual(
    built.functions.map((f) => [f.name, f.start, f.startSlot, f.callback]),
    [
      ["main", 0, 0, false],
      ["cb", 7, 10, true],
      ["helper_fn", 9, 12, false],
    ],
  );
  assert.equal(insns[1]!.src, PseudoLoad.FUNC);
  assert.equal(insns[1]!.imm, 10 - 3);
  assert.equal(insns[2]!.imm, 181);
  assert.equal(insns[3]!.src, PseudoCall.CALL);
  assert.equal(insns[3]!.imm, 12 - 6);
  assert.deepEqual(
    built.mapRefs.map((r) => [r.index, r.slot, r.name, r.map === counters]),
    [
      [0, 0, "counters", true],
      [4, 6, "counters", true],
    ],
  );
  assert.equal(insns[4]!.imm2, 16);
  assert.deepEqual(built.kfuncRefs, [{ index: 5, slot: 8, name: "bpf_task_acquire" }]);
  assert.equal(insns[5]!.src, PseudoCall.KFUNC_CALL);
  // the builder's own instructions are not mutated
  assert.equal(p.build().insns[1]!.imm, 7);
});

test("build() refuses raw instructions that break the encoding rules", () => {
  assert.throws(
    () => new ProgramBuilder().emit({ code: 0x07, dst: 0, src: 1, off: 0, imm: 0 }).build(),
    (e: unknown) => e instanceof BuildError && /#0/.test(e.message),
  );
});
