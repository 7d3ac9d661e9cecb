/** Reading the bpf_conformance suite's `.data` files (test/fixtures/bpf_conformance). */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { assemble } from "../../src/isa/asm/index.js";
import { decode } from "../../src/isa/decode.js";
import type { Instruction } from "../../src/isa/insn.js";
import { conformanceSections, hexBytes, rawBytes, SUITE } from "../support/conformance.js";

export interface ConformanceCase {
  file: string;
  insns: Instruction[];
  mem: Uint8Array | undefined;
  expected: bigint | undefined;
}

export function readCase(dir: string, file: string): ConformanceCase {
  const s = conformanceSections(readFileSync(join(SUITE, dir, file), "utf8"));
  const raw = s.get("raw");
  const insns =
    raw !== undefined ? decode(rawBytes(raw)) : assemble(s.get("asm") ?? "", { file, dialect: "ubpf" }).insns;
  const memText = s.get("mem");
  const mem = memText === undefined ? undefined : hexBytes(memText);
  const resultText = s.get("result")?.trim();
  const expected = resultText ? BigInt.asUintN(64, BigInt(resultText)) : undefined;
  return { file, insns, mem, expected };
}

export function caseFiles(dir: string): string[] {
  return readdirSync(join(SUITE, dir))
    .filter((f) => f.endsWith(".data"))
    .sort();
}
