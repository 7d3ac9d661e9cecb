/**
 * The assembler and disassembler, whole process, against LLVM on the same input in the same run:
 * `node bin/rawbpf.js asm` on a 200,000-line file vs `llvm-mc-19 -filetype=obj`, and
 * `node bin/rawbpf.js disasm` on 200,000 instructions vs `llvm-objdump-19 -d`. Each command runs
 * ROUNDS times (after a warm-up run), in turns so machine load hits all alike, timed by bash's
 * `time` with NODE_EXTRA_CA_CERTS unset (bench/support.ts); prints the medians and the ratios
 * (goal: at most half of LLVM's time), and Node's own start-up.
 *
 * Run: `npm run bench -- asm` (builds dist first) or `npx tsc -p . && node --import tsx bench/asm.bench.ts`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { disassemble } from "../src/isa/disasm.js";
import { encode } from "../src/isa/encode.js";
import type { Instruction } from "../src/isa/insn.js";
import { arbitraryInstruction, llvmKnows } from "../test/isa/arbitrary.js";
import { nodeStartCommands, printNodeStart, type Run, timeAll } from "./support.js";

const LINES = Number(process.env.ASM_BENCH_LINES ?? 200_000);
const ROUNDS = Number(process.env.ASM_BENCH_ROUNDS ?? 7);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const build = join(root, "bench", ".build");
mkdirSync(build, { recursive: true });

const sample = fc.sample(arbitraryInstruction.filter(llvmKnows), { numRuns: 4096, seed: 7 });
const insns: Instruction[] = [];
while (insns.length < LINES) insns.push(sample[insns.length % sample.length] as Instruction);
const source = disassemble(insns, { labels: false, helperNames: false });
const src = join(build, "asm-bench.s");
const bin = join(build, "asm-bench.bin");
const obj = join(build, "asm-bench.o");
writeFileSync(src, source);
writeFileSync(bin, encode(insns));

const node = JSON.stringify(process.execPath);
const cli = `${node} ${JSON.stringify(join(root, "bin", "rawbpf.js"))}`;
const q = JSON.stringify;
const start = nodeStartCommands();
const t = timeAll(
  {
    ourAsm: `${cli} asm ${q(src)} -o ${q(join(build, "asm-bench.out"))}`,
    llvmAsm: `llvm-mc-19 -triple bpfel -mcpu=v4 -filetype=obj ${q(src)} -o ${q(obj)}`,
    ourDis: `${cli} disasm ${q(bin)}`,
    llvmDis: `llvm-objdump-19 -d --mcpu=v4 ${q(obj)}`,
    ...start.commands,
  },
  ROUNDS,
  start.keepEnv,
);

const ms = (x: number) => x.toFixed(0).padStart(4);
const row = (name: string, ours: Run, theirs: Run, tool: string) =>
  console.log(
    `${name.padEnd(8)} rawbpf ${ms(ours.wall)} ms (CPU ${ms(ours.cpu)})   ${tool.padEnd(16)} ${ms(theirs.wall)} ms (CPU ${ms(theirs.cpu)})   ratio ${(ours.wall / theirs.wall).toFixed(2)} (goal <= 0.50)`,
  );
console.log(`${LINES} instructions, whole processes, median of ${ROUNDS} runs each, in turns:`);
row("asm", t.ourAsm as Run, t.llvmAsm as Run, "llvm-mc-19");
row("disasm", t.ourDis as Run, t.llvmDis as Run, "llvm-objdump-19");
printNodeStart(t);
