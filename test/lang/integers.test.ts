/**
 * Integer semantics, proven in the kernel: random TypeScript expressions over every width and
 * operator are compiled, run under BPF_PROG_TEST_RUN on random inputs, and each result is compared
 * with its value computed here from the documented rules (BigInt arithmetic masked to the width),
 * an oracle written apart from the compiler.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { BpfMap, Program, u32, u64 } from "../../src/index.js";
import { CompileError, compile } from "../../src/lang/index.js";
import { needsRoot } from "../support/privilege.js";

interface Ty {
  bits: number;
  signed: boolean;
  name: string;
}
const TYPES: Ty[] = [
  { bits: 8, signed: false, name: "u8" },
  { bits: 16, signed: false, name: "u16" },
  { bits: 32, signed: false, name: "u32" },
  { bits: 64, signed: false, name: "u64" },
  { bits: 8, signed: true, name: "i8" },
  { bits: 16, signed: true, name: "i16" },
  { bits: 32, signed: true, name: "i32" },
  { bits: 64, signed: true, name: "i64" },
];
const I64 = TYPES[7]!;
const BOOL: Ty = { bits: 8, signed: false, name: "u8" };

type Node =
  | { k: "var"; i: number }
  | { k: "lit"; v: bigint }
  | { k: "bin"; op: string; a: Node; b: Node }
  | { k: "un"; op: string; a: Node }
  | { k: "cast"; t: number; a: Node }
  | { k: "cond"; c: Node; a: Node; b: Node };

const ARITH = ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", ">>>"];
const CMP = ["===", "!==", "<", "<=", ">", ">="];
const LITERALS = [0n, 1n, 2n, 3n, 7n, 8n, 31n, 33n, 63n, 64n, 127n, 128n, 255n, 256n, 32767n, 65535n, 65536n];
const BIG = [2147483647n, 2147483648n, 4294967295n, 4294967296n, 1099511627776n, 9007199254740991n];

const nodeArb: fc.Arbitrary<Node> = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({ k: fc.constant("var" as const), i: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ k: fc.constant("lit" as const), v: fc.constantFrom(...LITERALS, ...BIG) }),
    fc.record({
      k: fc.constant("bin" as const),
      op: fc.constantFrom(...ARITH, ...ARITH, ...CMP, "&&", "||"),
      a: tie("node"),
      b: tie("node"),
    }),
    fc.record({ k: fc.constant("un" as const), op: fc.constantFrom("-", "~", "!"), a: tie("node") }),
    fc.record({ k: fc.constant("cast" as const), t: fc.integer({ min: 0, max: 7 }), a: tie("node") }),
    fc.record({ k: fc.constant("cond" as const), c: tie("node"), a: tie("node"), b: tie("node") }),
  ),
})).node;

function depth(n: Node): number {
  switch (n.k) {
    case "var":
    case "lit":
      return 0;
    case "bin":
      return 1 + Math.max(depth(n.a), depth(n.b));
    case "un":
    case "cast":
      return 1 + depth(n.a);
    case "cond":
      return 1 + Math.max(depth(n.c), depth(n.a), depth(n.b));
  }
}

function source(n: Node): string {
  switch (n.k) {
    case "var":
      return `x${n.i}`;
    case "lit":
      return String(n.v);
    case "bin":
      return `(${source(n.a)} ${n.op} ${source(n.b)})`;
    case "un":
      return `(${n.op}${source(n.a)})`;
    case "cast":
      return `(${source(n.a)} as ${TYPES[n.t]!.name})`;
    case "cond":
      return `(${source(n.c)} ? ${source(n.a)} : ${source(n.b)})`;
  }
}

const wrap = (v: bigint, t: Ty) => (t.signed ? BigInt.asIntN(t.bits, v) : BigInt.asUintN(t.bits, v));

/** docs/language.md: the wider type wins; at equal width unsigned wins. */
function common(a: Ty, b: Ty): Ty {
  if (a.bits !== b.bits) return a.bits > b.bits ? a : b;
  return a.signed ? b : a;
}

interface V {
  v: bigint;
  t: Ty | undefined;
}

