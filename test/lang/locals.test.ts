/**
 * Stack locals and read-only configuration: a `new Uint32Array(8)` indexed by packet bytes (out
 * of range: reads give 0, writes are skipped), struct locals from a codec-typed literal, from
 * zero(Codec) and from an unannotated literal, passed whole as a map key and value, and a
 * `config({...})` read-only map set at load time — against a C twin (clang-19) under
 * BPF_PROG_TEST_RUN on fast-check packets and configurations, with the same return values and
 * map contents.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { loadModule } from "../../examples/ts-load.js";
import { BpfMap, CompileError, compile, configValue, Program } from "../../src/index.js";
import { needsRoot } from "../support/privilege.js";
import { clangPresent, clangSection } from "./clang.js";

const TS = `
import { config, map, program, struct, u8, u16, u32, u64, zero } from "rawbpf";
const Key = struct({ a: u8, b: u32 });
const Val = struct({ n: u64, last: u16 });
const cfg = config({ shift: u8, limit: u32 });
const counts = map("hash", { key: Key, value: Val, maxEntries: 64 });
export const locals = program("socket_filter", (ctx) => {
  const slots = new Uint32Array(8);
  for (let i = 0; i < 16; i++) {
    const b = ctx.u8(i);
    if (b === null) break;
    slots[b & 15] += 1;
  }
  let sum: u32 = 0;
  for (let i = 0; i < slots.length; i++) sum += slots[i] * (i + 1);
  const first = ctx.u8(0);
  if (first === null) return 0;
  sum += slots[first];
  const k: Key = { a: first & 3, b: sum >> cfg.shift };
  const v = zero(Val);
  v.n = sum;
  v.last = first;
  if (sum > cfg.limit) counts.update(k, v);
  const p = { x: sum as u32, y: 7 as u8 };
  return p.x + p.y;
});
`;

const C = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct key { __u8 a; __u32 b; };
struct val { __u64 n; __u16 last; };
struct cfgv { __u8 shift; __u32 limit; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, struct key); __type(value, struct val); __uint(max_entries, 64); } counts SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, struct cfgv); __uint(max_entries, 1); __uint(map_flags, BPF_F_RDONLY_PROG); } cfg SEC(".maps");
SEC("socket") int locals(struct __sk_buff *skb) {
  __u32 slots[8] = {};
  for (int i = 0; i < 16; i++) {
    __u8 b;
    if (bpf_skb_load_bytes(skb, i, &b, 1)) break;
    if ((b & 15) < 8) slots[b & 15] += 1;
  }
  __u32 sum = 0;
  for (int i = 0; i < 8; i++) sum += slots[i] * (i + 1);
  __u8 first;
  if (bpf_skb_load_bytes(skb, 0, &first, 1)) return 0;
  sum += first < 8 ? slots[first] : 0;
  __u32 z = 0;
  struct cfgv *c = bpf_map_lookup_elem(&cfg, &z);
  if (!c) return 0;
  struct key k = {};
  k.a = first & 3; k.b = sum >> (c->shift & 31);
  struct val v = {};
  v.n = sum; v.last = first;
  if (sum > c->limit) bpf_map_update_elem(&counts, &k, &v, 0);
  return sum + 7;
}
char LICENSE[] SEC("license") = "GPL";
`;

const hexEntries = (m: BpfMap) =>
  [...m.entries()]
    .map(
      ([k, v]) =>
        `${Buffer.from(k as Uint8Array).toString("hex")}=${Buffer.from(v as Uint8Array).toString("hex")}`,
    )
    .sort();

test("the config's map is reported with its fields, and configValue encodes them", () => {
  const m = compile(TS, { file: "locals.ts" });
  const cfg = m.maps.find((x) => x.name === "cfg")!;
  assert.deepEqual(cfg.config, [
    { name: "shift", offset: 0, size: 1, signed: false },
    { name: "limit", offset: 4, size: 4, signed: false },
  ]);
  assert.equal(cfg.valueSize, 8);
  assert.deepEqual(cfg.flags, ["BPF_F_RDONLY_PROG"]);
  assert.equal(cfg.freeze, true);
  assert.equal(
    Buffer.from(configValue(cfg, { shift: 3, limit: 0x01020304 })).toString("hex"),
    "0300000004030201",
  );
  assert.throws(() => configValue(cfg, { shift: 256 }), /does not fit/);
  assert.throws(() => configValue(cfg, { nope: 1 }), /no field 'nope'/);
});

test("stack arrays, struct locals and a config: the TypeScript program and its C twin agree", (t) => {
  if (!needsRoot(t)) return;
  if (!clangPresent()) {
    if (process.env.CI === "true") throw new Error("clang-19 and llvm-objcopy-19 are needed");
    t.skip("clang-19 not installed");
    return;
  }
  const module = compile(TS, { file: "locals.ts" });
  const cInsns = clangSection(C, "socket");
  fc.assert(
    fc.property(
      fc.record({ shift: fc.integer({ min: 0, max: 40 }), limit: fc.integer({ min: 0, max: 60 }) }),
      fc.array(fc.uint8Array({ minLength: 14, maxLength: 40 }), { minLength: 1, maxLength: 8 }),
      (config, packets) => {
        using loaded = loadModule(module, { cfg: { shift: config.shift & 0xff, limit: config.limit } });
        using cCounts = BpfMap.create({
          type: "hash",
          keySize: 8,
          valueSize: 16,
          maxEntries: 64,
          name: "counts",
        });
        using cCfg = BpfMap.create({
          type: "array",
          keySize: 4,
          valueSize: 8,
          maxEntries: 1,
          flags: ["BPF_F_RDONLY_PROG"],
          name: "cfg",
        });
        cCfg.set(
          Buffer.alloc(4),
          Buffer.from(configValue(module.maps.find((m) => m.name === "cfg")!, config)),
        );
        cCfg.freeze();
        using c = Program.load({
          type: "socket_filter",
          instructions: cInsns,
          maps: { counts: cCounts, cfg: cCfg },
        });
        const ts = loaded.programs.locals!;
        for (const p of packets) {
          const data = Buffer.from(p);
          const a = ts.testRun({ data }).retval;
          const b = c.testRun({ data }).retval;
          assert.equal(a, b, `retval for ${data.toString("hex")} with ${JSON.stringify(config)}`);
        }
        assert.deepEqual(hexEntries(loaded.maps.counts as unknown as BpfMap), hexEntries(cCounts), "counts");
      },
    ),
    { numRuns: 15, seed: 21 },
  );
});

test("stack locals: compile errors at the line, with the reason", () => {
  const head = `import { config, map, program, struct, u8, u32, zero } from "rawbpf";
const Key = struct({ a: u8, b: u32 });
const cfg = config({ limit: u32 });
export const p = program("socket_filter", (ctx) => {
`;
  const cases: [string, RegExp][] = [
    ["cfg.limit = 3;\nreturn 0;", /read-only/],
    ["const k: Key = { a: 1, c: 2 };\nreturn 0;", /has no field 'c'/],
    ["const k = zero(Nope);\nreturn 0;", /name of a codec/],
    ["const k = zero(Key);\nreturn k;", /expected an integer/],
    ["const k = zero(Key);\nreturn k.a.b;", /read it as .value|has no field/],
    [
      "const a = new Uint32Array(100);\nconst b = new Uint32Array(30);\nreturn 0;",
      /stack would grow to 520 bytes/,
    ],
  ];
  for (const [body, why] of cases)
    assert.throws(
      () => compile(`${head}${body}\n});\n`, { file: "bad.ts" }),
      (e: unknown) => e instanceof CompileError && why.test(e.reason) && e.line >= 5,
      body,
    );
});
