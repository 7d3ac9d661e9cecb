/**
 * Strings and stack arrays: `new Uint8Array(n)` locals, `strncmp(s, "constant")` compiled to
 * bpf_strncmp against a constant the compiler places in a frozen read-only map, and the
 * article's drop-needle socket filter written in TypeScript — on a real socket, and against its
 * C twin (clang-19) under BPF_PROG_TEST_RUN on the same fast-check packets.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { loadModule } from "../../examples/ts-load.js";
import { attachFilter, BpfMap, CompileError, compile, Program, socketPair } from "../../src/index.js";
import { needsRoot } from "../support/privilege.js";
import { clangPresent, clangSection } from "./clang.js";

const NEEDLE_TS = `
import { helpers, program, strncmp } from "rawbpf";
const WINDOW = 64;
const NEEDLE = "needle";
export const drop_needle = program("socket_filter", (ctx) => {
  const buf = new Uint8Array(WINDOW);
  let n = ctx.len;
  if (n === 0) return -1;
  if (n > WINDOW) n = WINDOW;
  if (helpers.skb_load_bytes(ctx, 0, buf, n) !== 0) return -1;
  for (let i = 0; i <= WINDOW - NEEDLE.length; i++) {
    if (strncmp(buf.subarray(i), NEEDLE) === 0) return 0;
  }
  return -1;
});
`;

const NEEDLE_C = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __uint(value_size, 7); __uint(max_entries, 1); __uint(map_flags, BPF_F_RDONLY_PROG); } rodata_str SEC(".maps");
SEC("socket") int drop_needle(struct __sk_buff *skb) {
  char buf[64] = {};
  __u32 n = skb->len;
  if (n == 0) return -1;
  if (n > 64) n = 64;
  if (bpf_skb_load_bytes(skb, 0, buf, n) != 0) return -1;
  __u32 k = 0;
  const char *needle = bpf_map_lookup_elem(&rodata_str, &k);
  if (!needle) return -1;
  for (int i = 0; i <= 58; i++) if (bpf_strncmp(buf + i, 6, needle) == 0) return 0;
  return -1;
}
char LICENSE[] SEC("license") = "GPL";
`;

const message = fc
  .array(
    fc.oneof(fc.constantFrom("needle", "need", "le", "hay", "NEEDLE", "needl"), fc.string({ maxLength: 5 })),
    {
      minLength: 1,
      maxLength: 12,
    },
  )
  .map((parts) => Buffer.from(parts.join("")).subarray(0, 64))
  .filter((b) => b.length > 0);

test("the needle is a constant in a frozen read-only map the compiler reports with its contents", () => {
  const m = compile(NEEDLE_TS, { file: "needle.ts" });
  assert.deepEqual(
    m.maps.map((x) => ({ ...x, contents: Buffer.from(x.contents ?? []).toString() })),
    [
      {
        name: "rodata_str",
        type: "array",
        keySize: 4,
        valueSize: 7,
        maxEntries: 1,
        flags: ["BPF_F_RDONLY_PROG"],
        contents: "needle\0",
        freeze: true,
      },
    ],
  );
  assert.deepEqual(m.programs[0]!.maps, ["rodata_str"]);
});

test("drop-needle in TypeScript drops exactly the datagrams containing the needle on a real socket", (t) => {
  if (!needsRoot(t)) return;
  using loaded = loadModule(compile(NEEDLE_TS, { file: "needle.ts" }));
  const program = loaded.programs.drop_needle!;
  fc.assert(
    fc.property(fc.array(message, { minLength: 1, maxLength: 10 }), (messages) => {
      using pair = socketPair();
      attachFilter(pair, program);
      for (const m of messages) pair.send(m);
      const got = pair.recvAll().map((b) => b.toString("hex"));
      const want = messages.filter((m) => !m.includes("needle")).map((b) => b.toString("hex"));
      assert.deepEqual(got, want, "the datagrams that arrive are those without the needle");
    }),
    { numRuns: 20, seed: 12 },
  );
});

test("drop-needle: the TypeScript program and its C twin agree under BPF_PROG_TEST_RUN", (t) => {
  if (!needsRoot(t)) return;
  if (!clangPresent()) {
    if (process.env.CI === "true") throw new Error("clang-19 and llvm-objcopy-19 are needed");
    t.skip("clang-19 not installed");
    return;
  }
  const module = compile(NEEDLE_TS, { file: "needle.ts" });
  using loaded = loadModule(module);
  const ts = loaded.programs.drop_needle!;
  using c = Program.load({
    type: "socket_filter",
    name: "drop_needle",
    instructions: clangSection(NEEDLE_C, "socket"),
    maps: { rodata_str: loaded.maps.rodata_str! },
  });
  t.diagnostic(
    `xlated: TypeScript ${ts.info().xlatedLength / 8} instructions, clang -O2 ${c.info().xlatedLength / 8}`,
  );
  fc.assert(
    fc.property(message, fc.uint8Array({ minLength: 14, maxLength: 14 }), (m, eth) => {
      const data = Buffer.concat([eth, m]);
      const a = ts.testRun({ data }).retval;
      const b = c.testRun({ data }).retval;
      assert.equal(a, b, `retval for ${data.toString("hex")}: TypeScript ${a}, C ${b}`);
    }),
    { numRuns: 60, seed: 3 },
  );
});

test("the needle map must be frozen: loading against an unfrozen one is the verifier's refusal", (t) => {
  if (!needsRoot(t)) return;
  const module = compile(NEEDLE_TS, { file: "needle.ts" });
  const spec = module.maps[0]!;
  using map = BpfMap.create({
    type: "array",
    keySize: 4,
    valueSize: spec.valueSize,
    maxEntries: 1,
    flags: ["BPF_F_RDONLY_PROG"],
    name: "rodata_str",
  });
  map.set(Buffer.alloc(4), Buffer.from(spec.contents!));
  assert.throws(
    () =>
      Program.load({ type: "socket_filter", instructions: module.programs[0]!, maps: { rodata_str: map } }),
    /frozen|read.only|const/i,
    "bpf_strncmp wants a constant string",
  );
});

const bad = (body: string, header = "") =>
  `import { program, strncmp, helpers } from "rawbpf";\n${header}\nexport const p = program("socket_filter", (ctx) => {\n${body}\n});\n`;

test("strings and stack arrays: compile errors at the line, with the reason", () => {
  const cases: [string, string, RegExp][] = [
    ['const b = new Uint8Array(8);\nlet s = "x";\nreturn 0;', "", /strings are only allowed/],
    ["const b = new Uint8Array(8);\nlet k = 3;\nreturn strncmp(b, k);", "", /constant string/],
    ['const b = new Uint8Array(4);\nreturn strncmp(b, "needle");', "", /runs past the end/],
    ['const b = new Uint8Array(8);\nreturn strncmp(b.subarray(4), "hello");', "", /runs past the end/],
    ["const b = new Uint8Array(600);\nreturn 0;", "", /1 to 512/],
    [
      "const a = new Uint8Array(300);\nconst b = new Uint8Array(300);\nreturn 0;",
      "",
      /stack would grow to 608 bytes/,
    ],
    ["const b = new Uint8Array(8);\nreturn b[8];", "", /outside the array's 8 elements/],
    ["const b = new Uint8Array(8);\nb = 1;\nreturn 0;", "", /assign its fields or elements/],
    ["const b = new Float64Array(8);\nreturn 0;", "", /not supported/],
  ];
  for (const [body, header, why] of cases) {
    const src = bad(body, header);
    assert.throws(
      () => compile(src, { file: "bad.ts" }),
      (e: unknown) => {
        assert.ok(e instanceof CompileError, `a CompileError for ${body}`);
        assert.match(e.reason, why, body);
        assert.ok(e.line > 3, `the error is at the statement's line, not the program's (${e.line})`);
        return true;
      },
    );
  }
});
