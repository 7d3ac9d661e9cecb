/** `rawbpf run FILE --type TYPE`: load a program and run it once with BPF_PROG_TEST_RUN. */

import { InterpProgram } from "../interp/program.js";
import { decode } from "../isa/decode.js";
import { formatInstruction } from "../isa/disasm.js";
import { createAsmMaps } from "../program/assembled.js";
import { programBytes } from "../program/instructions.js";
import { Program } from "../program/program.js";
import { InputError } from "../sys/error.js";
import { intFlag, parseArgs } from "./args.js";
import { type CliIo, readInput, TEST_RUN_LIMIT, UsageError } from "./io.js";
import {
  type Loaded,
  loadObject,
  loadOrReport,
  loadSpec,
  loadTypeScript,
  PROGRAM_FLAGS,
  readProgram,
} from "./load.js";

const HELP = `usage: rawbpf run FILE [--type TYPE | --program NAME] [options]

Loads a program and runs it with BPF_PROG_TEST_RUN on the given packet data and context; prints
its return value, the average duration, and the data as the program left it.

FILE is as for 'rawbpf load': raw instruction bytes, '-' for standard input, assembly text, an
object compiled by clang (.o) or a TypeScript file of programs (.ts); with several programs in
the file, --program names the one to run.

Programs that see a packet from its network header (socket_filter, cgroup_skb, lwt_*) get the
data's first 14 bytes taken as the Ethernet header: the program starts after them, and the
kernel gives them back zeroed in the data out (a note says so). @FILE inputs are read up to 1 MiB.

options:
  --type TYPE        program type (socket_filter, xdp, sched_cls, syscall, ...)
  --data HEX|@FILE   packet data in, as hex digits or @path to a file (skb and XDP types need 14+ bytes)
  --ctx HEX|@FILE    context in (struct __sk_buff, struct xdp_md, a syscall program's arguments)
  --repeat N         run N times; the duration is the average (default 1)
  --log-level N      verifier log level on rejection detail (0, 1, 2)
  --log-size BYTES   initial verifier log size
  --program NAME     the program of an object or TypeScript file to run
  --name NAME        program name
  --license TEXT     license (default GPL)
  --interpret        run in rawbpf's interpreter (no bpf() call, no root), maps in memory
                     (.s, .bin, .ts and clang .o files)
  --trace            with --interpret: print each instruction run, with the registers it changed
                     (with --json: one JSON object per instruction before the result)
  --json             print one JSON object: retval, duration_ns, data_out (hex), ctx_out (hex)
  -h, --help         this help
`;

/**
 * Program types whose test run starts the program at the network header: the kernel's
 * bpf_prog_test_run_skb pulls the Ethernet header off first (only tc's types see layer 2), and
 * pushes it back zeroed after.
 */
const FROM_NETWORK_HEADER = ["socket_filter", "cgroup_skb", "lwt_in", "lwt_out", "lwt_xmit", "lwt_seg6local"];

/** What happened to the Ethernet header in a test run of `type`, or undefined when nothing did. */
export function ethernetNote(type: string, dataIn: Uint8Array | undefined): string | undefined {
  if (!FROM_NETWORK_HEADER.includes(type) || !dataIn || dataIn.length < 14) return undefined;
  return (
    `the kernel's test run took the first 14 bytes of the data as the Ethernet header: the ${type} ` +
    `program saw the ${dataIn.length - 14} bytes after it (its packet starts at the network header), ` +
    "and the 14 bytes come back zeroed in the data out" +
    (type === "socket_filter" ? "; a socket filter's return value is how many bytes to keep (0 drops)" : "")
  );
}

