/**
 * C twins: a TypeScript program and the same program in C (clang-19 -target bpf -O2, compiled
 * here) run under BPF_PROG_TEST_RUN on the same fast-check packets, with identical return values
 * and map contents. The xlated sizes of both are printed (the 1.3x goal is measured, not
 * asserted).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { BpfMap, Program, u32, u64 } from "../../src/index.js";
import { compile } from "../../src/lang/index.js";
import { needsRoot } from "../support/privilege.js";
import { clangPresent, clangSection } from "./clang.js";
import { TWINS } from "./twin-programs.js";

/** The packets-per-protocol twin (test/lang/twin-programs.ts). */
const PROTOCOLS = TWINS.find((x) => x.name === "protocols")!;

test("packets per protocol: the TypeScript program and its C twin agree on every packet", (t) => {
  if (!needsRoot(t)) return;
  if (!clangPresent()) {
    if (process.env.CI === "true") throw new Error("clang-19 and llvm-objcopy-19 are needed");
    t.skip("clang-19 not installed");
    return;
  }
  const ts = compile(PROTOCOLS.ts, { file: "protocols.ts" }).programs[0]!;
  const c = clangSection(PROTOCOLS.c, "xdp");
  using tsCounts = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 256, name: "counts" });
  using cCounts = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 256, name: "counts" });
  using tsProg = Program.load({
    type: "xdp",
    name: "protocols",
    instructions: ts,
    maps: { counts: tsCounts },
  });
  using cProg = Program.load({ type: "xdp", name: "protocols", instructions: c, maps: { counts: cCounts } });
  t.diagnostic(
    `xlated: TypeScript ${tsProg.info().xlatedLength / 8} instructions, clang -O2 ${cProg.info().xlatedLength / 8}`,
  );
  const packet = fc
    .tuple(
      fc.uint8Array({ minLength: 0, maxLength: 40 }),
      fc.boolean(),
      fc.constantFrom(1, 6, 17, 47, 58, 132, 255),
    )
    .map(([bytes, ip, proto]) => {
      const b = Buffer.from(bytes);
      if (ip && b.length >= 14) b.writeUInt16BE(0x0800, 12);
      if (b.length >= 24 && ip) b[23] = proto;
      return b;
    });
  fc.assert(
    fc.property(fc.array(packet, { minLength: 1, maxLength: 20 }), (packets) => {
      for (const p of packets) {
        // test runs need at least an Ethernet header; shorter packets are padded by neither side
        const data = p.length >= 14 ? p : Buffer.concat([p, Buffer.alloc(14 - p.length)]);
        const a = tsProg.testRun({ data }).retval;
        const b = cProg.testRun({ data }).retval;
        assert.equal(a, b, `retval for ${data.toString("hex")}: TypeScript ${a}, C ${b}`);
      }
      for (let k = 0; k < 256; k++) assert.equal(tsCounts.get(k), cCounts.get(k), `counts[${k}]`);
    }),
    { numRuns: 25, seed: 7 },
  );
});
