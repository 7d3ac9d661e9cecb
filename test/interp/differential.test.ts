/**
 * Differential runs: random verifier-clean programs (test/interp/gen.ts) loaded into the kernel
 * and run with BPF_PROG_TEST_RUN, and run in the interpreter on in-memory maps; the return value,
 * every register at the end (stored in a map) and the contents of the maps they used must agree.
 * A mismatch prints the program, and the first differing register or map entry.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { MemoryMap } from "../../src/interp/maps.js";
import { InterpProgram } from "../../src/interp/program.js";
import { disassemble } from "../../src/isa/disasm.js";
import type { Instruction } from "../../src/isa/insn.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { needsRoot } from "../support/privilege.js";
import { arbitraryProgram } from "./gen.js";

const RUNS = Number(process.env.DIFF_RUNS ?? 1500);
const DATA = new Uint8Array(64).map((_, k) => k * 7);

interface State {
  retval: number;
  regs: bigint[];
  arr: string[];
  hash: string[];
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

function regsOf(b: Uint8Array): bigint[] {
  const v = Buffer.from(b);
  return Array.from({ length: 10 }, (_, r) => v.readBigUInt64LE(8 * r));
}

function inInterpreter(insns: Instruction[]): State {
  const maps = {
    result: new MemoryMap({ type: "array", keySize: 4, valueSize: 80, maxEntries: 1 }),
    arr: new MemoryMap({ type: "array", keySize: 4, valueSize: 16, maxEntries: 4 }),
    hash: new MemoryMap({ type: "hash", keySize: 8, valueSize: 8, maxEntries: 4 }),
  };
  const resolved = insns.map((x) =>
    x.ref?.kind === "map" ? { ...x, ref: undefined, imm: maps[x.ref.name as keyof typeof maps].fd } : x,
  );
  const r = new InterpProgram(resolved, { type: "socket_filter" }).run({ data: DATA });
  const out = new Uint8Array(80);
  maps.result.read(new Uint8Array(4), out);
  const arr: string[] = [];
  for (let k = 0; k < 4; k++) {
    const v = new Uint8Array(16);
    const key = new Uint8Array(4);
    key[0] = k;
    maps.arr.read(key, v);
    arr.push(hex(v));
  }
  const hash: string[] = [];
  const key = new Uint8Array(8);
  let prev: Uint8Array | undefined;
  while (maps.hash.nextKey(prev, key) === 0) {
    prev = key.slice();
    const v = new Uint8Array(8);
    maps.hash.read(prev, v);
    hash.push(`${hex(prev)}=${hex(v)}`);
  }
  return { retval: r.retval, regs: regsOf(out), arr, hash: hash.sort() };
}

test("random programs give the same registers, return value and maps in the kernel and the interpreter", (t) => {
  if (!needsRoot(t)) return;
  using result = BpfMap.create({ type: "array", keySize: 4, valueSize: 80, maxEntries: 1 });
  using arr = BpfMap.create({ type: "array", keySize: 4, valueSize: 16, maxEntries: 4 });
  using hash = BpfMap.create({ type: "hash", keySize: 8, valueSize: 8, maxEntries: 4 });
  const inKernel = (insns: Instruction[]): State => {
    for (let k = 0; k < 4; k++) arr.set(Uint8Array.of(k, 0, 0, 0), new Uint8Array(16));
    for (let k = 0; k < 8; k++) hash.delete(Uint8Array.of(k, 0, 0, 0, 0, 0, 0, 0));
    using prog = Program.load({ type: "socket_filter", instructions: insns, maps: { result, arr, hash } });
    const { retval } = prog.testRun({ data: DATA });
    const regs = regsOf(result.get(new Uint8Array(4)) as Uint8Array);
    const a: string[] = [];
    for (let k = 0; k < 4; k++) a.push(hex(arr.get(Uint8Array.of(k, 0, 0, 0)) as Uint8Array));
    const h: string[] = [];
    for (let k = 0; k < 8; k++) {
      const key = Uint8Array.of(k, 0, 0, 0, 0, 0, 0, 0);
      const v = hash.get(key) as Uint8Array | undefined;
      if (v !== undefined) h.push(`${hex(key)}=${hex(v)}`);
    }
    return { retval, regs, arr: a, hash: h.sort() };
  };
  let runs = 0;
  fc.assert(
    fc.property(arbitraryProgram, (insns) => {
      runs++;
      const k = inKernel(insns);
      const m = inInterpreter(insns);
      const diff: string[] = [];
      for (let r = 0; r < 10; r++)
        if (k.regs[r] !== m.regs[r])
          diff.push(`r${r}: kernel 0x${k.regs[r]!.toString(16)}, interpreter 0x${m.regs[r]!.toString(16)}`);
      if (k.retval !== m.retval) diff.push(`retval: kernel ${k.retval}, interpreter ${m.retval}`);
      if (k.arr.join() !== m.arr.join())
        diff.push(`arr: kernel ${k.arr.join(" ")}, interpreter ${m.arr.join(" ")}`);
      if (k.hash.join() !== m.hash.join())
        diff.push(`hash: kernel ${k.hash.join(" ")}, interpreter ${m.hash.join(" ")}`);
      if (diff.length > 0) {
        const text = disassemble(insns.map((x) => (x.ref ? { ...x, ref: undefined, imm: 0 } : x)));
        assert.fail(
          `kernel and interpreter differ (first: ${diff[0]}):\n${diff.join("\n")}\nprogram:\n${text}`,
        );
      }
    }),
    { numRuns: RUNS, includeErrorInReport: true },
  );
  t.diagnostic(`${runs} programs agreed`);
});