/** Bytes from `HEX` (spaces, colons and 0x allowed) or `@FILE` (read up to 1 MiB). */
export async function bytesArg(value: string, flag: string, io: CliIo): Promise<Buffer> {
  if (value.startsWith("@")) {
    try {
      return await readInput(value.slice(1), io, TEST_RUN_LIMIT);
    } catch (e) {
      if (e instanceof InputError) throw new InputError(`--${flag}: ${e.message}`);
      throw e;
    }
  }
  const hex = value.replace(/0x/gi, "").replace(/[\s:_-]/g, "");
  if (!/^([0-9a-f]{2})*$/i.test(hex)) {
    throw new UsageError(`--${flag} must be hex digits in pairs (e.g. 00112233) or @FILE, got '${value}'`);
  }
  return Buffer.from(hex, "hex");
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, {
    values: [...PROGRAM_FLAGS, "data", "ctx", "repeat"],
    booleans: ["json", "interpret", "trace"],
  });
  if (args.bools.has("help")) {
    io.stdout(HELP);
    return 0;
  }
  if (args.positionals.length !== 1) throw new UsageError("expected one FILE (or '-' for standard input)");
  const json = args.bools.has("json");
  const data = args.flags.has("data") ? await bytesArg(args.flags.get("data")!, "data", io) : undefined;
  const ctx = args.flags.has("ctx") ? await bytesArg(args.flags.get("ctx")!, "ctx", io) : undefined;
  const repeat = intFlag(args, "repeat", 1, 1, 0xffffffff);
  if (args.bools.has("trace")) {
    if (!args.bools.has("interpret"))
      throw new UsageError("--trace needs --interpret (the kernel runs programs untraced)");
    if (repeat !== 1) throw new UsageError("--trace runs the program once: leave out --repeat");
  }
  const loaded = args.bools.has("interpret")
    ? await interpreted(args, io)
    : await loadOrReport(args, json, io, "run");
  if (typeof loaded === "number") return loaded;
  using l: Interpreted = loaded;
  const r = l.trace
    ? l.trace({ ...(data ? { data } : {}), ...(ctx ? { ctx } : {}) }, json, io)
    : l.program.testRun({ ...(data ? { data } : {}), ...(ctx ? { ctx } : {}), repeat });
  const note = ethernetNote(l.program.type, data);
  if (json) {
    io.stdout(
      `${JSON.stringify({
        retval: r.retval,
        duration_ns: r.duration,
        data_out: r.dataOut.toString("hex"),
        ctx_out: r.ctxOut.toString("hex"),
        repeat,
        ...(note ? { note } : {}),
      })}\n`,
    );
    return 0;
  }
  io.stdout(`retval: ${r.retval} (0x${r.retval.toString(16)})\n`);
  io.stdout(`duration: ${r.duration} ns${repeat > 1 ? ` (average of ${repeat} runs)` : ""}\n`);
  if (r.dataOut.length > 0) io.stdout(`data out (${r.dataOut.length} bytes): ${r.dataOut.toString("hex")}\n`);
  if (r.ctxOut.length > 0) io.stdout(`ctx out (${r.ctxOut.length} bytes): ${r.ctxOut.toString("hex")}\n`);
  if (note) io.stdout(`note: ${note}\n`);
  return 0;
}

/** What a traced run gives back: what testRun gives. */
interface TracedResult {
  retval: number;
  duration: number;
  dataOut: Buffer;
  ctxOut: Buffer;
}

/** An interpreted program; with `--trace`, a traced run of the same instructions beside it. */
interface Interpreted extends Loaded {
  trace?: (input: { data?: Uint8Array; ctx?: Uint8Array }, json: boolean, io: CliIo) => TracedResult;
}

