/**
 * The builder's bytes against LLVM's: the same instructions written as LLVM BPF assembly and
 * assembled by llvm-mc-19 must give exactly the bytes encode() gives.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import * as b from "../../src/isa/builder/index.js";
import { R0, R1, R2, R3, R10 } from "../../src/isa/builder/index.js";
import { encode } from "../../src/isa/encode.js";
import type { Instruction } from "../../src/isa/insn.js";
import { haveTools } from "../support/ci.js";

const skip =
  !haveTools("llvm-mc-19", "llvm-objcopy-19") && process.env.CI !== "true"
    ? "llvm-mc-19 is not installed"
    : false;

/** Assembles LLVM BPF assembly and returns the bytes of .text. */
function assemble(text: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-oracle-"));
  try {
    writeFileSync(join(dir, "a.s"), text);
    execFileSync("llvm-mc-19", [
      "-triple",
      "bpfel",
      "-mcpu=v4",
      "-filetype=obj",
      "-o",
      join(dir, "a.o"),
      join(dir, "a.s"),
    ]);
    execFileSync("llvm-objcopy-19", [
      "-O",
      "binary",
      "--only-section=.text",
      join(dir, "a.o"),
      join(dir, "a.bin"),
    ]);
    return new Uint8Array(readFileSync(join(dir, "a.bin")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const aluOps: [string, b.Binary, b.Binary][] = [
  ["+=", b.add, b.add32],
  ["-=", b.sub, b.sub32],
  ["*=", b.mul, b.mul32],
  ["/=", b.div, b.div32],
  ["s/=", b.sdiv, b.sdiv32],
  ["|=", b.or, b.or32],
  ["&=", b.and, b.and32],
  ["<<=", b.lsh, b.lsh32],
  [">>=", b.rsh, b.rsh32],
  ["%=", b.mod, b.mod32],
  ["s%=", b.smod, b.smod32],
  ["^=", b.xor, b.xor32],
  ["s>>=", b.arsh, b.arsh32],
];

function cases(): [Instruction, string][] {
  const out: [Instruction, string][] = [];
  for (const [sym, op64, op32] of aluOps) {
    out.push([op64(R1, 7), `r1 ${sym} 7`], [op64(R1, R2), `r1 ${sym} r2`]);
    out.push([op32(R3, -9), `w3 ${sym} -9`], [op32(R3, R2), `w3 ${sym} w2`]);
  }
  out.push(
    [b.mov(R0, 4), "r0 = 4"],
    [b.mov(R1, R2), "r1 = r2"],
    [b.mov(R1, -2147483648), "r1 = -2147483648"],
    [b.mov32(R1, -1), "w1 = -1"],
    [b.mov32(R1, R2), "w1 = w2"],
    [b.neg(R1), "r1 = -r1"],
    [b.neg32(R1), "w1 = -w1"],
    [b.movsx(R1, R2, 8), "r1 = (s8)r2"],
    [b.movsx(R1, R2, 16), "r1 = (s16)r2"],
    [b.movsx(R1, R2, 32), "r1 = (s32)r2"],
    [b.movsx32(R1, R2, 8), "w1 = (s8)w2"],
    [b.movsx32(R1, R2, 16), "w1 = (s16)w2"],
    [b.bswap16(R1), "r1 = bswap16 r1"],
    [b.bswap32(R1), "r1 = bswap32 r1"],
    [b.bswap64(R1), "r1 = bswap64 r1"],
    [b.le16(R1), "r1 = le16 r1"],
    [b.le32(R1), "r1 = le32 r1"],
    [b.le64(R1), "r1 = le64 r1"],
    [b.be16(R1), "r1 = be16 r1"],
    [b.be32(R1), "r1 = be32 r1"],
    [b.be64(R1), "r1 = be64 r1"],
    [b.addrSpaceCast(R1, R2, 0, 1), "r1 = addr_space_cast(r2, 0, 1)"],
    [b.addrSpaceCast(R1, R2, 1, 0), "r1 = addr_space_cast(r2, 1, 0)"],
    [b.ldxb(R1, R2, 4), "r1 = *(u8 *)(r2 + 4)"],
    [b.ldxh(R1, R2, -4), "r1 = *(u16 *)(r2 - 4)"],
    [b.ldxw(R1, R2, 32767), "r1 = *(u32 *)(r2 + 32767)"],
    [b.ldx("dw", R1, R10, -32768), "r1 = *(u64 *)(r10 - 32768)"],
    [b.ldxsb(R1, R2, 4), "r1 = *(s8 *)(r2 + 4)"],
    [b.ldxsh(R1, R2, 4), "r1 = *(s16 *)(r2 + 4)"],
    [b.ldxs("w", R1, R2, -4), "r1 = *(s32 *)(r2 - 4)"],
    [b.stb(R10, -1, 7), "*(u8 *)(r10 - 1) = 7"],
    [b.sth(R10, -2, 7), "*(u16 *)(r10 - 2) = 7"],
    [b.stw(R10, -4, 7), "*(u32 *)(r10 - 4) = 7"],
    [b.st("dw", R10, -8, -7), "*(u64 *)(r10 - 8) = -7"],
    [b.stxb(R1, 2, R2), "*(u8 *)(r1 + 2) = w2"],
    [b.stxh(R1, 2, R2), "*(u16 *)(r1 + 2) = w2"],
    [b.stxw(R1, 2, R2), "*(u32 *)(r1 + 2) = w2"],
    [b.stx("dw", R10, -8, R1), "*(u64 *)(r10 - 8) = r1"],
    [b.atomic.add("dw", R1, 8, R2), "lock *(u64 *)(r1 + 8) += r2"],
    [b.atomic.add("w", R1, 8, R2), "lock *(u32 *)(r1 + 8) += w2"],
    [b.atomic.or("dw", R1, 8, R2), "lock *(u64 *)(r1 + 8) |= r2"],
    [b.atomic.and("w", R1, 8, R2), "lock *(u32 *)(r1 + 8) &= w2"],
    [b.atomic.xor("dw", R1, 8, R2), "lock *(u64 *)(r1 + 8) ^= r2"],
    [b.atomic.fetchAdd("dw", R1, 8, R2), "r2 = atomic_fetch_add((u64 *)(r1 + 8), r2)"],
    [b.atomic.fetchAdd("w", R1, 8, R2), "w2 = atomic_fetch_add((u32 *)(r1 + 8), w2)"],
    [b.atomic.fetchOr("dw", R1, 8, R2), "r2 = atomic_fetch_or((u64 *)(r1 + 8), r2)"],
    [b.atomic.fetchAnd("dw", R1, 8, R2), "r2 = atomic_fetch_and((u64 *)(r1 + 8), r2)"],
    [b.atomic.fetchXor("dw", R1, 8, R2), "r2 = atomic_fetch_xor((u64 *)(r1 + 8), r2)"],
    [b.atomic.xchg("dw", R1, 8, R2), "r2 = xchg_64(r1 + 8, r2)"],
    [b.atomic.xchg("w", R1, 8, R2), "w2 = xchg32_32(r1 + 8, w2)"],
    [b.atomic.cmpxchg("dw", R1, 8, R2), "r0 = cmpxchg_64(r1 + 8, r0, r2)"],
    [b.atomic.cmpxchg("w", R1, 8, R2), "w0 = cmpxchg32_32(r1 + 8, w0, w2)"],
    [b.ldImm64(R1, 0x123456789n), "r1 = 0x123456789 ll"],
    [b.ldImm64(R1, -2n), "r1 = -2 ll"],
    [b.ldImm64(R1, 0xffffffffffffffffn), "r1 = 0xffffffffffffffff ll"],
    [b.ldImm64(R2, 0x80000000), "r2 = 0x80000000 ll"],
    [b.ldAbs("b", 4), "r0 = *(u8 *)skb[4]"],
    [b.ldAbs("h", 12), "r0 = *(u16 *)skb[12]"],
    [b.ldAbs("w", 0), "r0 = *(u32 *)skb[0]"],
    [b.ldInd("h", R3, 0), "r0 = *(u16 *)skb[r3]"],
    [b.call("bpf_map_lookup_elem"), "call 1"],
    [b.call("ktime_get_ns"), "call 5"],
    [b.call(181), "call 181"],
    [b.callx(R2), "callx r2"],
    [b.exit(), "exit"],
  );
  const conditions: [string, b.Conditional, b.Conditional][] = [
    ["==", b.jeq, b.jeq32],
    ["!=", b.jne, b.jne32],
    [">", b.jgt, b.jgt32],
    [">=", b.jge, b.jge32],
    ["<", b.jlt, b.jlt32],
    ["<=", b.jle, b.jle32],
    ["s>", b.jsgt, b.jsgt32],
    ["s>=", b.jsge, b.jsge32],
    ["s<", b.jslt, b.jslt32],
    ["s<=", b.jsle, b.jsle32],
    ["&", b.jset, b.jset32],
  ];
  for (const [sym, j64, j32] of conditions) {
    out.push([j64(R1, -5, 2), `if r1 ${sym} -5 goto +2`], [j64(R1, R2, -3), `if r1 ${sym} r2 goto -3`]);
    out.push([j32(R1, 7, 0), `if w1 ${sym} 7 goto +0`], [j32(R1, R2, 1), `if w1 ${sym} w2 goto +1`]);
  }
  out.push([b.ja(5), "goto +5"], [b.ja(-1), "goto -1"], [b.mayGoto(3), "may_goto +3"]);
  return out;
}

test("every builder constructor encodes to the bytes llvm-mc-19 assembles", { skip }, () => {
  const list = cases();
  const expected = assemble(list.map(([, text]) => text).join("\n") + "\n");
  const actual = encode(list.map(([insn]) => insn));
  assert.equal(actual.length, expected.length);
  // compare instruction by instruction so a failure names the instruction
  let at = 0;
  for (const [insn, text] of list) {
    const size = encode([insn]).length;
    assert.deepEqual(
      Buffer.from(actual.subarray(at, at + size)).toString("hex"),
      Buffer.from(expected.subarray(at, at + size)).toString("hex"),
      text,
    );
    at += size;
  }
});

test("labels, functions, gotol and local calls resolve as llvm-mc-19 resolves them", { skip }, () => {
  const p = new b.ProgramBuilder("main");
  p.emit(b.mov(R0, 0), b.ldImm64(R1, 1n))
    .label("loop")
    .emit(b.add(R0, 1), b.jlt(R0, 10, "loop"), b.jeq32(R0, 10, "done"), b.callLocal("double"))
    .emit(b.gotol("done"), b.mayGoto("done"))
    .label("done")
    .emit(b.callLocal("double"), b.exit())
    .function("double", (f) => {
      f.emit(b.jeq(R0, 0, "zero"), b.lsh(R0, 1))
        .label("zero")
        .emit(b.exit());
    });
  const text = `main:
  r0 = 0
  r1 = 1 ll
loop:
  r0 += 1
  if r0 < 10 goto loop
  if w0 == 10 goto done
  call double
  gotol done
  may_goto done
done:
  call double
  exit
double:
  if r0 == 0 goto zero
  r0 <<= 1
zero:
  exit
`;
  const built = p.build();
  assert.deepEqual(
    Buffer.from(encode(built.insns)).toString("hex"),
    Buffer.from(assemble(text)).toString("hex"),
  );
  assert.deepEqual(
    built.functions.map((f) => [f.name, f.start, f.startSlot, f.callback]),
    [
      ["main", 0, 0, false],
      ["double", 10, 11, false],
    ],
  );
});

test("a ja beyond 16 bits becomes gotol, as llvm-mc-19 encodes it", { skip }, () => {
  const n = 40000;
  const p = new b.ProgramBuilder();
  const lines = ["gotol far", "goto near"];
  p.emit(b.ja("far"), b.ja("near"));
  for (let i = 0; i < n; i++) {
    if (i === 100) {
      p.label("near");
      lines.push("near:");
    }
    p.emit(b.mov(R0, i % 100));
    lines.push(`r0 = ${i % 100}`);
  }
  p.label("far").emit(b.exit());
  lines.push("far:", "exit");
  const built = p.build();
  assert.equal(built.insns[0]!.code, 0x06);
  assert.equal(built.insns[1]!.code, 0x05);
  assert.deepEqual(encode(built.insns), assemble(lines.join("\n") + "\n"));
});
