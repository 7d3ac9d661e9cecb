/**
 * Events: a ring buffer record reserved, filled field by field (an array field by a variable
 * index) and submitted, and a stack struct sent with bpf_perf_event_output (BPF_F_CURRENT_CPU);
 * the TypeScript program against its C twin (clang-19) on the same fast-check packets, with the
 * same records read back from both rings.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { loadModule } from "../../examples/ts-load.js";
import { BpfMap, CompileError, compile, PerfBuffer, Program, RingBuffer } from "../../src/index.js";
import { needsRoot } from "../support/privilege.js";
import { clangPresent, clangSection } from "./clang.js";

const TS = `
import { bytes, map, program, struct, u8, u16, u32, XDP_DROP, XDP_PASS, zero } from "rawbpf";
const Event = struct({ len: u32, proto: u16, tag: u8, head: bytes(8) });
const events = map("ringbuf", { value: Event, maxEntries: 4096 });
const samples = map("perf_event_array", { value: Event, maxEntries: 128 });
export const rec = program("xdp", (ctx) => {
  const e = events.reserve();
  if (e === null) return XDP_DROP;
  const proto = ctx.be16(12);
  e.proto = proto === null ? 0 : proto;
  e.tag = 1;
  for (let i = 0; i < 8; i++) {
    const b = ctx.u8(i + 14);
    if (b === null) break;
    e.head[i] = b;
    e.len += 1;
  }
  events.submit(e);
  const s = zero(Event);
  s.tag = 2;
  s.proto = proto === null ? 0 : proto;
  s.head[7] = 9;
  samples.output(s);
  return XDP_PASS;
});
`;

const C = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct event { __u32 len; __u16 proto; __u8 tag; __u8 head[8]; };
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, 4); __uint(value_size, 4); __uint(max_entries, 128); } samples SEC(".maps");
SEC("xdp") int rec(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  struct event *e = bpf_ringbuf_reserve(&events, sizeof(struct event), 0);
  if (!e) return XDP_DROP;
  __u16 proto = data + 14 <= end ? __builtin_bswap16(*(__u16 *)(data + 12)) : 0;
  e->len = 0; e->proto = proto; e->tag = 1;
  for (int i = 0; i < 8; i++) e->head[i] = 0;
  for (int i = 0; i < 8; i++) {
    if (data + 14 + i + 1 > end) break;
    e->head[i] = *(__u8 *)(data + 14 + i);
    e->len += 1;
  }
  bpf_ringbuf_submit(e, 0);
  struct event s = {};
  s.tag = 2; s.proto = proto; s.head[7] = 9;
  bpf_perf_event_output(ctx, &samples, BPF_F_CURRENT_CPU, &s, sizeof(s));
  return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
`;

function drainRing(ring: RingBuffer): string[] {
  const out: string[] = [];
  ring.consume((r) => out.push(Buffer.from(r.copy()).toString("hex")));
  return out;
}

function drainPerf(perf: PerfBuffer, size: number): string[] {
  const out: string[] = [];
  perf.consume((r) => out.push(Buffer.from(r.copy()).subarray(0, size).toString("hex")));
  return out;
}

test("ring buffer reserve/submit and perf event output: the TypeScript program and its C twin write the same records", (t) => {
  if (!needsRoot(t)) return;
  if (!clangPresent()) {
    if (process.env.CI === "true") throw new Error("clang-19 and llvm-objcopy-19 are needed");
    t.skip("clang-19 not installed");
    return;
  }
  const module = compile(TS, { file: "events.ts" });
  assert.deepEqual(
    module.maps.map((m) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries]),
    [
      ["events", "ringbuf", 0, 0, 4096],
      ["samples", "perf_event_array", 4, 4, 128],
    ],
  );
  using loaded = loadModule(module);
  const ts = loaded.programs.rec!;
  using cEvents = BpfMap.create({ type: "ringbuf", maxEntries: 4096, name: "events" });
  using cSamples = BpfMap.create({
    type: "perf_event_array",
    keySize: 4,
    valueSize: 4,
    maxEntries: 128,
    name: "samples",
  });
  using c = Program.load({
    type: "xdp",
    name: "rec",
    instructions: clangSection(C, "xdp"),
    maps: { events: cEvents, samples: cSamples },
  });
  using tsRing = RingBuffer.open(loaded.maps.events as unknown as BpfMap);
  using cRing = RingBuffer.open(cEvents);
  using tsPerf = PerfBuffer.open(loaded.maps.samples as unknown as BpfMap);
  using cPerf = PerfBuffer.open(cSamples);
  t.diagnostic(
    `xlated: TypeScript ${ts.info().xlatedLength / 8} instructions, clang -O2 ${c.info().xlatedLength / 8}`,
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 14, maxLength: 30 }), (bytes) => {
      const data = Buffer.from(bytes);
      const a = ts.testRun({ data }).retval;
      const b = c.testRun({ data }).retval;
      assert.equal(a, b, `retval for ${data.toString("hex")}`);
      const ra = drainRing(tsRing);
      const rb = drainRing(cRing);
      assert.equal(ra.length, 1, "one ring record a run");
      assert.deepEqual(ra, rb, `ring records for ${data.toString("hex")}`);
      const pa = drainPerf(tsPerf, 16);
      const pb = drainPerf(cPerf, 16);
      assert.equal(pa.length, 1, "one perf sample a run");
      assert.deepEqual(pa, pb, `perf samples for ${data.toString("hex")}`);
    }),
    { numRuns: 30, seed: 5 },
  );
});

test("a reserved record must be checked for null, and submit takes a record", () => {
  const head = `import { map, program, struct, u32 } from "rawbpf";
const Event = struct({ pid: u32 });
const events = map("ringbuf", { value: Event, maxEntries: 4096 });
export const p = program("xdp", (ctx) => {
`;
  const cases: [string, RegExp][] = [
    [
      "const e = events.reserve();\ne.pid = 1;\nevents.submit(e);\nreturn 2;",
      /may be null \(the ring buffer may be full\)/,
    ],
    ["const e = events.reserve();\nevents.submit(e);\nreturn 2;", /may be null/],
    ["events.submit(3);\nreturn 2;", /takes a record from events.reserve\(\)/],
    ["events.lookup(1);\nreturn 2;", /use output\(\), or reserve\(\) and submit\(\)/],
  ];
  for (const [body, why] of cases)
    assert.throws(
      () => compile(`${head}${body}\n});\n`, { file: "bad.ts" }),
      (e: unknown) => e instanceof CompileError && why.test(e.reason) && e.line >= 5,
      body,
    );
});
