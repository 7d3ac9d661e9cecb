/**
 * subprogram: a bpf-to-bpf call. The main program `pythagoras` calls the static function
 * `square` twice and returns 3² + 4² = 25. `Program.load` gives the kernel BTF for it on its own:
 * a FUNC_PROTO and FUNC for each function and the func_info records saying where each starts, so
 * the kernel knows `square` by name. Loaded again with `btf: false`, the kernel still accepts it
 * (a static function is verified in its caller's context and needs no types) but no longer knows
 * the function's name: its JIT-compiled code is listed in /proc/kallsyms as `..._F`.
 *
 * Run alone: `node --import tsx examples/subprogram.ts`
 */

import { readFileSync } from "node:fs";
import { add, callLocal, exit, mov, mul, Program, ProgramBuilder, R0, R1, R6 } from "../src/index.js";
import { type Log, runIfMain } from "./main.js";

/** One load of the program, as the kernel saw it. */
export interface SubprogramLoad {
  /** what the program returned in a test run */
  retval: number;
  /** the program's BTF id (0 without BTF) */
  btfId: number;
  /** func_info records the kernel kept */
  funcInfoCount: number;
  /** function names and linkage from the program's BTF ("?" without) */
  functions: string[];
  /** the JIT-compiled functions' names in /proc/kallsyms (empty when addresses are hidden) */
  symbols: string[];
  /** the level-2 verifier log */
  log: string;
}

/** What the demo saw: the load with rawbpf's BTF, then without any. */
export interface SubprogramResult {
  withBtf: SubprogramLoad;
  withoutBtf: SubprogramLoad;
}

/** `pythagoras`: r0 = square(3) + square(4); r6 keeps the first square across the second call. */
export function buildPythagoras(): ReturnType<ProgramBuilder["build"]> {
  const b = new ProgramBuilder("pythagoras");
  b.emit(
    mov(R1, 3),
    callLocal("square"), // r0 = square(3); r1..r5 are clobbered, r6..r9 kept
    mov(R6, R0),
    mov(R1, 4),
    callLocal("square"),
    add(R0, R6),
    exit(),
  );
  b.function("square", (f) => f.emit(mov(R0, R1), mul(R0, R1), exit()));
  return b.build();
}

/** The kallsyms name of each address ("" when not found). */
function symbolNames(addresses: readonly bigint[]): string[] {
  if (addresses.every((a) => a === 0n)) return [];
  const wanted = new Map(addresses.map((a) => [a.toString(16).padStart(16, "0"), ""]));
  for (const line of readFileSync("/proc/kallsyms", "utf8").split("\n")) {
    const at = line.indexOf(" ");
    const key = line.slice(0, at);
    if (wanted.has(key)) wanted.set(key, line.split(/\s+/)[2] ?? "");
  }
  return [...wanted.values()];
}

function loadOnce(btf: false | undefined): SubprogramLoad {
  using program = Program.load({
    type: "socket_filter",
    name: "pythagoras",
    instructions: buildPythagoras(),
    logLevel: 2,
    ...(btf === false ? { btf } : {}),
  });
  const fns = program.functions();
  return {
    retval: program.testRun({ data: Buffer.alloc(14) }).retval,
    btfId: fns.btfId,
    funcInfoCount: fns.funcInfoCount,
    functions: fns.functions.map((f) =>
      f.name === undefined ? "?" : `${f.linkage} ${f.name} @${f.insnOffset}`,
    ),
    symbols: symbolNames(fns.functions.map((f) => f.address)),
    log: program.log,
  };
}

export async function run(log: Log): Promise<SubprogramResult> {
  const built = buildPythagoras();
  log(
    `built 'pythagoras' (${built.insns.length} instructions): ` +
      built.functions.map((f) => `${f.name} at ${f.startSlot}`).join(", "),
  );
  const withBtf = loadOnce(undefined);
  log("loaded with the BTF rawbpf emits (FUNC_PROTO + FUNC per function, func_info records):");
  log(
    `  the verifier saw ${withBtf.log
      .split("\n")
      .filter((l) => /^func#\d+ @\d+/.test(l))
      .join(", ")}`,
  );
  log(
    `  BTF id ${withBtf.btfId}, ${withBtf.funcInfoCount} func_info records: ${withBtf.functions.join(", ")}`,
  );
  if (withBtf.symbols.length > 0) log(`  /proc/kallsyms: ${withBtf.symbols.join(", ")}`);
  log(`  test run returned ${withBtf.retval} (3² + 4²)`);

  const withoutBtf = loadOnce(false);
  log("loaded again with btf: false — the kernel accepts it: a static function needs no types,");
  log("the verifier checks it in its caller's context. But the kernel no longer knows its name:");
  log(`  BTF id ${withoutBtf.btfId}, ${withoutBtf.funcInfoCount} func_info records`);
  if (withoutBtf.symbols.length > 0) log(`  /proc/kallsyms: ${withoutBtf.symbols.join(", ")}`);
  log(`  test run returned ${withoutBtf.retval}`);
  return { withBtf, withoutBtf };
}

runIfMain(import.meta.url, run);
