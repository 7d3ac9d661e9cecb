import assert from "node:assert/strict";
import { test } from "node:test";
import { AsmErrors, assemble } from "../../src/isa/asm/index.js";
import { encode } from "../../src/isa/encode.js";
import { asm } from "../../src/isa/template.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { needsRoot } from "../support/privilege.js";

function errorsOf(source: string): AsmErrors {
  try {
    assemble(source, { file: "bad.s" });
  } catch (e) {
    assert.ok(e instanceof AsmErrors, String(e));
    return e;
  }
  assert.fail("the source assembled");
}

test("every problem of a file is reported at once, each at its line and column with a caret", () => {
  const e = errorsOf(
    [
      "start:", // 1
      "  r11 = 1", // 2 register out of range
      "  r1 = 0x100000000", // 3 immediate does not fit
      "  frob r1", // 4 unknown instruction
      "  goto nowhere", // 5 undefined label
      "start:", // 6 duplicate label
      "  .section foo", // 7 unknown directive
      "  *(u64 *)(r10 - 40000) = r1", // 8 offset does not fit
      "  call not_a_helper", // 9 unknown helper
      "  exit",
    ].join("\n"),
  );
  assert.deepEqual(
    e.errors.map((x) => [x.line, x.column]),
    [
      [2, 3],
      [3, 8],
      [4, 3],
      [5, 8],
      [6, 1],
      [7, 3],
      [8, 16],
      [9, 8],
    ],
  );
  assert.match(e.errors[0]!.reason, /register r11 does not exist/);
  assert.match(e.errors[1]!.reason, /does not fit in 32 bits.*ll/);
  assert.match(e.errors[2]!.reason, /unknown instruction 'frob'/);
  assert.match(e.errors[3]!.reason, /label 'nowhere' is not defined/);
  assert.match(e.errors[4]!.reason, /already defined on line 1/);
  assert.match(e.errors[5]!.reason, /unknown directive '.section'/);
  assert.match(e.errors[6]!.reason, /signed 16-bit/);
  assert.match(e.errors[7]!.reason, /neither a function of this file nor a helper/);
  assert.match(e.message, /^8 errors in bad.s\nbad.s:2:3: error: register r11/);
  assert.match(e.errors[3]!.message, /\n {4} {2}goto nowhere\n {4} {7}\^$/);
});

test("a jump beyond the reach of goto is refused at its line and gotol reaches it", () => {
  const body = "r0 = 0\n".repeat(40000);
  const e = errorsOf(`goto far\n${body}far:\nexit`);
  assert.equal(e.errors.length, 1);
  assert.equal(e.errors[0]!.line, 1);
  assert.match(e.errors[0]!.reason, /use gotol/);
  const p = assemble(`gotol far\n${body}far:\nexit`);
  assert.equal(p.insns[0]!.imm, 40000);
});

test("directives make a whole program: type, licence, maps, read-only data, functions, line info", () => {
  const p = assemble(
    [
      ".type xdp",
      '.license "Dual MIT/GPL"',
      ".map counters type=array key=4 value=8 entries=4",
      '.rodata greeting "hi\\n"',
      ".rodata bytes 1, 2, 0xff",
      "  r1 = map_fd(counters)",
      "  r2 = map_value(greeting) + 1",
      "  r3 = bytes",
      "  r4 = cb",
      "  call helper_fn",
      "  exit",
      ".func helper_fn",
      "  r0 = 0",
      "  exit",
      ".callback cb",
      "  r0 = 1",
      "  exit",
    ].join("\n"),
  );
  assert.equal(p.programType, "xdp");
  assert.equal(p.license, "Dual MIT/GPL");
  assert.deepEqual(
    p.maps.map((m) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries, m.flags, m.freeze]),
    [
      ["counters", "array", 4, 8, 4, 0, undefined],
      [".rodata", "array", 4, 16, 1, 0x80, true],
    ],
  );
  assert.deepEqual([...p.rodata!.bytes], [104, 105, 10, 0, 0, 0, 0, 0, 1, 2, 255, 0, 0, 0, 0, 0]);
  assert.deepEqual(p.rodata!.symbols, { greeting: { offset: 0, size: 4 }, bytes: { offset: 8, size: 3 } });
  const [fd, value, bytes, fn, call] = p.insns;
  assert.deepEqual([fd!.src, fd!.ref], [1, { kind: "map", name: "counters" }]);
  assert.deepEqual([value!.src, value!.imm2, value!.ref], [2, 1, { kind: "map", name: ".rodata" }]);
  assert.deepEqual([bytes!.src, bytes!.imm2], [2, 8]);
  // slots: 0,2,4,6 are ld_imm64; call at 8; exit 9; helper_fn at 10; cb at 12
  assert.deepEqual([fn!.src, fn!.imm], [4, 12 - 7]);
  assert.deepEqual([call!.src, call!.imm], [1, 10 - 9]);
  assert.deepEqual(
    p.functions.map((f) => [f.name, f.kind, f.slot]),
    [
      ["main", "main", 0],
      ["helper_fn", "func", 10],
      ["cb", "callback", 12],
    ],
  );
  assert.deepEqual(
    p.lineInfo.slice(0, 2).map((l) => [l.slot, l.line, l.column, l.text]),
    [
      [0, 6, 3, "r1 = map_fd(counters)"],
      [2, 7, 3, "r2 = map_value(greeting) + 1"],
    ],
  );
});

