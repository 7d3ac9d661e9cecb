/** Reading the bpf_conformance suite's `.data` files (test/fixtures/bpf_conformance). */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { assemble } from "../../src/isa/asm/index.js";
import { decode } from "../../src/isa/decode.js";
import type { Instruction } from "../../src/isa/insn.js";

export const SUITE = join(import.meta.dirname, "../fixtures/bpf_conformance");

export interface ConformanceCase {
  file: string;
  insns: Instruction[];
  mem: Uint8Array | undefined;
  expected: bigint | undefined;
}

function sections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("-- ")) {
      current = line.slice(3).trim();
      out.set(current, "");
    } else if (line.startsWith("#") && current !== "asm") {
    } else if (current !== undefined) out.set(current, `${out.get(current)}${line}\n`);
  }
  return out;
}

function rawBytes(raw: string): Uint8Array {
  const out: number[] = [];
  for (const line of raw.split("\n").map((l) => l.trim())) {
    if (line === "") continue;
    if (line.startsWith("0x")) {
      let v = BigInt(line);
      for (let i = 0; i < 8; i++, v >>= 8n) out.push(Number(v & 0xffn));
    } else for (const b of line.split(/\s+/)) out.push(Number.parseInt(b, 16));
  }
  return Uint8Array.from(out);
}

export function readCase(dir: string, file: string): ConformanceCase {
  const s = sections(readFileSync(join(SUITE, dir, file), "utf8"));
  const raw = s.get("raw");
  const insns =
    raw !== undefined ? decode(rawBytes(raw)) : assemble(s.get("asm") ?? "", { file, dialect: "ubpf" }).insns;
  const memText = s.get("mem");
  const mem =
    memText === undefined
      ? undefined
      : Uint8Array.from(
          memText
            .split(/\s+/)
            .filter((x) => x !== "")
            .map((x) => Number.parseInt(x, 16)),
        );
  const resultText = s.get("result")?.trim();
  const expected = resultText ? BigInt.asUintN(64, BigInt(resultText)) : undefined;
  return { file, insns, mem, expected };
}

export function caseFiles(dir: string): string[] {
  return readdirSync(join(SUITE, dir))
    .filter((f) => f.endsWith(".data"))
    .sort();
}
