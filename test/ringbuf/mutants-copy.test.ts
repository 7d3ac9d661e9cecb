/**
 * Every byte of a record, through each of the reader's copy paths, found by mutation testing
 * (npm run mutate -- src/ringbuf): the other tests' records are mostly zero bytes (small u64s), so
 * a word copied from the wrong place went unseen. Here each byte of a record is its own non-zero
 * value (byte i is i + 1), for lengths on both sides of the straight-line copy (32 bytes), the
 * loop (256) and the one-`set` copy; and a zero-length record (bpf_ringbuf_output takes size 0) is
 * a committed record like any other, not one still being written.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { assemble } from "../../src/isa/asm/index.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { RingBuffer } from "../../src/ringbuf/index.js";
import { needsRoot } from "../support/privilege.js";

/** The bytes 1, 2, 3 ... `n` (mod 256, never 0 below 256). */
const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i % 255) + 1);

/**
 * A socket filter that writes pattern(STACK) on its stack and outputs its first `size` bytes to
 * `rb` with bpf_ringbuf_output.
 */
function outputProgram(rb: BpfMap, size: number): Program {
  const STACK = 264;
  const bytes = pattern(STACK);
  const lines = [`.map rb type=ringbuf key=0 value=0 entries=${rb.maxEntries}`];
  for (let at = 0; at < STACK; at += 8) {
    const word = Buffer.from(bytes.subarray(at, at + 8)).readBigUInt64LE(0);
    lines.push(`r1 = 0x${word.toString(16)} ll`, `*(u64 *)(r10 - ${STACK - at}) = r1`);
  }
  lines.push(
    "r1 = map_fd(rb)",
    "r2 = r10",
    `r2 += -${STACK}`,
    `r3 = ${size}`,
    "r4 = 0",
    "call bpf_ringbuf_output",
    "r0 = 0",
    "exit",
  );
  return Program.load({ type: "socket_filter", instructions: assemble(lines.join("\n")), maps: { rb } });
}

test("records of every length class come out byte for byte; a zero-length one too", (t) => {
  if (!needsRoot(t)) return;
  using rb = BpfMap.create({ type: "ringbuf", maxEntries: 4096 });
  using ring = RingBuffer.open(rb);
  const sizes = [0, 5, 21, 28, 31, 32, 33, 63, 255, 256, 257, 264, 0, 17];
  // the ring's positions go around its end a few times: the records are copied across the end too
  for (let round = 0; round < 4; round++) {
    for (const size of sizes) {
      using program = outputProgram(rb, size);
      assert.equal(program.testRun({ data: Buffer.alloc(14) }).retval, 0);
    }
    const got: Uint8Array[] = [];
    const n = ring.consume((r) => {
      got.push(r.subarray().slice());
    });
    assert.equal(n, sizes.length, `round ${round}: every record, the zero-length ones included`);
    assert.deepEqual(
      got.map((g) => g.length),
      sizes,
      `round ${round}: lengths`,
    );
    for (const [i, size] of sizes.entries())
      assert.deepEqual(got[i], pattern(size), `round ${round}: record ${i} (${size} bytes)`);
    assert.equal(ring.pending, 0, "all consumed");
  }
});

test("records(): a zero-length record is taken like the others, byte for byte", async (t) => {
  if (!needsRoot(t)) return;
  using rb = BpfMap.create({ type: "ringbuf", maxEntries: 4096 });
  using ring = RingBuffer.open(rb);
  const sizes = [0, 33, 0, 7];
  for (const size of sizes) {
    using program = outputProgram(rb, size);
    assert.equal(program.testRun({ data: Buffer.alloc(14) }).retval, 0);
  }
  const got: Uint8Array[] = [];
  // every record is in the ring before the loop starts: the loop never has to wait, and a reader
  // that stops at a zero-length record (as if it were still being written) is aborted, not hung
  for await (const record of ring.records({ signal: AbortSignal.timeout(10_000) })) {
    got.push(record);
    if (got.length === sizes.length) break;
  }
  assert.deepEqual(
    got,
    sizes.map((size) => pattern(size)),
  );
  assert.equal(ring.pending, 0, "all consumed");
});
