/**
 * Contexts that depend on where a program attaches: a tracepoint's record, read from its
 * `format` file in tracefs (`ctx.filename`, `ctx.flags`), and the registers of a kprobe or
 * uprobe (`struct pt_regs`, with `arg0..arg5` and `ret` by this architecture's calling
 * convention).
 */
import { readFileSync } from "node:fs";
import type { ContextField, ContextSpec } from "./kernel.js";
import { I8, I16, I32, I64, type IntType, U8, U16, U32, U64 } from "./types.js";

/** Reads a tracepoint's format file: `category/name` → its text. */
export type TracepointFormatReader = (category: string, name: string) => string;

/** The running kernel's tracefs (mounted at /sys/kernel/tracing, or under debugfs). */
export const readTracefsFormat: TracepointFormatReader = (category, name) => {
  const tail = `events/${category}/${name}/format`;
  for (const root of ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]) {
    try {
      return readFileSync(`${root}/${tail}`, "utf8");
    } catch {}
  }
  throw new Error(
    `no tracepoint ${category}/${name}: ${tail} is not in /sys/kernel/tracing (is tracefs mounted? is the name right? see /sys/kernel/tracing/available_events)`,
  );
};

const SCALARS: Record<string, IntType> = {
  "1,0": U8,
  "1,1": I8,
  "2,0": U16,
  "2,1": I16,
  "4,0": U32,
  "4,1": I32,
  "8,0": U64,
  "8,1": I64,
};

const COMMON_REFUSED =
  "the kernel refuses a tracepoint program's reads of the record's first 8 bytes (the common_ fields): " +
  "helpers.get_current_pid_tgid() gives the pid";

/**
 * Parses a tracepoint format file into context fields. Integers and pointers of 1, 2, 4 or 8
 * bytes become fields of their width and sign; fixed arrays (`unsigned long args[6]`) become
 * fields read by a constant index; `__data_loc` strings are left out. The `common_` fields of the
 * record's first 8 bytes are kept, marked as refused (the kernel lets no program read them). A `char *` field is marked
 * a string in user memory when `userPointers` (a system call's arguments), in kernel memory if not.
 */
export function tracepointFields(format: string, userPointers = false): Map<string, ContextField> {
  const fields = new Map<string, ContextField>();
  for (const line of format.split("\n")) {
    const m = /^\s*field:(.*?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d);/.exec(line);
    if (!m) continue;
    const decl = m[1]!.trim();
    if (decl.startsWith("__data_loc")) continue;
    const nm = /([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[(\d+)\])?$/.exec(decl);
    if (!nm) continue;
    const offset = Number(m[2]);
    const size = Number(m[3]);
    const signed = m[4] === "1";
    const length = nm[2] === undefined ? undefined : Number(nm[2]);
    const element = length === undefined ? size : length > 0 ? size / length : 0;
    const type = SCALARS[`${element},${signed ? 1 : 0}`];
    if (type === undefined) continue;
    if (offset < 8)
      // the kernel's tp_prog_is_valid_access: a record's first 8 bytes are not the program's
      fields.set(nm[1]!, { offset, type, refused: COMMON_REFUSED });
    else if (length === undefined && size === 8 && /\bchar\s*\*\s*[A-Za-z_][A-Za-z0-9_]*$/.test(decl))
      fields.set(nm[1]!, { offset, type, string: userPointers ? "user" : "kernel" });
    else fields.set(nm[1]!, length === undefined ? { offset, type } : { offset, type, length });
  }
  return fields;
}

/** The context of a tracepoint program on `category/name`. */
export function tracepointContext(category: string, name: string, read: TracepointFormatReader): ContextSpec {
  return {
    struct: `trace_event_raw_${name}`,
    typeName: "TracepointContext",
    // a system call's pointer arguments point into the calling process
    fields: tracepointFields(read(category, name), category === "syscalls"),
    packet: { kind: "none" },
  };
}

/**
 * `struct pt_regs` of this architecture, with the calling convention's names: `arg0..arg5` (the
 * integer arguments at a function's entry), `ret` (its return value at return), `ip`, `sp`.
 * x86-64: rdi, rsi, rdx, rcx, r8, r9 and rax; arm64: x0..x5 and x0.
 */
export function ptRegsContext(arch: string = process.arch): ContextSpec {
  const u = (offset: number): ContextField => ({ offset, type: U64 });
  let fields: [string, ContextField][];
  if (arch === "x64")
    fields = [
      ["arg0", u(112)], // di
      ["arg1", u(104)], // si
      ["arg2", u(96)], // dx
      ["arg3", u(88)], // cx
      ["arg4", u(72)], // r8
      ["arg5", u(64)], // r9
      ["ret", u(80)], // ax
      ["ip", u(128)],
      ["sp", u(152)],
    ];
  else if (arch === "arm64")
    fields = [
      ...[0, 1, 2, 3, 4, 5].map((i): [string, ContextField] => [`arg${i}`, u(8 * i)]),
      ["ret", u(0)],
      ["sp", u(248)],
      ["ip", u(256)],
    ];
  else throw new Error(`the compiler knows pt_regs on x64 and arm64, not ${arch}`);
  return { struct: "pt_regs", typeName: "PtRegs", fields: new Map(fields), packet: { kind: "none" } };
}
