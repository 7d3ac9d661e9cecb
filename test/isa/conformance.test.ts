/**
 * The bpf_conformance suite run in the kernel: every test is assembled by our uBPF-dialect
 * assembler (or taken from its raw words), wrapped as an XDP program that calls it as a
 * subprogram and stores r0 into a one-entry array map, loaded, run with BPF_PROG_TEST_RUN, and
 * compared with the expected result. Tests the verifier refuses are listed, with the kernel's
 * reason, in conformance-refused.json; a change either way fails the run
 * (UPDATE_CONFORMANCE=1 rewrites the list). Every negative case must be refused.
 */

import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { AsmErrors, assemble } from "../../src/isa/asm/index.js";
import { decode } from "../../src/isa/decode.js";
import { encode } from "../../src/isa/encode.js";
import { DecodeError } from "../../src/isa/errors.js";
import type { Instruction } from "../../src/isa/insn.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { refusalLog } from "../../src/program/rejected.js";
import { conformanceSections, hexBytes, rawBytes, SUITE } from "../support/conformance.js";
import { needsRoot } from "../support/privilege.js";

const REFUSED_FILE = join(import.meta.dirname, "conformance-refused.json");
const KNOWN_SECTIONS = new Set(["asm", "raw", "mem", "result", "error", "c", "no register offset"]);

interface Case {
  sections: Map<string, string>;
}

function parseCase(text: string): Case {
  return { sections: conformanceSections(text) };
}

/** The test body's instructions, or an exception from our assembler or decoder. */
function body(c: Case, file: string): Instruction[] {
  for (const name of c.sections.keys())
    if (!KNOWN_SECTIONS.has(name)) throw new Error(`${file}: unknown section '-- ${name}'`);
  const raw = c.sections.get("raw");
  if (raw !== undefined) return decode(rawBytes(raw));
  const src = c.sections.get("asm");
  if (src === undefined) throw new Error(`${file}: no program (neither -- asm nor -- raw)`);
  return assemble(src, { file, dialect: "ubpf" }).insns;
}

/** The XDP wrapper: prologue, call the body, store r0 in the result map, return XDP_PASS. */
function wrap(insns: Instruction[], memLength: number | undefined): Instruction[] {
  const prologue =
    memLength === undefined
      ? "r1 = 0\nr2 = 0\n"
      : `r2 = *(u32 *)(r1 + 4)\nr1 = *(u32 *)(r1 + 0)\nr3 = r1\nr3 += ${memLength}\nif r3 > r2 goto out\nr2 = ${memLength}\n`;
  const wrapper = assemble(
    `.map result type=array key=4 value=8 entries=1\n${prologue}call body\nr1 = map_value(result)\n*(u64 *)(r1 + 0) = r0\nout:\nr0 = 2\nexit\nbody:\nexit`,
    { file: "wrapper" },
  ).insns;
  wrapper.pop(); // the placeholder body
  return [...wrapper, ...insns];
}

function lastReason(log: string | undefined, fallback: string): string {
  const lines = (log ?? "")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !/^(processed|verification time|stack depth|mark_precise)/.test(l));
  return lines.at(-1) ?? fallback;
}

type Outcome = { kind: "ok" } | { kind: "refused"; reason: string } | { kind: "wrong"; got: bigint };

function runInKernel(
  insns: Instruction[],
  mem: Uint8Array | undefined,
  expected: bigint | undefined,
): Outcome {
  using result = BpfMap.create({ type: "array", keySize: 4, valueSize: 8, maxEntries: 1 });
  let prog: Program;
  try {
    prog = Program.load({
      type: "xdp",
      instructions: wrap(insns, mem?.length),
      maps: { result },
      logLevel: 1,
    });
  } catch (e) {
    const err = e as Error;
    return { kind: "refused", reason: lastReason(refusalLog(e), err.message.split("\n")[0] ?? "") };
  }
  using _ = prog;
  const data = new Uint8Array(Math.max(14, mem?.length ?? 0));
  if (mem) data.set(mem);
  prog.testRun({ data });
  const v = Buffer.from(result.get(new Uint8Array(4)) as Uint8Array).readBigUInt64LE(0);
  if (expected !== undefined && v !== expected) return { kind: "wrong", got: v };
  return { kind: "ok" };
}

