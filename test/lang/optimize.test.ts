/**
 * The optimizer keeps meaning: random programs (locals of several widths, if/else, counted loops,
 * switch, early returns, packet reads with their null checks, map reads and writes) are compiled
 * with and without it, both loaded, and run under BPF_PROG_TEST_RUN on the same inputs and
 * packets; return values and every map entry must be equal. The kernel runs both, so the oracle is
 * the unoptimized code's behaviour as the kernel executes it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { BpfMap, Program, u32, u64 } from "../../src/index.js";
import { encode } from "../../src/isa/encode.js";
import { CompileError, compile } from "../../src/lang/index.js";
import { withJumpRewrites } from "../../src/lang/optimize.js";
import { needsRoot } from "../support/privilege.js";
import { largeSwitch } from "./large-program.js";

/** A small deterministic generator (fast-check gives the seed, and prints it on failure). */
class Gen {
  constructor(private s: number) {}
  next(): number {
    // mulberry32
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

const VARS = ["x0", "x1", "x2", "x3", "a", "b", "c"];
const MUTABLE = ["a", "b", "c"];
const ARITH = ["+", "-", "*", "&", "|", "^", ">>", "<<", "/", "%"];
const CMP = ["===", "!==", "<", "<=", ">", ">="];
const TYPES = ["u8", "u16", "u32", "u64", "i8", "i32", "i64"];
const LITS = ["0", "1", "2", "7", "255", "256", "65535", "4294967295", "3000000000"];

function expr(g: Gen, depth: number, scope: readonly string[]): string {
  const r = g.int(depth <= 0 ? 2 : 6);
  if (r === 0) return g.pick(scope);
  if (r === 1) return g.pick(LITS);
  if (r === 2 || r === 3)
    return `(${expr(g, depth - 1, scope)} ${g.pick(ARITH)} ${expr(g, depth - 1, scope)})`;
  if (r === 4) return `(${expr(g, depth - 1, scope)} as ${g.pick(TYPES)})`;
  return `(${cond(g, depth - 1, scope)} ? ${expr(g, depth - 1, scope)} : ${expr(g, depth - 1, scope)})`;
}

function cond(g: Gen, depth: number, scope: readonly string[]): string {
  const r = g.int(depth <= 0 ? 1 : 3);
  if (r === 0) return `${expr(g, 0, scope)} ${g.pick(CMP)} ${expr(g, depth - 1, scope)}`;
  if (r === 1) return `(${cond(g, depth - 1, scope)} ${g.pick(["&&", "||"])} ${cond(g, depth - 1, scope)})`;
  return `!(${cond(g, depth - 1, scope)})`;
}

let serial = 0;

function statements(g: Gen, depth: number, scope: readonly string[], indent: string): string[] {
  const out: string[] = [];
  const n = 1 + g.int(depth > 0 ? 4 : 3);
  for (let s = 0; s < n; s++) {
    const r = g.int(depth > 0 ? 9 : 5);
    switch (r) {
      case 0:
        out.push(`${indent}${g.pick(MUTABLE)} = ${expr(g, 2, scope)};`);
        break;
      case 1:
        out.push(`${indent}${g.pick(MUTABLE)} ${g.pick(["+=", "-=", "^=", "|="])} ${expr(g, 1, scope)};`);
        break;
      case 2:
        out.push(`${indent}out.update(${g.int(6)}, ${expr(g, 2, scope)});`);
        break;
      case 3: {
        const p = `p${serial++}`;
        out.push(`${indent}const ${p} = ctx.${g.pick(["u8", "be16", "u32", "be32"])}(${g.int(40)});`);
        if (g.int(2) === 0) out.push(`${indent}if (${p} === null) return ${g.int(4)};`);
        else out.push(`${indent}if (${p} !== null) ${g.pick(MUTABLE)} += ${p};`);
        break;
      }
      case 4:
        out.push(`${indent}if (${cond(g, 1, scope)}) return ${g.int(4)};`);
        break;
      case 5:
      case 6: {
        out.push(`${indent}if (${cond(g, 2, scope)}) {`);
        out.push(...statements(g, depth - 1, scope, `${indent}  `));
        if (g.int(2) === 0) {
          out.push(`${indent}} else {`);
          out.push(...statements(g, depth - 1, scope, `${indent}  `));
        }
        out.push(`${indent}}`);
        break;
      }
      case 7: {
        const i = `i${serial++}`;
        out.push(`${indent}for (let ${i} = 0; ${i} < ${1 + g.int(6)}; ${i}++) {`);
        out.push(...statements(g, depth - 1, [...scope, i], `${indent}  `));
        out.push(`${indent}}`);
        break;
      }
      default: {
        out.push(`${indent}switch (${g.pick(scope)} & 3) {`);
        for (let k = 0; k < 3; k++) {
          out.push(`${indent}  case ${k}:`);
          out.push(...statements(g, 0, scope, `${indent}    `));
          if (g.int(3) > 0) out.push(`${indent}    break;`);
        }
        out.push(`${indent}}`);
      }
    }
  }
  return out;
}

function program(seed: number): string {
  const g = new Gen(seed);
  return [
    'import { map, program, u8, u16, u32, u64, i8, i32, i64 } from "rawbpf";',
    'const inp = map("array", { key: u32, value: u64, maxEntries: 4 });',
    'const out = map("array", { key: u32, value: u64, maxEntries: 8 });',
    'export const prog = program("xdp", (ctx) => {',
    "  const e0 = inp.lookup(0);",
    "  if (e0 === null) return 0;",
    "  const e1 = inp.lookup(1);",
    "  if (e1 === null) return 0;",
    "  const x0: u8 = e0.value as u8;",
    "  const x1: u32 = e0.value as u32;",
    "  const x2: i32 = e1.value as i32;",
    "  const x3: u64 = e1.value;",
    "  let a: u32 = 0;",
    "  let b: i64 = 0;",
    "  let c: u16 = 0;",
    ...statements(g, 2, VARS, "  "),
    "  out.update(6, a);",
    "  out.update(7, b ^ c);",
    "  return (a + b + c) & 3;",
    "});",
  ].join("\n");
}

test("optimized and unoptimized programs agree on return values and maps, on random programs", (t) => {
  if (!needsRoot(t)) return;
  using inp = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 4, name: "inp" });
  using out = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 8, name: "out" });
  let before = 0;
  let after = 0;
  let compiled = 0;
  const value = fc.oneof(
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    fc.constantFrom(0n, 1n, 2n, 3n, 255n, 0xffffn, 0xffffffffn, (1n << 64n) - 1n, 1n << 63n),
  );
  fc.assert(
    fc.property(
      fc.integer(),
      fc.array(value, { minLength: 2, maxLength: 2 }),
      fc.uint8Array({ minLength: 14, maxLength: 48 }),
      (seed, inputs, packet) => {
        const src = program(seed);
        let plain: ReturnType<typeof compile>;
        let opt: ReturnType<typeof compile>;
        try {
          plain = compile(src, { file: "random.ts", optimize: false });
          opt = compile(src, { file: "random.ts" });
        } catch (e) {
          // documented refusals of the generated source (a too deep expression) are not the subject
          if (e instanceof CompileError) return;
          throw e;
        }
        compiled++;
        const run = (p: ReturnType<typeof compile>) => {
          using prog = Program.load({
            type: "xdp",
            name: "random",
            instructions: p.programs[0]!,
            maps: { inp, out },
          });
          inputs.forEach((v, i) => {
            inp.set(i, v);
          });
          for (let k = 0; k < 8; k++) out.set(k, 0xdeadn);
          const retval = prog.testRun({ data: Buffer.from(packet) }).retval;
          const maps = Array.from({ length: 8 }, (_, k) => out.get(k));
          return { retval, maps, xlated: prog.info().xlatedLength / 8 };
        };
        const a = run(plain);
        const b = run(opt);
        before += a.xlated;
        after += b.xlated;
        assert.deepEqual(
          { retval: b.retval, maps: b.maps },
          { retval: a.retval, maps: a.maps },
          `optimized differs from unoptimized for seed ${seed}, inputs [${inputs.join(", ")}], packet ${Buffer.from(packet).toString("hex")}:\n${src}`,
        );
      },
    ),
    { numRuns: 60, seed: Number(process.env.OPT_SEED ?? 20261207) },
  );
  assert.ok(compiled >= 30, `only ${compiled} of 60 random programs compiled`);
  t.diagnostic(`xlated instructions over ${compiled} programs: ${before} unoptimized, ${after} optimized`);
});