/** The documented value of `n` (the oracle). */
function evaluate(n: Node, inputs: readonly bigint[]): V {
  switch (n.k) {
    case "var":
      return { v: wrap(inputs[n.i]!, TYPES[n.i]!), t: TYPES[n.i] };
    case "lit":
      return { v: n.v, t: undefined };
    case "cast": {
      const t = TYPES[n.t]!;
      return { v: wrap(evaluate(n.a, inputs).v, t), t };
    }
    case "un": {
      const a = evaluate(n.a, inputs);
      if (n.op === "!") return { v: a.v === 0n ? 1n : 0n, t: BOOL };
      const r = n.op === "-" ? -a.v : ~a.v;
      return { v: a.t ? wrap(r, a.t) : r, t: a.t };
    }
    case "cond": {
      const c = evaluate(n.c, inputs);
      const a = evaluate(n.a, inputs);
      const b = evaluate(n.b, inputs);
      const t = a.t && b.t ? common(a.t, b.t) : (a.t ?? b.t ?? I64);
      return { v: wrap(c.v !== 0n ? a.v : b.v, t), t };
    }
    case "bin": {
      const a = evaluate(n.a, inputs);
      const b = evaluate(n.b, inputs);
      if (n.op === "&&") return { v: a.v !== 0n && b.v !== 0n ? 1n : 0n, t: BOOL };
      if (n.op === "||") return { v: a.v !== 0n || b.v !== 0n ? 1n : 0n, t: BOOL };
      const typed = a.t !== undefined || b.t !== undefined;
      if (n.op === "<<" || n.op === ">>" || n.op === ">>>") {
        const t = a.t ?? I64;
        const x = wrap(a.v, t);
        const count = BigInt.asUintN(64, b.v) & BigInt(t.bits - 1);
        const r =
          n.op === "<<" ? x << count : n.op === ">>" ? x >> count : BigInt.asUintN(t.bits, x) >> count;
        return { v: wrap(r, t), t: typed ? t : undefined };
      }
      const t = a.t && b.t ? common(a.t, b.t) : (a.t ?? b.t ?? I64);
      const x = wrap(a.v, t);
      const y = wrap(b.v, t);
      if (CMP.includes(n.op)) {
        const r =
          n.op === "==="
            ? x === y
            : n.op === "!=="
              ? x !== y
              : n.op === "<"
                ? x < y
                : n.op === "<="
                  ? x <= y
                  : n.op === ">"
                    ? x > y
                    : x >= y;
        return { v: r ? 1n : 0n, t: BOOL };
      }
      let r: bigint;
      switch (n.op) {
        case "+":
          r = x + y;
          break;
        case "-":
          r = x - y;
          break;
        case "*":
          r = x * y;
          break;
        case "/":
          r = y === 0n ? 0n : x / y;
          break;
        case "%":
          r = y === 0n ? x : x % y;
          break;
        case "&":
          r = x & y;
          break;
        case "|":
          r = x | y;
          break;
        default:
          r = x ^ y;
      }
      return { v: wrap(r, t), t: typed ? t : undefined };
    }
  }
}

const PER_PROGRAM = 24;

function programSource(exprs: readonly Node[]): string {
  const types = TYPES.map((t) => t.name);
  const lines = [
    'import { map, program, u32, u64 } from "rawbpf";',
    'const inp = map("array", { key: u32, value: u64, maxEntries: 8 });',
    `const out = map("array", { key: u32, value: u64, maxEntries: ${PER_PROGRAM} });`,
    'export const prog = program("xdp", (ctx) => {',
  ];
  for (let i = 0; i < 8; i++) {
    lines.push(`  const e${i} = inp.lookup(${i});`, `  if (e${i} === null) return 0;`);
    lines.push(`  const x${i}: ${types[i]} = e${i}.value as ${types[i]};`);
  }
  exprs.forEach((e, i) => {
    lines.push(`  out.update(${i}, ${source(e)});`);
  });
  lines.push("  return 2;", "});");
  return lines.join("\n");
}

test("random integer expressions: kernel results equal the documented BigInt semantics", (t) => {
  if (!needsRoot(t)) return;
  using inp = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 8, name: "inp" });
  using out = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: PER_PROGRAM, name: "out" });
  const interesting = fc.oneof(
    fc.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n }),
    fc.constantFrom(0n, 1n, -1n, 127n, 128n, 255n, 0x8000n, 0xffffn, 0x80000000n, 0xffffffffn, 1n << 63n),
  );
  fc.assert(
    fc.property(
      fc.array(
        nodeArb.filter((n) => depth(n) <= 3),
        { minLength: PER_PROGRAM, maxLength: PER_PROGRAM },
      ),
      fc.array(interesting, { minLength: 8, maxLength: 8 }),
      (generated, inputs) => {
        // an expression that needs more than the 5 temporary registers is a documented compile
        // error ("expression too deep"): such expressions are left out, and must stay rare
        const exprs = generated.filter((e) => {
          try {
            compile(programSource([e]), { file: "fuzz.ts" });
            return true;
          } catch (err) {
            if (err instanceof CompileError && err.reason.startsWith("expression too deep")) return false;
            throw err;
          }
        });
        assert.ok(
          exprs.length >= PER_PROGRAM / 2,
          `${generated.length - exprs.length} of ${generated.length} expressions were too deep`,
        );
        const src = programSource(exprs);
        const compiled = compile(src, { file: "fuzz.ts" }).programs[0]!;
        using prog = Program.load({ type: "xdp", name: "fuzz", instructions: compiled, maps: { inp, out } });
        inputs.forEach((v, i) => {
          inp.set(i, BigInt.asUintN(64, v));
        });
        for (let i = 0; i < PER_PROGRAM; i++) out.set(i, 0xdeadn);
        const run = prog.testRun({ data: Buffer.alloc(64) });
        assert.equal(run.retval, 2, "the program ran to its end");
        exprs.forEach((e, i) => {
          const want = BigInt.asUintN(64, evaluate(e, inputs).v);
          const got = out.get(i);
          assert.equal(
            got,
            want,
            `${source(e)} with x = [${inputs.join(", ")}]: kernel 0x${got?.toString(16)}, expected 0x${want.toString(16)}`,
          );
        });
      },
    ),
    { numRuns: 12, seed: Number(process.env.LANG_SEED ?? 20260512) },
  );
});
