/**
 * A compiled program as text: the kernel's assembly with each TypeScript line as a comment
 * above the instructions it compiled to, function starts and jump labels marked.
 */
import { disassembleRecords } from "../isa/disasm.js";
import type { CompiledProgram } from "./compile.js";

/**
 * Disassembles a compiled program, interleaving its TypeScript lines (from its line info):
 *
 * ```text
 * ; socket_filter program drop_needle (50 instructions, 72 bytes of stack)
 * drop_needle:
 *   ; drop.ts:8: const buf = new Uint8Array(WINDOW);
 *   *(u64 *)(r10 - 64) = 0
 * ```
 */
export function listing(program: CompiledProgram): string {
  const out: string[] = [];
  out.push(
    `; ${program.type} program ${program.name} (${program.insns.length} instructions, ${program.stackSize} bytes of stack)`,
  );
  const lines = new Map(program.lineInfo.map((l) => [l.slot, l]));
  const starts = new Map(program.functions.map((f) => [f.startSlot, f.name]));
  for (const r of disassembleRecords(program.insns)) {
    const fn = starts.get(r.slot);
    if (fn !== undefined) out.push(`${fn}:`);
    else if (r.label !== undefined) out.push(`${r.label}:`);
    const line = lines.get(r.slot);
    if (line !== undefined) out.push(`  ; ${line.file}:${line.line}: ${line.text}`);
    out.push(`  ${r.text}`);
  }
  return `${out.join("\n")}\n`;
}