test("the uBPF dialect is detected and assembles to the same bytes as the kernel dialect", () => {
  const ubpf = assemble(
    "mov %r0, 1\nlock fetch add [%r10-8], %r1\njne %r1, 5, exit\nldxdw %r1, [%r2+8]\nexit",
  );
  const kernel = assemble(
    "r0 = 1\nr1 = atomic_fetch_add((u64 *)(r10 - 8), r1)\nif r1 != 5 goto +1\nr1 = *(u64 *)(r2 + 8)\nexit",
  );
  assert.deepEqual(encode(ubpf.insns), encode(kernel.insns));
});

// A program that the verifier accepts and that uses most instruction forms; the kernel's own
// log (level 2) prints every instruction, and re-assembling those lines must give the same bytes.
const LOG_PROGRAM = `
  r6 = r1
  *(u64 *)(r10 - 8) = 0
  r1 = 7
  lock *(u64 *)(r10 - 8) += r1
  r1 = atomic_fetch_or((u64 *)(r10 - 8), r1)
  r3 = 5
  r3 = xchg_64(r10 - 8, r3)
  r0 = 0
  r0 = cmpxchg_64(r10 - 8, r0, r1)
  *(u32 *)(r10 - 16) = 1
  w4 = 3
  lock *(u32 *)(r10 - 16) += w4
  r5 = *(u32 *)(r10 - 16)
  r5 = *(s16 *)(r10 - 16)
  r7 = (s8)r5
  w7 = (s16)w5
  r7 s/= 3
  w7 s%= -2
  r7 = be16 r7
  r7 = le32 r7
  r7 = bswap64 r7
  r7 = -r7
  w7 = -w7
  r7 s>>= 2
  r7 <<= r3
  r8 = 0x1122334455667788 ll
  if w7 s< w8 goto +1
  r7 = 1
  if r7 & 0x10 goto +0
  call bpf_get_prandom_u32
  call sub
  gotol +0
  r1 = load_acquire((u64 *)(r10 - 8))
  store_release((u64 *)(r10 - 8), r1)
  r0 = 2
  exit
sub:
  r0 = 0
  exit
`;

test("lines of the kernel's own verifier log re-assemble to the loaded bytes", (t) => {
  if (!needsRoot(t)) return;
  const p = assemble(LOG_PROGRAM);
  using prog = Program.load({ type: "xdp", instructions: p, logLevel: 2, license: "GPL" });
  const byIndex = new Map<number, string>();
  for (const line of prog.log.split("\n")) {
    const m = /^(\d+): \([0-9a-f]{2}\) /.exec(line);
    if (m !== null) byIndex.set(Number(m[1]), line);
  }
  assert.ok(byIndex.size >= p.insns.length - 2, prog.log);
  const original = encode(p.insns);
  let checked = 0;
  for (const [slot, line] of byIndex) {
    const back = encode(assemble(line, { file: "log" }).insns);
    assert.deepEqual(
      [...back],
      [...original.subarray(slot * 8, slot * 8 + back.length)],
      `slot ${slot}: ${line}`,
    );
    checked++;
  }
  assert.ok(checked >= 30);
});

test("the asm template interpolates numbers and maps, and the kernel runs the result", (t) => {
  if (!needsRoot(t)) return;
  using counters = BpfMap.create({
    type: "array",
    keySize: 4,
    valueSize: 8,
    maxEntries: 1,
    name: "counters",
  });
  const step = 5;
  const p = asm`
    *(u32 *)(r10 - 4) = 0; r2 = r10; r2 += -4
    r1 = ${counters}
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = ${step}; lock *(u64 *)(r0 + 0) += r1
  out:
    r0 = ${2}   // XDP_PASS
    exit
  `;
  using prog = Program.load({ type: "xdp", instructions: p });
  assert.equal(prog.testRun({ data: new Uint8Array(64) }).retval, 2);
  prog.testRun({ data: new Uint8Array(64) });
  const v = counters.get(new Uint8Array(4)) as Uint8Array;
  assert.equal(Buffer.from(v).readBigUInt64LE(0), 10n);
});
