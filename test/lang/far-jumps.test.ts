/**
 * Conditional jumps farther than a 16-bit offset reaches (32,767 instructions): the compiler
 * rewrites them through `gotol` (src/lang/relax.ts) instead of failing to build. A 3,000-case
 * switch (about 40,000 instructions) compiles, loads, and runs each case the key picks under
 * BPF_PROG_TEST_RUN, the near cases and the far ones alike; and the rewrite's two forms (the
 * condition inverted, and for BPF_JSET and may_goto, which have no inverse, a near jump to a far
 * `gotol`), forward and back, are run in the kernel on both outcomes of the condition.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BpfMap, Program, ProgramRejectedError, u32, u64 } from "../../src/index.js";
import {
  add,
  call,
  div,
  div32,
  exit,
  ja,
  jeq,
  jeq32,
  jge,
  jge32,
  jgt,
  jgt32,
  jle,
  jle32,
  jlt,
  jlt32,
  jne,
  jne32,
  jset,
  jset32,
  jsge,
  jsge32,
  jsgt,
  jsgt32,
  jsle,
  jsle32,
  jslt,
  jslt32,
  ldAbs,
  ldMapFd,
  ldx,
  mayGoto,
  mod,
  mov,
  ProgramBuilder,
  R0,
  R1,
  R2,
  R3,
  R4,
  R6,
  R10,
  type Register,
  st,
  sub,
} from "../../src/isa/builder/index.js";
import type { Instruction } from "../../src/isa/insn.js";
import type { Item } from "../../src/lang/function.js";
import { compile } from "../../src/lang/index.js";
import { relaxFarJumps } from "../../src/lang/relax.js";
import { needsRoot } from "../support/privilege.js";

const CASES = 3000;

/** A tc program switching on the big-endian u16 at offset 20: case 3i+1 counts into counts[i] and returns 1000 + i. */
function farSwitch(cases: number): string {
  const body = Array.from(
    { length: cases },
    (_, i) =>
      `    case ${i * 3 + 1}: { const c = counts.lookup(${i}); if (c !== null) atomicAdd(c.value, 1); return ${1000 + i}; }`,
  ).join("\n");
  return `import { atomicAdd, map, program, u32, u64 } from "rawbpf";
const counts = map("array", { key: u32, value: u64, maxEntries: ${cases} });
export const far = program("sched_cls", (ctx) => {
  const key = ctx.be16(20);
  if (key === null) return 1;
  switch (key) {
${body}
    default: return 2;
  }
});
`;
}

const GOTOL = 0x06; // BPF_JMP32 | BPF_JA

test("a switch longer than a conditional jump reaches compiles through gotol, and each case runs as the source says", (t) => {
  const compiled = compile(farSwitch(CASES), { file: "far.ts" });
  const program = compiled.programs[0]!;
  assert.ok(
    program.insns.length > 32768,
    `${program.insns.length} instructions: longer than a 16-bit offset reaches`,
  );
  const gotols = program.insns.filter((i) => i.code === GOTOL).length;
  assert.ok(gotols > 0, "far jumps go through gotol");
  if (!needsRoot(t)) return;
  using counts = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: CASES, name: "counts" });
  using prog = Program.load({ type: "sched_cls", name: "far", instructions: program, maps: { counts } });
  const packet = (key: number) => {
    const b = Buffer.alloc(64);
    b.writeUInt16BE(key, 20);
    return b;
  };
  // the first cases, the middle and the last (whose bodies lie tens of thousands of instructions on)
  for (const i of [0, 1, 2, 999, 1500, 2500, 2998, CASES - 1]) {
    const before = counts.get(i)!;
    const retval = prog.testRun({ data: packet(i * 3 + 1) }).retval;
    assert.equal(retval, 1000 + i, `key ${i * 3 + 1} (case ${i}) returned ${retval}`);
    assert.equal(counts.get(i), before + 1n, `counts[${i}] went up by one`);
  }
  // keys no case has, below, between and above the cases
  for (const key of [0, 2, 4500, CASES * 3 + 1, 65535])
    assert.equal(prog.testRun({ data: packet(key) }).retval, 2, `key ${key} falls to default`);
  assert.equal(prog.testRun({ data: Buffer.alloc(21) }).retval, 1, "a packet too short for the key");
});

/** An item of an instruction. */
const op = (insn: Instruction): Item => ({ kind: "insn", insn });
const at = (name: string): Item => ({ kind: "label", name });
/** `r3 += 1`, `count` times: distance. */
const filler = (count: number): Item[] => Array.from({ length: count }, () => op(add(R3, 1)));

/** How many instructions the items hold. */
const insnCount = (items: readonly Item[]) => items.filter((i) => i.kind === "insn").length;

/** Builds items as they are (no rewrite) into a socket filter. */
function build(items: readonly Item[]) {
  const b = new ProgramBuilder("far");
  for (const item of items) {
    if (item.kind === "insn") b.emit(item.insn);
    else if (item.kind === "label") b.label(item.name);
  }
  return b.build();
}

