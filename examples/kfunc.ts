/**
 * kfunc: calling kernel functions by name. Unlike helpers, kfuncs have no fixed numbers: a call
 * names the function by its BTF id in the running kernel's BTF (`call` with source 2,
 * BPF_PSEUDO_KFUNC_CALL), so the id is looked up in /sys/kernel/btf/vmlinux when the program is
 * loaded. The program here uses the open-coded number iterator — bpf_iter_num_new, _next and
 * _destroy, which every program type may call — to add up the numbers from START to END - 1.
 * Its state (`struct bpf_iter_num`, 8 bytes) lives on the stack.
 *
 * Run alone: `node --import tsx examples/kfunc.ts`
 */

import { readFileSync } from "node:fs";
import {
  add,
  Btf,
  callKfunc,
  exit,
  ja,
  jeq,
  ldx,
  mov,
  Program,
  ProgramBuilder,
  R0,
  R1,
  R2,
  R3,
  R6,
  R10,
  UnknownKfuncError,
} from "../src/index.js";
import { type Log, runIfMain } from "./main.js";

/** The kfuncs the program calls. */
export const KFUNCS = ["bpf_iter_num_new", "bpf_iter_num_next", "bpf_iter_num_destroy"] as const;

/** What the demo saw. */
export interface KfuncResult {
  /** each kfunc's BTF id in this kernel's vmlinux BTF, and its C prototype */
  kfuncs: { name: string; id: number; prototype: string }[];
  /** the `call` instructions as loaded: source 2 and the BTF id */
  calls: { src: number; imm: number }[];
  /** what the test run returned, and what it should have */
  retval: number;
  expected: number;
  /** the message for a kfunc this kernel does not have */
  unknown: string;
}

/**
 * `iter_sum`: `bpf_iter_num_new(&it, start, end); while ((p = bpf_iter_num_next(&it))) sum += *p;
 * bpf_iter_num_destroy(&it); return sum;` with `it` at r10 - 8.
 */
export function buildIterSum(start: number, end: number): ReturnType<ProgramBuilder["build"]> {
  const b = new ProgramBuilder("iter_sum");
  b.emit(
    mov(R6, 0), // sum
    mov(R1, R10),
    add(R1, -8), // &it
    mov(R2, start),
    mov(R3, end),
    callKfunc("bpf_iter_num_new"),
  );
  b.label("next").emit(
    mov(R1, R10),
    add(R1, -8),
    callKfunc("bpf_iter_num_next"), // r0 = int * or NULL when done
    jeq(R0, 0, "done"),
    ldx("w", R1, R0, 0),
    add(R6, R1),
    ja("next"),
  );
  b.label("done").emit(mov(R1, R10), add(R1, -8), callKfunc("bpf_iter_num_destroy"), mov(R0, R6), exit());
  return b.build();
}

/** A type's C spelling, enough for kfunc prototypes. */
function typeName(btf: Btf, id: number, depth = 0): string {
  if (id === 0) return "void";
  if (depth > 16) return "...";
  const t = btf.type(id);
  switch (t.kind) {
    case "ptr":
      return `${typeName(btf, t.type, depth + 1)} *`;
    case "const":
      return `const ${typeName(btf, t.type, depth + 1)}`;
    case "volatile":
      return `volatile ${typeName(btf, t.type, depth + 1)}`;
    case "struct":
    case "union":
    case "enum":
      return `${t.kind} ${t.name}`;
    default:
      return "name" in t && t.name ? t.name : t.kind;
  }
}

/** `int *p`, `int x`: a declaration of `name` with type `type`. */
function declare(type: string, name: string): string {
  if (!name) return type;
  return type.endsWith("*") ? `${type}${name}` : `${type} ${name}`;
}

/** `int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end)` */
function prototype(btf: Btf, id: number): string {
  const fn = btf.type(id);
  if (fn.kind !== "func") return fn.kind;
  const proto = btf.type(fn.type);
  if (proto.kind !== "func_proto") return fn.name;
  const params = proto.params.map((p) => declare(typeName(btf, p.type), p.name));
  return `${declare(typeName(btf, proto.returnType), fn.name)}(${params.join(", ")})`;
}

export async function run(log: Log, start = 0, end = 10): Promise<KfuncResult> {
  const vmlinux = Btf.parse(readFileSync("/sys/kernel/btf/vmlinux"));
  const kfuncs = KFUNCS.map((name) => {
    const id = vmlinux.findId(name, "func");
    if (id === undefined) throw new Error(`this kernel's BTF has no ${name}`);
    return { name, id, prototype: prototype(vmlinux, id) };
  });
  log("this kernel's BTF (/sys/kernel/btf/vmlinux) has:");
  for (const k of kfuncs) log(`  [${k.id}] ${k.prototype}`);

  const built = buildIterSum(start, end);
  log(`built 'iter_sum' with ${built.kfuncRefs.length} kfunc calls by name (their ids still 0)`);
  using program = Program.load({ type: "socket_filter", name: "iter_sum", instructions: built });
  const calls = (program.instructions ?? [])
    .filter((i) => i.code === 0x85 && i.src === 2)
    .map((i) => ({ src: i.src, imm: i.imm }));
  log(`loaded: the calls became ${calls.map((c) => `call src=${c.src} imm=${c.imm}`).join(", ")}`);
  const retval = program.testRun({ data: Buffer.alloc(14) }).retval;
  let expected = 0;
  for (let i = start; i < end; i++) expected += i;
  log(`test run returned ${retval}; ${start} + ... + ${end - 1} = ${expected}`);

  let unknown = "";
  const bogus = new ProgramBuilder("bogus");
  bogus.emit(callKfunc("bpf_iter_num_rewind"), mov(R0, 0), exit());
  try {
    Program.load({ type: "socket_filter", instructions: bogus.build() }).close();
  } catch (e) {
    if (!(e instanceof UnknownKfuncError)) throw e;
    unknown = e.message;
  }
  log(`a kfunc this kernel does not have is caught before the kernel is asked: ${unknown}`);
  return { kfuncs, calls, retval, expected, unknown };
}

runIfMain(import.meta.url, (log) => run(log));
