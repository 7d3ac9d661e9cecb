/**
 * One large function: a generated 400-case switch (about 5,200 instructions after the optimizer)
 * compiles, with and without the optimizer, and the kernel's verifier loads both. Both then run
 * under BPF_PROG_TEST_RUN on packets picked for a case, a miss and a short packet; the return values
 * and the map must match what the source says (and each other). The optimizer used to take seconds
 * on a function of this size (issue 12): no time is asserted here, but a slow optimizer shows in
 * this file's duration and in `npm run bench -- compile`.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BpfMap, Program, u32, u64 } from "../../src/index.js";
import { compile } from "../../src/lang/index.js";
import { needsRoot } from "../support/privilege.js";
import { largeSwitch } from "./large-program.js";

const CASES = 400;
const XDP_DROP = 1;
const XDP_PASS = 2;

/** A 40-byte packet with `proto` at offset 23 and `port` (big-endian) at 36. */
function packet(proto: number, port: number): Buffer {
  const b = Buffer.alloc(40);
  b[23] = proto;
  b.writeUInt16BE(port, 36);
  return b;
}

test("a 400-case switch compiles to one large function, with and without the optimizer", () => {
  const source = largeSwitch(CASES);
  const opt = compile(source, { file: "large.ts" });
  const plain = compile(source, { file: "large.ts", optimize: false });
  const n = opt.programs[0]!.insns.length;
  assert.ok(n > 4000, `the optimized function has ${n} instructions, expected a large one (> 4000)`);
  assert.ok(
    n <= plain.programs[0]!.insns.length,
    `the optimizer made the function larger: ${n} > ${plain.programs[0]!.insns.length}`,
  );
});

test("the kernel loads the large function and runs it as the source says", (t) => {
  if (!needsRoot(t)) return;
  const source = largeSwitch(CASES);
  using counts = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: CASES, name: "counts" });
  // (proto, port, expected return, the count that goes up or -1)
  const cases: [number, number, number, number][] = [
    [1, 0, XDP_DROP, 0],
    [1, 7, XDP_PASS, 0],
    [4, 1, XDP_DROP, 1],
    [253, 84, XDP_DROP, 84],
    [253, 85, XDP_PASS, 84],
    [2, 0, XDP_PASS, -1],
    [255, 0, XDP_PASS, -1],
  ];
  for (const optimize of [true, false]) {
    const compiled = compile(source, { file: "large.ts", optimize });
    using prog = Program.load({
      type: "xdp",
      name: "large",
      instructions: compiled.programs[0]!,
      maps: { counts },
    });
    for (const [proto, port, want, slot] of cases) {
      const before = slot >= 0 ? counts.get(slot)! : 0n;
      const retval = prog.testRun({ data: packet(proto, port) }).retval;
      assert.equal(retval, want, `optimize=${optimize}: proto ${proto}, port ${port} returned ${retval}`);
      if (slot >= 0)
        assert.equal(
          counts.get(slot),
          before + 1n,
          `optimize=${optimize}: counts[${slot}] did not go up by one`,
        );
    }
    // a packet too short for the protocol byte
    const short = prog.testRun({ data: Buffer.alloc(20) }).retval;
    assert.equal(short, XDP_PASS, `optimize=${optimize}: a 20-byte packet returned ${short}`);
  }
});
