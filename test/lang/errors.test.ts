/**
 * Programs outside the subset are compile errors at their line and column, with a caret and a
 * reason; and the context layouts the compiler knows match the running kernel's BTF.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { vmlinuxBtf } from "../../src/index.js";
import { CONTEXTS, CompileError, compile } from "../../src/lang/index.js";

const HEAD = `import { map, program, u8, u32, u64, XDP_PASS } from "rawbpf";
const counts = map("hash", { key: u32, value: u64, maxEntries: 16 });
`;

/** Compiles `body` as an XDP program and returns the error it must raise. */
function refuse(body: string, extra = ""): CompileError {
  const src = `${HEAD}${extra}export const p = program("xdp", (ctx) => {\n${body}\n});\n`;
  try {
    compile(src, { file: "bad.ts" });
  } catch (e) {
    assert.ok(e instanceof CompileError, `a CompileError, got ${String(e)}`);
    return e;
  }
  assert.fail(`compiled, but should not have:\n${body}`);
}

const CASES: [string, string, RegExp, string?][] = [
  ["a float", "  const x = 1.5;\n  return x;", /1\.5 is not an integer: BPF has no floating point/],
  ["an unbounded loop", "  let i = 0;\n  while (i < 10) i++;\n  return 0;", /unbounded loop/],
  [
    "a loop without a constant bound",
    "  for (let i = 0; i < ctx.data; i++) {}\n  return 0;",
    /bound is not a constant/,
  ],
  [
    "a closure over a local",
    "  const k = 3;\n  const f = () => k;\n  return 0;",
    /closure over the local 'k'/,
  ],
  [
    "recursion",
    "  return f(3);",
    /recursion: f → g → f/,
    "function f(x: u32): u32 { return g(x); }\nfunction g(x: u32): u32 { return f(x); }\n",
  ],
  [
    "a stack over 512 bytes",
    Array.from({ length: 70 }, (_, i) => `  let v${i}: u64 = ${i};`).join("\n") + "\n  return 0;",
    /stack would grow to 520 bytes/,
  ],
  [
    "a map value used without a null check",
    "  const v = counts.lookup(1);\n  return v.value;",
    /'v' may be null/,
  ],
  [
    "a packet read used without a null check",
    "  const b = ctx.u8(0);\n  return b + 1;",
    /may be null \(the packet may be too short\)/,
  ],
  ["an unknown name", "  return nothing;", /unknown name 'nothing'/],
  ["an unknown helper", "  return helpers.no_such_thing();", /no helper named bpf_no_such_thing/],
  ["a const assigned", "  const a = 1;\n  a = 2;\n  return a;", /'a' is a const/],
];

for (const [what, body, reason, extra] of CASES) {
  test(`compile error: ${what}`, () => {
    const e = refuse(body, extra);
    assert.match(e.reason, reason);
    const src = `${HEAD}${extra ?? ""}export const p = program("xdp", (ctx) => {\n${body}\n});\n`;
    const line = src.split("\n")[e.line - 1];
    assert.ok(line !== undefined, `line ${e.line} exists`);
    assert.match(e.message, new RegExp(`^bad\\.ts:${e.line}:${e.column}: error: `), "file:line:column first");
    const [shown, caret] = e.frame.split("\n");
    assert.ok(shown!.endsWith(line), `the frame shows line ${e.line}: ${shown}`);
    assert.equal(
      caret!.indexOf("^") - (shown!.length - line.length),
      e.column - 1,
      "the caret sits under the column",
    );
  });
}

test("compile error: the offending token is where the caret points", () => {
  const e = refuse("  const x = 2;\n  return x * 1.25;");
  assert.equal(e.line, 5);
  assert.equal(e.column, 14, "column of 1.25");
});

test("narrowing: after `if (v === null) return`, v is usable; and in `v !== null && v.value > 1`", () => {
  const src = `${HEAD}export const p = program("xdp", (ctx) => {
  const v = counts.lookup(1);
  if (v !== null && v.value > 1) return 1;
  if (v === null) return XDP_PASS;
  v.value += 1;
  return XDP_PASS;
});`;
  const m = compile(src, { file: "ok.ts" });
  assert.equal(m.programs.length, 1);
  assert.deepEqual(
    m.maps.map((x) => [x.name, x.type, x.keySize, x.valueSize, x.maxEntries]),
    [["counts", "hash", 4, 8, 16]],
  );
  assert.ok(
    m.programs[0]!.lineInfo.some((l) => l.text === "v.value += 1;" && l.line === 7),
    "line info for v.value += 1",
  );
});

test("context layouts match the kernel's BTF", () => {
  const btf = vmlinuxBtf();
  for (const [type, spec] of CONTEXTS) {
    const id = btf.findId(spec.struct, "struct");
    assert.ok(id !== undefined, `struct ${spec.struct} in vmlinux BTF`);
    const st = btf.type(id) as unknown as { members: { name: string; bitOffset: number; type: number }[] };
    for (const [name, field] of spec.fields) {
      const member = st.members.find((m) => m.name === name);
      assert.ok(member, `${spec.struct}.${name} exists (${type})`);
      assert.equal(member.bitOffset / 8, field.offset, `offsetof(${spec.struct}, ${name})`);
    }
  }
});
