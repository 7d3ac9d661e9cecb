/**
 * RingBuffer over an in-memory ring (backend: "memory"): the same reader code as for a kernel
 * ring, the same records, discards, positions and full-ring failures as the kernel gives.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setImmediate as turn } from "node:timers/promises";
import { u32, u64 } from "../../src/codec/index.js";
import { assemble } from "../../src/isa/asm/index.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { RingBuffer } from "../../src/ringbuf/index.js";
import { needsRoot } from "../support/privilege.js";

// each run: seq += 1; output {seq, seq * 3}; reserve 8 bytes, write seq, submit it (even seq) or
// discard it (odd seq); returns 1 when the ring had no room
const SOURCE = `.map rb type=ringbuf key=0 value=0 entries=4096
.map st type=array key=4 value=8 entries=1
r1 = 0
*(u32 *)(r10 - 4) = r1
r1 = map_fd(st)
r2 = r10
r2 += -4
call bpf_map_lookup_elem
if r0 == 0 goto fail
r7 = *(u64 *)(r0 + 0)
r7 += 1
*(u64 *)(r0 + 0) = r7
*(u64 *)(r10 - 24) = r7
r8 = r7
r8 *= 3
*(u64 *)(r10 - 16) = r8
r1 = map_fd(rb)
r2 = r10
r2 += -24
r3 = 16
r4 = 0
call bpf_ringbuf_output
if r0 != 0 goto fail
r1 = map_fd(rb)
r2 = 8
r3 = 0
call bpf_ringbuf_reserve
if r0 == 0 goto fail
*(u64 *)(r0 + 0) = r7
r1 = r0
r2 = 0
r8 = r7
r8 &= 1
if r8 != 0 goto discard
call bpf_ringbuf_submit
r0 = 0
exit
discard:
call bpf_ringbuf_discard
r0 = 0
exit
fail:
r0 = 1
exit`;

async function scenario(backend: "kernel" | "memory") {
  using rb = BpfMap.create({ type: "ringbuf", maxEntries: 4096, backend });
  using st = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 1, backend });
  using prog = Program.load({
    type: "socket_filter",
    instructions: assemble(SOURCE),
    maps: { rb, st },
    backend,
  });
  using ring = RingBuffer.open(rb);
  const run = (n: number) => {
    let failed = 0;
    for (let i = 0; i < n; i++) failed += prog.testRun({ data: new Uint8Array(20) }).retval;
    return failed;
  };
  const hex = (r: { copy(): Uint8Array }) => Buffer.from(r.copy()).toString("hex");
  const consumed: string[] = [];
  run(5);
  const n = ring.consume((r) => consumed.push(hex(r)));
  // fill it: nobody drains
  const failed = run(200);
  const pendingFull = ring.pending;
  const afterFull: string[] = [];
  ring.consume((r) => afterFull.push(hex(r)));
  // on the event loop
  const heard: string[] = [];
  ring.start((r) => heard.push(hex(r)));
  run(3);
  for (let i = 0; i < 5 && heard.length < 5; i++) await turn();
  ring.stop();
  // a for-await loop
  run(2);
  const iterated: string[] = [];
  for await (const r of ring.records()) {
    iterated.push(Buffer.from(r).toString("hex"));
    if (iterated.length === 3) break;
  }
  return {
    n,
    consumed,
    failed,
    pendingFull,
    afterFull: afterFull.length,
    lastFull: afterFull.at(-1),
    heard,
    iterated,
    discarded: ring.discarded,
    delivered: ring.delivered,
    pending: ring.pending,
  };
}

test("a RingBuffer reads a memory ring as it reads the kernel's", async (t) => {
  const memory = await scenario("memory");
  assert.equal(memory.n, 7, "five outputs and the two even reserves");
  assert.deepEqual(memory.consumed.slice(0, 3), [
    "01000000000000000300000000000000",
    "02000000000000000600000000000000",
    "0200000000000000",
  ]);
  assert.ok(memory.failed > 0, "the undrained ring filled up and the program saw it fail");
  assert.ok(memory.heard.length >= 4, `start() delivered on the event loop: ${memory.heard.length}`);
  assert.equal(memory.iterated.length, 3, "records() gave records");
  if (!needsRoot(t)) return;
  const kernel = await scenario("kernel");
  assert.deepEqual(memory, kernel, "the kernel's ring gives the same");
});