/** `--interpret`: the program and its maps on the memory back end. */
async function interpreted(args: Parameters<typeof loadSpec>[0], io: CliIo): Promise<Interpreted> {
  const file = args.positionals[0]!;
  const typescript = /\.[cm]?ts$/i.test(file);
  const source = typescript ? undefined : await readProgram(file, io, "run", true);
  if (typescript || source?.object) {
    // a TypeScript file compiled here, or a clang object: maps and program on the memory back end
    const l = source?.object
      ? loadObject(args, file, source.object, "run", "memory")
      : loadTypeScript(args, file, "run", (await import("../lang/compile.js")).compile, "memory");
    const program = l.program;
    const tracer =
      args.bools.has("trace") && program.instructions
        ? new InterpProgram(program.instructions, { type: program.type, trace: true })
        : undefined;
    return {
      program,
      ...(tracer ? { trace: (input, json, out) => traceRun(tracer, input, json, out) } : {}),
      [Symbol.dispose]: () => {
        tracer?.close();
        l[Symbol.dispose]();
      },
    };
  }
  if (source === undefined) throw new Error("unreachable: a TypeScript file was handled above");
  const spec = loadSpec(args, source);
  const maps = source.asm ? createAsmMaps(source.asm, "memory") : {};
  let traced: InterpProgram | undefined;
  const dispose = () => {
    traced?.close();
    for (const m of Object.values(maps)) m.close();
  };
  try {
    const program = Program.load({ ...spec, maps, backend: "memory" });
    if (args.bools.has("trace")) {
      // the same linked instructions, compiled with a call to the step hook before each one
      const { bytes, insns } = programBytes(spec.instructions, { maps });
      traced = new InterpProgram(insns ?? decode(bytes), { type: program.type, trace: true });
    }
    const tracer = traced;
    return {
      program,
      ...(tracer ? { trace: (input, json, out) => traceRun(tracer, input, json, out) } : {}),
      [Symbol.dispose]: () => {
        program.close();
        dispose();
      },
    };
  } catch (e) {
    dispose();
    throw e;
  }
}

const REGS = ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10"];
const hex = (v: bigint) => `0x${v.toString(16)}`;

/**
 * Runs `prog` once with its step hook on, printing each instruction run (slot, text) with the
 * registers it changed: the hook sees the registers before each instruction, so an instruction's
 * line is printed when the next one starts (the last one's against r0 at exit).
 */
function traceRun(
  prog: InterpProgram,
  input: { data?: Uint8Array; ctx?: Uint8Array },
  json: boolean,
  io: CliIo,
): TracedResult {
  let step = 0;
  let slot = -1;
  let before: readonly bigint[] = [];
  const print = (after: readonly (bigint | undefined)[]) => {
    const insn = prog.bySlot[slot];
    const text = insn ? formatInstruction(insn) : "(not an instruction)";
    const changed: [string, bigint, bigint][] = [];
    for (let r = 0; r < REGS.length; r++) {
      const a = after[r];
      if (a !== undefined && a !== before[r]) changed.push([REGS[r]!, before[r]!, a]);
    }
    if (json) {
      const changes = Object.fromEntries(changed.map(([n, b, a]) => [n, { from: hex(b), to: hex(a) }]));
      io.stdout(`${JSON.stringify({ step, slot, insn: text, changes })}\n`);
    } else {
      const diff = changed.map(([n, b, a]) => `${n} ${hex(b)} -> ${hex(a)}`).join(", ");
      const head = `${String(step).padStart(6)} ${String(slot).padStart(5)}: ${text}`;
      io.stdout(`${diff ? `${head.padEnd(46)} ; ${diff}` : head}\n`);
    }
    step++;
  };
  const t0 = process.hrtime.bigint();
  let r: ReturnType<InterpProgram["run"]>;
  try {
    r = prog.run({
      ...input,
      onStep: (next, regs) => {
        if (slot >= 0) print(regs);
        slot = next;
        before = regs;
      },
    });
  } catch (e) {
    if (slot >= 0) print([]); // the instruction that stopped the run, before its error
    throw e;
  }
  const duration = Number(process.hrtime.bigint() - t0);
  if (slot >= 0) print([r.r0]);
  return { retval: r.retval, duration, dataOut: Buffer.from(r.dataOut), ctxOut: Buffer.from(r.ctxOut) };
}
