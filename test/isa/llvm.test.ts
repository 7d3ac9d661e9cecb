/**
 * LLVM as an oracle: random valid instructions are disassembled by us, assembled by llvm-mc-19,
 * and the bytes compared with our encoder; llvm-objdump-19's text of the same bytes is then
 * assembled by us and must give the same bytes again. Under CI=true a missing LLVM fails.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { assemble } from "../../src/isa/asm/index.js";
import { disassemble } from "../../src/isa/disasm.js";
import { encode } from "../../src/isa/encode.js";
import { skipUnlessCI } from "../support/ci.js";
import { arbitraryInstruction, llvmKnows } from "./arbitrary.js";

const TOOLS = ["llvm-mc-19", "llvm-objcopy-19", "llvm-objdump-19"];

/** The LLVM tools this test needs that are not installed (.ci/run installs llvm-19). */
function missingLlvm(): string[] {
  return TOOLS.filter((tool) => {
    try {
      execFileSync(tool, ["--version"], { stdio: "ignore" });
      return false;
    } catch {
      return true;
    }
  });
}

function llvmAssemble(dir: string, text: string): Uint8Array {
  const s = join(dir, "p.s");
  const o = join(dir, "p.o");
  const bin = join(dir, "p.bin");
  writeFileSync(s, text);
  execFileSync("llvm-mc-19", ["-triple", "bpfel", "-mcpu=v4", "-filetype=obj", s, "-o", o]);
  execFileSync("llvm-objcopy-19", ["-O", "binary", "--only-section=.text", o, bin]);
  return readFileSync(bin);
}

/** llvm-objdump's listing reduced to instruction text our assembler reads. */
function objdumpText(dir: string): string {
  const out = execFileSync("llvm-objdump-19", ["-d", "--mcpu=v4", "--no-show-raw-insn", join(dir, "p.o")], {
    encoding: "utf8",
    maxBuffer: 1 << 28,
  });
  const lines: string[] = [];
  for (const line of out.split("\n")) {
    const m = /^\s*\d+:\s+(.*)$/.exec(line);
    if (m === null) continue;
    lines.push((m[1] as string).replace(/\s*<[^<>]*>\s*$/, ""));
  }
  return `${lines.join("\n")}\n`;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.max(a.length, b.length); i += 8)
    if (Buffer.compare(Buffer.from(a.subarray(i, i + 8)), Buffer.from(b.subarray(i, i + 8))) !== 0)
      return i / 8;
  return -1;
}

test("llvm-mc assembles our disassembly of random instructions to our bytes, and we assemble llvm-objdump's text to them too", (t) => {
  const missing = missingLlvm();
  if (missing.length > 0) return skipUnlessCI(t, `${missing.join(", ")} not installed (Debian: llvm-19)`);
  const insns = fc.sample(arbitraryInstruction.filter(llvmKnows), { numRuns: 4000, seed: 42 });
  const ours = encode(insns);
  const text = disassemble(insns, { labels: false, helperNames: false });
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-llvm-"));
  try {
    const theirs = llvmAssemble(dir, text);
    const at = firstDifference(ours, theirs);
    assert.equal(at, -1, `llvm-mc disagrees at slot ${at}; our text:\n${text}`);
    const back = encode(assemble(objdumpText(dir), { file: "llvm-objdump" }).insns);
    assert.equal(firstDifference(ours, back), -1, "our assembler read llvm-objdump's text differently");
  } finally {
    rmSync(dir, { recursive: true });
  }
});