/** Builds relaxed items into a socket filter and runs it on packets of each length: the return values. */
function runRelaxed(
  t: Parameters<typeof needsRoot>[0],
  items: Item[],
  lengths: number[],
  far = true,
): number[] | undefined {
  const relaxed = relaxFarJumps(items);
  if (far) assert.notEqual(relaxed, items, "the far jump was rewritten");
  else assert.equal(relaxed, items, "a near jump is left as it is");
  const b = new ProgramBuilder("far");
  for (const item of relaxed) {
    if (item.kind === "insn") b.emit(item.insn);
    else if (item.kind === "label") b.label(item.name);
  }
  const built = b.build();
  assert.equal(
    built.insns.some((i) => i.code === GOTOL),
    far,
    far ? "the far jump goes through gotol" : "no gotol",
  );
  if (!needsRoot(t)) return undefined;
  using prog = Program.load({ type: "socket_filter", name: "far", instructions: built });
  return lengths.map((n) => prog.testRun({ data: Buffer.alloc(n) }).retval);
}

/**
 * A socket filter around `jump` (whose label is "target"): r2 = skb->len (then `adjust`), r0 = 1,
 * r3 = 0, and then, forward, `JUMP; <distance × r3 += 1>; exit; target: r0 = 2; exit` (the target
 * distance + 1 ahead of the jump), or back, `goto start; target: r0 = 2; exit; start: <distance ×
 * r3 += 1>; JUMP; exit` (distance + 3 behind it).
 */
function around(jump: Instruction, forward: boolean, distance: number, adjust: Item[] = []): Item[] {
  const head = [op(ldx("w", R2, R1, 0)), ...adjust, op(mov(R0, 1)), op(mov(R3, 0))];
  const target = [at("target"), op(mov(R0, 2)), op(exit())];
  return forward
    ? [...head, op(jump), ...filler(distance), op(exit()), ...target]
    : [...head, op(ja("start")), ...target, at("start"), ...filler(distance), op(jump), op(exit())];
}

test("far jumps of each kind, forward and back, take the branch the condition says", (t) => {
  // an inverted condition (len > 100) and one without an inverse (len & 1), on lengths either side
  const lengths = [60, 61, 120, 121];
  for (const [name, forward] of [
    ["forward", true],
    ["backward", false],
  ] as const) {
    const gt = runRelaxed(t, around(jgt(R2, 100, "target"), forward, 40000), lengths);
    if (gt !== undefined) assert.deepEqual(gt, [1, 1, 2, 2], `${name} if len > 100`);
    const set = runRelaxed(t, around(jset(R2, 1, "target"), forward, 40000), lengths);
    if (set !== undefined) assert.deepEqual(set, [1, 2, 1, 2], `${name} if len & 1`);
  }
  // may_goto falls through while the loop budget lasts: the verifier takes both paths, the run the first
  const may = runRelaxed(t, around(mayGoto("target"), true, 40000), lengths);
  if (may !== undefined) assert.deepEqual(may, [1, 1, 1, 1], "may_goto falls through");
});

test("every condition, 64- and 32-bit, far forward and back, decides as the same jump near", (t) => {
  // r2 = skb->len - 100, where a socket filter's skb->len is the packet's without its 14-byte
  // Ethernet header: -54, -1, 0, 1, 66 (as signed and as unsigned, as a 64-bit and a 32-bit
  // value) against 1, then the condition's jump, far (40,000 instructions) or near (10)
  const lengths = [60, 113, 114, 115, 180];
  const program = (jump: Instruction, forward: boolean, distance: number) =>
    around(jump, forward, distance, [op(sub(R2, 100))]);
  type Condition = (dst: Register, value: number, to: string) => Instruction;
  const conditions: [string, Condition, Condition][] = [
    ["jeq", jeq, jeq32],
    ["jne", jne, jne32],
    ["jgt", jgt, jgt32],
    ["jge", jge, jge32],
    ["jlt", jlt, jlt32],
    ["jle", jle, jle32],
    ["jsgt", jsgt, jsgt32],
    ["jsge", jsge, jsge32],
    ["jslt", jslt, jslt32],
    ["jsle", jsle, jsle32],
    ["jset", jset, jset32],
  ];
  let compared = 0;
  for (const [name, wide, narrow] of conditions) {
    for (const [width, make] of [
      ["", wide],
      ["32", narrow],
    ] as const) {
      // against 1 (each condition, signed or not, is true on some of the values and false on others)
      const value = 1;
      for (const forward of [true, false]) {
        const what = `${name}${width} ${forward ? "forward" : "back"}`;
        const near = runRelaxed(t, program(make(R2, value, "target"), forward, 10), lengths, false);
        const farItems = program(make(R2, value, "target"), forward, 40000);
        // the condition inverted over a gotol: one instruction more; jset has no inverse: two
        const grown = insnCount(relaxFarJumps(farItems)) - insnCount(farItems);
        assert.equal(grown, name === "jset" ? 2 : 1, `${what}: instructions the rewrite adds`);
        const far = runRelaxed(t, farItems, lengths);
        if (near === undefined || far === undefined) return;
        assert.deepEqual(far, near, `${what}: far and near decide alike on r2 = len - 100`);
        assert.equal(new Set(near).size, 2, `${what}: the lengths take both branches`);
        compared++;
      }
    }
  }
  assert.equal(compared, conditions.length * 4);
});