test("the jump rewrites made as defined (short functions) and by work lists (long ones) give the same code", () => {
  // compile()'s whole output (instructions, functions, line info, maps) under each way, on the
  // random programs above, the size test's demo-like programs and a switch long enough for the
  // work lists to matter; a source the compiler refuses is refused under both
  const both = (src: string, file: string) => {
    const under = (way: "short" | "long") => {
      try {
        // what compile() gives, but the names of the labels the optimizer made (a counter's)
        const m = withJumpRewrites(way, () => compile(src, { file }));
        return {
          maps: m.maps,
          programs: m.programs.map((p) => ({
            bytes: Buffer.from(encode(p.insns)).toString("hex"),
            functions: p.functions,
            lineInfo: p.lineInfo,
            mapRefs: p.mapRefs,
            stackSize: p.stackSize,
          })),
        };
      } catch (e) {
        if (e instanceof CompileError) return e.message;
        throw e;
      }
    };
    const short = under("short");
    assert.deepEqual(under("long"), short, `the two ways differ on ${file}:\n${src}`);
    return typeof short !== "string";
  };
  let compiled = 0;
  fc.assert(
    fc.property(fc.integer(), (seed) => {
      if (both(program(seed), `random-${seed}.ts`)) compiled++;
    }),
    { numRuns: 300, seed: Number(process.env.OPT_SEED ?? 20261208) },
  );
  assert.ok(compiled >= 150, `only ${compiled} of 300 random programs compiled`);
  assert.ok(both(largeSwitch(400), "large.ts"), "the 400-case switch compiles");
});