test("the conformance suite runs in the kernel: accepted tests pass, refused tests are the listed ones", (t) => {
  if (!needsRoot(t)) return;
  const refusedNow: Record<string, string> = {};
  const failures: string[] = [];
  const files = readdirSync(join(SUITE, "tests"))
    .filter((f) => f.endsWith(".data"))
    .sort();
  assert.ok(files.length > 300);
  for (const file of files) {
    const c = parseCase(readFileSync(join(SUITE, "tests", file), "utf8"));
    let insns: Instruction[];
    try {
      insns = body(c, file);
    } catch (e) {
      failures.push(`${file}: our assembler refused it: ${(e as Error).message}`);
      continue;
    }
    // raw words and assembly must agree where both are given
    const src = c.sections.get("asm");
    if (c.sections.has("raw") && src !== undefined)
      assert.deepEqual(
        encode(assemble(src, { dialect: "ubpf" }).insns),
        encode(insns),
        `${file}: asm and raw differ`,
      );
    const memText = c.sections.get("mem");
    const mem = memText === undefined ? undefined : hexBytes(memText);
    const resultText = c.sections.get("result")?.trim();
    const expected = resultText ? BigInt.asUintN(64, BigInt(resultText)) : undefined;
    const outcome = runInKernel(insns, mem, expected);
    if (outcome.kind === "refused") refusedNow[file] = outcome.reason;
    else if (outcome.kind === "wrong")
      failures.push(`${file}: r0 = 0x${outcome.got.toString(16)}, expected 0x${expected?.toString(16)}`);
  }
  if (process.env.UPDATE_CONFORMANCE === "1")
    writeFileSync(REFUSED_FILE, `${JSON.stringify(refusedNow, null, 2)}\n`);
  const listed = JSON.parse(readFileSync(REFUSED_FILE, "utf8")) as Record<string, string>;
  assert.deepEqual(failures, []);
  assert.deepEqual(
    Object.keys(refusedNow).sort(),
    Object.keys(listed).sort(),
    "the set of tests the verifier refuses changed: check conformance-refused.json",
  );
  t.diagnostic(
    `${files.length - Object.keys(refusedNow).length} passed in the kernel, ${Object.keys(refusedNow).length} refused by the verifier (listed)`,
  );
});

test("every negative case is refused by our assembler or decoder, or else by the kernel", (t) => {
  const files = readdirSync(join(SUITE, "negative"))
    .filter((f) => f.endsWith(".data"))
    .sort();
  // these two are well-formed programs: one reads r0 before writing it, the other expects a wrong result
  const kernelCases = new Set(["error.data", "incorrect_return_value_high_bits.data"]);
  for (const file of files) {
    const c = parseCase(readFileSync(join(SUITE, "negative", file), "utf8"));
    if (kernelCases.has(file)) {
      if (!needsRoot(t)) continue;
      const insns = body(c, file);
      const memText = c.sections.get("mem");
      const expected = BigInt.asUintN(64, BigInt(c.sections.get("result")?.trim() || "0"));
      const outcome = runInKernel(insns, memText ? hexBytes(memText) : undefined, expected);
      assert.notEqual(outcome.kind, "ok", `${file} was accepted and gave the expected result`);
      continue;
    }
    assert.throws(
      () => body(c, file),
      (e: unknown) => {
        const ours = e instanceof AsmErrors || e instanceof DecodeError;
        const noProgram = e instanceof Error && /no program|unknown section/.test(e.message);
        assert.ok(ours || noProgram, `${file}: refused for the wrong reason: ${String(e)}`);
        return true;
      },
      `${file} was not refused`,
    );
  }
});
