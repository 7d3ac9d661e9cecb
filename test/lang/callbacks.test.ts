/**
 * Callbacks and kfuncs: arrow functions passed to bpf_loop (bpfLoop, helpers.loop) and to a
 * map's forEach (bpf_for_each_map_elem) become callback subprograms (ld_imm64 src=4, a static
 * FUNC in the BTF, marked callback in func_info); kfuncs are called by name (the open-coded
 * number iterator, its BTF ids resolved at load). Run in the kernel on fast-check inputs
 * against the value computed here.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { loadModule } from "../../examples/ts-load.js";
import { CompileError, compile } from "../../src/index.js";
import { needsRoot } from "../support/privilege.js";

const SOURCE = `
import { bpfLoop, helpers, kfuncs, map, program, struct, u32, u64, zero } from "rawbpf";
const State = struct({ sum: u64, last: u32 });
const counts = map("array", { key: u32, value: u64, maxEntries: 8 });
export const loops = program("socket_filter", (ctx) => {
  const n = ctx.u8(0);
  const stop = ctx.u8(1);
  const top = ctx.u8(2);
  if (n === null || stop === null || top === null) return 0;
  const st = zero(State);
  st.last = stop;
  bpfLoop(n, (i, s) => {
    s.sum += i * i;
    return 0;
  }, st);
  helpers.loop(20, (i, s) => (i === s.last ? 1 : 0), st, 0);
  for (let k = 0; k < 8; k++) counts.update(k, k * 10 + stop);
  counts.forEach((key, value, s) => {
    s.sum += value.value * key.value;
    return 0;
  }, st);
  const it = new BigUint64Array(1);
  kfuncs.bpf_iter_num_new(it, 0, top & 15);
  for (let j = 0; j < 16; j++) {
    const p = kfuncs.bpf_iter_num_next(it);
    if (p === null) break;
    st.sum += p.value * 100000;
  }
  kfuncs.bpf_iter_num_destroy(it);
  return st.sum;
});
`;

function expected(n: number, stop: number, top: number): number {
  let sum = 0n;
  for (let i = 0n; i < BigInt(n); i++) sum += i * i;
  for (let k = 0n; k < 8n; k++) sum += (k * 10n + BigInt(stop)) * k;
  for (let v = 0n; v < BigInt(top & 15); v++) sum += v * 100000n;
  return Number(BigInt.asUintN(32, sum));
}

test("callbacks become static subprograms passed by address, after the main program", () => {
  const p = compile(SOURCE, { file: "cb.ts" }).programs[0]!;
  assert.deepEqual(
    p.functions.map((f) => [f.name, f.callback]),
    [
      ["loops", false],
      ["loops_cb0", true],
      ["loops_cb1", true],
      ["loops_cb2", true],
    ],
  );
  const pointers = p.insns.filter((i) => i.code === 0x18 && i.src === 4);
  assert.equal(pointers.length, 3, "three ld_imm64 src=4 (BPF_PSEUDO_FUNC)");
  assert.deepEqual(
    p.kfuncRefs.map((k) => k.name),
    ["bpf_iter_num_new", "bpf_iter_num_next", "bpf_iter_num_destroy"],
  );
});

test("bpf_loop, bpf_for_each_map_elem and the number iterator compute what they should in the kernel", (t) => {
  if (!needsRoot(t)) return;
  using loaded = loadModule(compile(SOURCE, { file: "cb.ts" }));
  const prog = loaded.programs.loops!;
  const info = prog.functions();
  assert.equal(info.funcInfoCount, 4, "func_info has the main program and three callbacks");
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 255 }),
      (n, stop, top) => {
        const data = Buffer.alloc(20);
        data[14] = n;
        data[15] = stop;
        data[16] = top;
        assert.equal(prog.testRun({ data }).retval, expected(n, stop, top), `n=${n} stop=${stop} top=${top}`);
      },
    ),
    { numRuns: 40, seed: 9 },
  );
});

test("callback and kfunc errors: a closure, a callback where none is taken, an unknown kfunc", (t) => {
  const head = `import { bpfLoop, helpers, kfuncs, program } from "rawbpf";\nexport const p = program("socket_filter", (ctx) => {\n`;
  const cases: [string, RegExp][] = [
    [
      "let total = 0;\nbpfLoop(3, (i) => { total += i; return 0; });\nreturn total;",
      /closure over the local 'total'/,
    ],
    ["helpers.map_lookup_elem(1, () => 0);\nreturn 0;", /takes no callback here/],
    ["bpfLoop(3, 7);\nreturn 0;", /is an arrow function/],
  ];
  if (needsRoot(t))
    cases.push(["kfuncs.bpf_no_such_thing(1);\nreturn 0;", /no kfunc named bpf_no_such_thing/]);
  for (const [body, why] of cases)
    assert.throws(
      () => compile(`${head}${body}\n});\n`, { file: "bad.ts" }),
      (e: unknown) => e instanceof CompileError && why.test(e.reason) && e.line >= 3,
      body,
    );
});
