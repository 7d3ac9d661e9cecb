/**
 * The assembler and disassembler, whole process, against LLVM on the same input in the same run:
 * `node bin/rawbpf.js asm` on a 200,000-line file vs `llvm-mc-19 -filetype=obj`, and
 * `node bin/rawbpf.js disasm` on 200,000 instructions vs `llvm-objdump-19 -d`. Each command runs
 * ROUNDS times, alternating ours and LLVM's so machine load hits both alike; prints the medians
 * and the ratios (goal: at most half of LLVM's time).
 *
 * Run: `npm run bench -- asm` (builds dist first) or `npx tsc -p . && node --import tsx bench/asm.bench.ts`.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { disassemble } from "../src/isa/disasm.js";
import { encode } from "../src/isa/encode.js";
import type { Instruction } from "../src/isa/insn.js";
import { AtomicOp, Class, JmpOp, LD_IMM64, Mode } from "../src/isa/opcode.js";
import { arbitraryInstruction } from "../test/isa/arbitrary.js";

const LINES = Number(process.env.ASM_BENCH_LINES ?? 200_000);
const ROUNDS = Number(process.env.ASM_BENCH_ROUNDS ?? 7);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const build = join(root, "bench", ".build");
mkdirSync(build, { recursive: true });

/** Instructions both we and llvm-19 have text for. */
function common(i: Instruction): boolean {
  const cls = i.code & 7;
  if (i.code === LD_IMM64) return i.src === 0;
  if (cls === Class.STX && (i.code & 0xe0) === Mode.ATOMIC)
    return i.imm !== AtomicOp.LOAD_ACQ && i.imm !== AtomicOp.STORE_REL;
  if (cls === Class.LD && (i.code & 0xe0) === Mode.IND) return i.imm === 0;
  if (cls === Class.JMP && (i.code & 0xf0) === JmpOp.CALL) return i.src === 0;
  if (cls === Class.JMP32 && (i.code & 0xf0) === JmpOp.JA) return i.imm >= -0x8000 && i.imm <= 0x7fff;
  return true;
}

function once(cmd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const p = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"], maxBuffer: 1 << 30 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (p.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${p.stderr}`);
  return ms;
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Median times of two commands run alternately, after one unmeasured warm-up run of each. */
function pair(a: [string, string[]], b: [string, string[]]): [number, number] {
  once(...a);
  once(...b);
  const ta: number[] = [];
  const tb: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    ta.push(once(...a));
    tb.push(once(...b));
  }
  return [median(ta), median(tb)];
}

const sample = fc.sample(arbitraryInstruction.filter(common), { numRuns: 4096, seed: 7 });
const insns: Instruction[] = [];
while (insns.length < LINES) insns.push(sample[insns.length % sample.length] as Instruction);
const source = disassemble(insns, { labels: false, helperNames: false });
const src = join(build, "asm-bench.s");
const bin = join(build, "asm-bench.bin");
const obj = join(build, "asm-bench.o");
writeFileSync(src, source);
writeFileSync(bin, encode(insns));
const cli = join(root, "bin", "rawbpf.js");

const [ourAsm, llvmAsm] = pair(
  [process.execPath, [cli, "asm", src, "-o", join(build, "asm-bench.out")]],
  ["llvm-mc-19", ["-triple", "bpfel", "-mcpu=v4", "-filetype=obj", src, "-o", obj]],
);
const [ourDis, llvmDis] = pair(
  [process.execPath, [cli, "disasm", bin]],
  ["llvm-objdump-19", ["-d", "--mcpu=v4", obj]],
);

const row = (name: string, ours: number, theirs: number, tool: string) =>
  console.log(
    `${name.padEnd(8)} rawbpf ${ours.toFixed(0).padStart(6)} ms   ${tool.padEnd(16)} ${theirs.toFixed(0).padStart(6)} ms   ratio ${(ours / theirs).toFixed(2)} (goal <= 0.50)`,
  );
console.log(`${LINES} instructions, whole process, median of ${ROUNDS} runs each`);
row("asm", ourAsm, llvmAsm, "llvm-mc-19");
row("disasm", ourDis, llvmDis, "llvm-objdump-19");