test("the longest jumps that fit are left as they are, one more is rewritten, and both run", (t) => {
  const lengths = [60, 200];
  const forward = (distance: number) => around(jgt(R2, 100, "target"), true, distance);
  const backward = (distance: number) => around(jgt(R2, 100, "target"), false, distance);
  for (const [what, items, far] of [
    ["32,767 ahead", forward(32766), false],
    ["32,768 ahead", forward(32767), true],
    ["32,768 behind", backward(32765), false],
    ["32,769 behind", backward(32766), true],
  ] as const) {
    const ran = runRelaxed(t, items, lengths, far);
    if (ran !== undefined) assert.deepEqual(ran, [1, 2], `a jump ${what}`);
  }
});

test("jumps over what the kernel makes longer as it loads are rewritten before it refuses them", (t) => {
  // each filler is well inside a 16-bit offset as written, and past it once the kernel has
  // rewritten it: the same program without the rewrite is refused ("cannot be patched due to
  // 16-bit range"), which shows the kernel's growth; with it, it loads and runs
  using array = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 1, name: "far_array" });
  const kinds: [string, Item[], Item[]][] = [
    // an array map lookup, which the kernel inlines
    [
      "map lookups",
      [op(st("w", R10, -4, 0))],
      Array.from({ length: 6000 }, () => [
        op(ldMapFd(R1, { name: "far_array" })),
        op(mov(R2, R10)),
        op(add(R2, -4)),
        op(call("bpf_map_lookup_elem")),
      ]).flat(),
    ],
    // __sk_buff.ifindex (offset 40), which the kernel reads through skb->dev
    ["context fields", [op(mov(R6, R1))], Array.from({ length: 15000 }, () => op(ldx("w", R3, R6, 40)))],
    // a division by a register, which the kernel guards against a zero divisor
    ["divisions", [op(mov(R4, 3))], Array.from({ length: 12000 }, () => op(div(R3, R4)))],
    ["32-bit divisions", [op(mov(R4, 3))], Array.from({ length: 12000 }, () => op(div32(R3, R4)))],
    // a modulo by a register: guarded too (two instructions each)
    ["modulos", [op(mov(R4, 3))], Array.from({ length: 20000 }, () => op(mod(R3, R4)))],
    // ld_abs, which the kernel turns into a bounds check and a load (or a call)
    ["ld_abs", [op(mov(R6, R1))], Array.from({ length: 6000 }, () => op(ldAbs("b", 0)))],
  ];
  for (const [what, setup, body] of kinds) {
    // a far `goto` over one kind (the weights are the same for it)
    for (const jump of what === "context fields" ? (["if", "goto"] as const) : (["if"] as const)) {
      // r2 = len; r0 = 1; r3 = 0; SETUP; if r2 > 100 goto target (or: if r2 > 100 goto body;
      // goto target; body:); BODY; r0 = 1; exit; target: r0 = 2; exit
      const items: Item[] = [
        op(ldx("w", R2, R1, 0)),
        op(mov(R3, 0)),
        ...setup,
        ...(jump === "if"
          ? [op(jgt(R2, 100, "target"))]
          : [op(jgt(R2, 100, "body")), op(ja("target")), at("body")]),
        ...body,
        op(mov(R0, 1)),
        op(exit()),
        at("target"),
        op(mov(R0, 2)),
        op(exit()),
      ];
      const plain = build(items);
      assert.ok(plain.insns.length < 32767, `${what}: ${plain.insns.length} instructions as written`);
      const relaxed = relaxFarJumps(items);
      assert.notEqual(relaxed, items, `${what} (${jump}): the jump is rewritten`);
      if (!needsRoot(t)) return;
      const maps = { far_array: array };
      assert.throws(
        () => Program.load({ type: "socket_filter", name: "far", instructions: plain, maps }).close(),
        (e: unknown) => e instanceof ProgramRejectedError && /16-bit range/.test(e.message),
        `${what} (${jump}): without the rewrite the kernel cannot patch the jump`,
      );
      using prog = Program.load({ type: "socket_filter", name: "far", instructions: build(relaxed), maps });
      // skb->len is the packet's without its 14-byte Ethernet header
      const got = [60, 200].map((n) => prog.testRun({ data: Buffer.alloc(n) }).retval);
      // ld_abs of a byte the packet has goes on; the jump decides
      assert.deepEqual(got, jump === "if" ? [1, 2] : [2, 1], `${what} (${jump})`);
    }
  }
});

test("a function every jump of which reaches is left as it was", () => {
  const items: Item[] = [op(mov(R0, 1)), op(jgt(R0, 0, "end")), ...filler(30000), at("end"), op(exit())];
  assert.equal(relaxFarJumps(items), items);
});
