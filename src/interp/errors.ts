/**
 * Typed errors of the interpreter. Each stops a run and says where (the instruction slot and its
 * disassembly), what, and why, in the verifier's words where the verifier would have asked.
 */
import { formatInstruction } from "../isa/disasm.js";
import type { Instruction } from "../isa/insn.js";
import { RawbpfError } from "../sys/error.js";

function describe(insn: Instruction | undefined): string {
  if (insn === undefined) return "";
  try {
    return formatInstruction(insn);
  } catch {
    return `opcode 0x${insn.code.toString(16).padStart(2, "0")}`;
  }
}

/** Base of every error the interpreter raises while loading or running a program. */
export class InterpError extends RawbpfError {
  /** the instruction slot where the run stopped (or the load found the problem), -1 when none */
  readonly slot: number;
  /** that instruction in kernel syntax ("" when none) */
  readonly instruction: string;
  constructor(code: string, slot: number, insn: Instruction | undefined, message: string) {
    const text = describe(insn);
    super(
      code,
      slot >= 0
        ? `interpreter: insn ${slot}${text ? ` (${text})` : ""}: ${message}`
        : `interpreter: ${message}`,
    );
    this.slot = slot;
    this.instruction = text;
  }
}

/** An instruction the interpreter cannot run: unknown opcode, bad field, jump out of the program. */
export class InterpInvalidProgramError extends InterpError {
  readonly reason: string;
  constructor(slot: number, insn: Instruction | undefined, reason: string) {
    super(
      "EINTERP_INVALID",
      slot,
      insn,
      `${reason} (the program cannot run; the kernel's verifier would refuse it too)`,
    );
    this.reason = reason;
  }
}

/** A load or store outside every region, or outside the region its address points into. */
export class MemoryAccessError extends InterpError {
  /** the 64-bit address accessed */
  readonly address: bigint;
  /** the access width in bytes */
  readonly size: number;
  /** the region the address points into ("" when none) */
  readonly region: string;
  /** whether it was a write */
  readonly write: boolean;
  constructor(
    slot: number,
    insn: Instruction | undefined,
    address: bigint,
    size: number,
    write: boolean,
    region: string,
    why: string,
  ) {
    super(
      "EINTERP_ACCESS",
      slot,
      insn,
      `${write ? "write" : "read"} of ${size} byte${size === 1 ? "" : "s"} at 0x${address.toString(16).padStart(16, "0")}: ${region ? `${why} (region ${region})` : why}. The verifier would refuse this access; check the pointer and the bounds test before it.`,
    );
    this.address = address;
    this.size = size;
    this.region = region;
    this.write = write;
  }
}

/** The run executed more instructions than its budget: a runaway loop, or a budget set too low. */
export class BudgetExceededError extends InterpError {
  readonly budget: number;
  constructor(slot: number, insn: Instruction | undefined, budget: number) {
    super(
      "EINTERP_BUDGET",
      slot,
      insn,
      `the run passed its budget of ${budget} instructions (a loop that does not end?); raise 'budget' if the program really needs more`,
    );
    this.budget = budget;
  }
}

/** A helper or kfunc the interpreter does not emulate, or a helper call it cannot serve. */
export class HelperError extends InterpError {
  readonly helper: string;
  constructor(slot: number, insn: Instruction | undefined, helper: string, why: string) {
    super("EINTERP_HELPER", slot, insn, `${helper}: ${why}`);
    this.helper = helper;
  }
}

/** Calls nested deeper than the kernel allows (8 frames), or too many tail calls (33). */
export class CallDepthError extends InterpError {
  constructor(slot: number, insn: Instruction | undefined, why: string) {
    super("EINTERP_DEPTH", slot, insn, why);
  }
}
