/** The program listing a view shows: from the log's own lines, completed from the instructions. */
import { disassembleRecords } from "../isa/disasm.js";
import type { Instruction } from "../isa/insn.js";
import type { VerifierLog } from "./parse.js";

/** One row of a listing. */
export interface ListingRow {
  readonly index: number;
  readonly opcode: number;
  readonly asm: string;
}

/** Instructions a caller may hand over: decoded instructions or raw bytes. */
export type ProgramText = readonly Instruction[] | Uint8Array;

/**
 * The program's instructions in order: those the log printed (its live-register listing and the
 * instructions on the verified path), and, when the caller passes the program, every other one
 * disassembled. Never throws: undecodable programs contribute nothing.
 */
export function programListing(log: VerifierLog, insns?: ProgramText): ListingRow[] {
  const rows = new Map<number, ListingRow>();
  for (const [index, r] of log.listing()) rows.set(index, { index, ...r });
  if (insns && (insns instanceof Uint8Array ? insns.length > 0 : insns.length > 0)) {
    try {
      for (const d of disassembleRecords(insns, { labels: false })) {
        if (!rows.has(d.slot)) rows.set(d.slot, { index: d.slot, opcode: d.code, asm: d.text });
      }
    } catch {
      // a program the disassembler refuses: keep what the log shows
    }
  }
  return [...rows.values()].sort((a, b) => a.index - b.index);
}
