/**
 * Map-of-maps (innerMap) and prog arrays on both back ends: the same user code, the same results,
 * the kernel's refusal of an inner map that does not match the template (EINVAL).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { u32, u64 } from "../../src/codec/index.js";
import { assemble } from "../../src/isa/asm/index.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import type { BpfError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";

const INNER = { type: "array", key: u32, value: u64, maxEntries: 4 } as const;

// outer[0] is an array; its element 1 gets += 5 and is returned
const LOOKUP = `.map outer type=array_of_maps key=4 value=4 entries=2
r6 = 0
*(u32 *)(r10 - 4) = r6
r1 = map_fd(outer)
r2 = r10
r2 += -4
call bpf_map_lookup_elem
if r0 == 0 goto miss
r6 = 1
*(u32 *)(r10 - 8) = r6
r1 = r0
r2 = r10
r2 += -8
call bpf_map_lookup_elem
if r0 == 0 goto miss
r1 = 5
lock *(u64 *)(r0 + 0) += r1
r0 = *(u64 *)(r0 + 0)
exit
miss:
r0 = 1000
exit`;

// tail call into jt[index from the context's mark]; 1 when the slot is empty
const CALLER = `.map jt type=prog_array key=4 value=4 entries=2
r2 = map_fd(jt)
r3 = *(u32 *)(r1 + 8)
call bpf_tail_call
r0 = 1
exit`;

function scenario(backend: "kernel" | "memory") {
  using outer = BpfMap.create({ type: "array_of_maps", key: u32, maxEntries: 2, innerMap: INNER, backend });
  using a = BpfMap.create({ ...INNER, backend });
  using wrong = BpfMap.create({ ...INNER, maxEntries: 8, backend });
  using hashy = BpfMap.create({ type: "hash", key: u32, value: u64, maxEntries: 4, backend });
  a.set(1, 10n);
  outer.set(0, a);
  const refused: string[] = [];
  for (const m of [wrong, hashy]) {
    try {
      outer.set(1, m);
      refused.push("stored");
    } catch (e) {
      refused.push((e as BpfError).errnoName);
    }
  }
  using lookup = Program.load({
    type: "socket_filter",
    instructions: assemble(LOOKUP),
    maps: { outer },
    backend,
  });
  const runs = [0, 1, 2].map(() => lookup.testRun({ data: new Uint8Array(20) }).retval);

  using jt = BpfMap.create({ type: "prog_array", key: u32, value: u32, maxEntries: 2, backend });
  using target = Program.load({ type: "sched_cls", instructions: assemble("r0 = 77\nexit"), backend });
  using caller = Program.load({ type: "sched_cls", instructions: assemble(CALLER), maps: { jt }, backend });
  jt.set(0, target.fd);
  const ctx = (mark: number) => {
    const c = new Uint8Array(192);
    new DataView(c.buffer).setUint32(8, mark, true);
    return c;
  };
  const tails = [0, 1, 5].map((m) => caller.testRun({ data: new Uint8Array(20), ctx: ctx(m) }).retval);
  let progInMapOfMaps = "";
  try {
    outer.set(1, target.fd);
    progInMapOfMaps = "stored";
  } catch (e) {
    progInMapOfMaps = (e as BpfError).errnoName;
  }
  return { refused, runs, value: a.get(1), tails, progInMapOfMaps };
}

test("map-of-maps and prog arrays give the same results on the memory back end as in the kernel", (t) => {
  const memory = scenario("memory");
  assert.deepEqual(memory.runs, [15, 20, 25], "the inner array's element updated through the outer map");
  assert.equal(memory.value, 25n);
  assert.deepEqual(
    memory.tails,
    [77, 1, 1],
    "jt[0] runs the target; empty and out-of-range slots fall through",
  );
  assert.deepEqual(
    memory.refused,
    ["EINVAL", "EINVAL"],
    "an array of another size and a hash do not match the template",
  );
  if (!needsRoot(t)) return;
  const kernel = scenario("kernel");
  assert.deepEqual(memory, kernel, "the kernel answers the same");
});

test("a memory map-of-maps takes a live memory map as its template, not a kernel one", (t) => {
  using template = BpfMap.create({ ...INNER, backend: "memory" });
  using outer = BpfMap.create({
    type: "hash_of_maps",
    key: u32,
    maxEntries: 2,
    innerMap: template,
    backend: "memory",
  });
  using other = BpfMap.create({ ...INNER, backend: "memory" });
  outer.set(3, other);
  assert.equal(typeof outer.get(3), "number");
  if (!needsRoot(t)) return;
  using kernelMap = BpfMap.create({ ...INNER });
  assert.throws(
    () =>
      BpfMap.create({
        type: "hash_of_maps",
        key: u32,
        maxEntries: 2,
        innerMap: kernelMap,
        backend: "memory",
      }),
    /innerMap of a memory map must be a map spec or a live memory map/,
  );
});
