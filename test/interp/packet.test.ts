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
import { BpfError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";
import { runOutcome } from "../support/testrun.js";

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
            const k = runOutcome(() => p.kernel.testRun({ data }));
            const m = runOutcome(() => p.memory.testRun({ data }));
            assert.deepEqual(m, k, `${p.type} on ${Buffer.from(data).toString("hex")}`);
            if ("out" in k) assert.ok(/^0{28}/.test(k.out), "the kernel zeroes the Ethernet header");
          }
          using kw = Program.load({ type: "sched_cls", instructions: assemble(writer(at, value)) });
          using mw = Program.load({
            type: "sched_cls",
            instructions: assemble(writer(at, value)),
            backend: "memory",
          });
          assert.deepEqual(
            runOutcome(() => mw.testRun({ data })),
            runOutcome(() => kw.testRun({ data })),
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

test("a packet that says IPv4 or IPv6 but is too short for that header: refused alike by the kernel and the interpreter, with why", (t) => {
  if (!needsRoot(t)) return;
  // the kernel's own answer is the oracle (a 2026 fix of net/bpf/test_run.c, in the stable kernels too)
  const returnZero = "r0 = 0\nexit";
  const packet = (ethertype: number, after: number) => {
    const b = Buffer.alloc(14 + after);
    b.writeUInt16BE(ethertype, 12);
    return b;
  };
  for (const type of ["socket_filter", "sched_cls", "cgroup_skb"] as const) {
    using kernel = Program.load({ type, instructions: assemble(returnZero) });
    using memory = Program.load({ type, instructions: assemble(returnZero), backend: "memory" });
    for (const [ethertype, header, ip] of [
      [0x0800, 20, "IPv4"],
      [0x86dd, 40, "IPv6"],
    ] as const) {
      for (const after of [0, 1, header - 1]) {
        for (const [side, p] of [
          ["kernel", kernel],
          ["memory", memory],
        ] as const) {
          assert.throws(
            () => p.testRun({ data: packet(ethertype, after) }),
            (e: unknown) =>
              e instanceof BpfError &&
              e.errnoName === "EINVAL" &&
              e.message.includes(`says ${ip}`) &&
              e.message.includes(`${after} bytes follow the Ethernet header`),
            `${type} (${side}): ${ip} with ${after} bytes after the Ethernet header is refused, saying why`,
          );
        }
      }
      // the header whole, and another Ethernet type as short: both run
      for (const data of [packet(ethertype, header), packet(0x0806, 1)])
        assert.deepEqual(
          runOutcome(() => memory.testRun({ data })),
          runOutcome(() => kernel.testRun({ data })),
          `${type}: ${data.toString("hex")} runs on both`,
        );
    }
  }
  // XDP's test run reads no addresses: a short IPv4 packet runs
  using xdp = Program.load({ type: "xdp", instructions: assemble(returnZero) });
  assert.equal(xdp.testRun({ data: packet(0x0800, 1) }).retval, 0, "xdp runs a short IPv4 packet");
});
