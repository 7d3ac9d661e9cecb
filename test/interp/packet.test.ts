/**
 * Packet output against the kernel: random packets through BPF_PROG_TEST_RUN and through the
 * interpreter give the same data out, including the Ethernet header the kernel gives back zeroed
 * for the types that start at the network header (socket_filter, cgroup_skb), and the writes of a
 * sched_cls program through direct packet access.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { assemble } from "../../src/isa/asm/index.js";
import { Program } from "../../src/program/program.js";
import { needsRoot } from "../support/privilege.js";

const RUNS = Number(process.env.DIFF_RUNS ?? 1500) / 10;

// returns the low bit of the length the program sees (socket_filter, cgroup_skb: 0 or 1)
const READER = `r2 = *(u32 *)(r1 + 0)
r0 = r2
r0 &= 1
exit`;

/** A sched_cls program that writes `value` at packet offset `at` (and at[+1] = at's old byte) when in bounds. */
const writer = (at: number, value: number) => `r2 = *(u32 *)(r1 + 76)
r3 = *(u32 *)(r1 + 80)
r4 = r2
r4 += ${at + 2}
if r4 > r3 goto out
r5 = *(u8 *)(r2 + ${at})
*(u8 *)(r2 + ${at}) = ${value}
*(u8 *)(r2 + ${at + 1}) = r5
out:
r0 = *(u32 *)(r1 + 0)
exit`;

test("packets come out of the interpreter as out of the kernel's test run", (t) => {
  if (!needsRoot(t)) return;
  const progs = (["socket_filter", "cgroup_skb"] as const).map((type) => ({
    type,
    kernel: Program.load({ type, instructions: assemble(READER) }),
    memory: Program.load({ type, instructions: assemble(READER), backend: "memory" }),
  }));
  try {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 14, maxLength: 96 }),
        fc.nat(100),
        fc.integer({ min: 0, max: 255 }),
        (data, at, value) => {
          for (const p of progs) {
            const k = p.kernel.testRun({ data });
            const m = p.memory.testRun({ data });
            assert.deepEqual(
              { retval: m.retval, out: m.dataOut.toString("hex") },
              { retval: k.retval, out: k.dataOut.toString("hex") },
              `${p.type} on ${Buffer.from(data).toString("hex")}`,
            );
            assert.ok(
              k.dataOut.subarray(0, 14).every((b) => b === 0),
              "the kernel zeroes the Ethernet header",
            );
          }
          using kw = Program.load({ type: "sched_cls", instructions: assemble(writer(at, value)) });
          using mw = Program.load({
            type: "sched_cls",
            instructions: assemble(writer(at, value)),
            backend: "memory",
          });
          const k = kw.testRun({ data });
          const m = mw.testRun({ data });
          assert.deepEqual(
            { retval: m.retval, out: m.dataOut.toString("hex") },
            { retval: k.retval, out: k.dataOut.toString("hex") },
            `sched_cls writing ${value} at ${at} of ${Buffer.from(data).toString("hex")}`,
          );
        },
      ),
      { numRuns: RUNS },
    );
  } finally {
    for (const p of progs) {
      p.kernel.close();
      p.memory.close();
    }
  }
});
