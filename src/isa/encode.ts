/**
 * Instructions to bytes: little-endian, 8 bytes a slot, `ld_imm64` in two slots (RFC 9669 §3).
 */

import { EncodeError } from "./errors.js";
import { INSN_SIZE, type Instruction, LD_IMM64 } from "./insn.js";
import { writeSlot } from "./slot.js";
import { fieldProblem, instructionProblem } from "./validate.js";

/** Options of {@link encode} and {@link encodeInto}. */
export interface EncodeOptions {
  /**
   * Check every instruction against the encoding rules (default true). With false, only the
   * field widths are checked, so deliberately invalid programs can be written (for tests of
   * the verifier, say).
   */
  readonly check?: boolean;
}

/** Number of bytes the instructions take once encoded. */
export function encodedLength(insns: readonly Instruction[]): number {
  let slotCount = 0;
  for (let i = 0; i < insns.length; i++) slotCount += insns[i]!.code === LD_IMM64 ? 2 : 1;
  return slotCount * INSN_SIZE;
}

/**
 * Encodes the instructions into `buf` starting at byte `offset`, allocating nothing.
 * Returns the offset just past the last byte written.
 * @throws EncodeError when an instruction is invalid or `buf` is too small
 */
export function encodeInto(
  insns: readonly Instruction[],
  buf: Uint8Array,
  offset = 0,
  options?: EncodeOptions,
): number {
  const check = options?.check !== false;
  const needed = encodedLength(insns);
  if (!Number.isInteger(offset) || offset < 0 || offset + needed > buf.length)
    throw new EncodeError(
      0,
      `the buffer has ${buf.length} bytes but ${needed} are needed from offset ${offset}`,
    );
  let at = offset;
  for (let i = 0; i < insns.length; i++) {
    const insn = insns[i]!;
    const problem = check ? instructionProblem(insn) : fieldProblem(insn);
    if (problem !== undefined) throw new EncodeError(i, problem);
    writeSlot(buf, at, insn.code, (insn.src << 4) | insn.dst, insn.off, insn.imm);
    at += INSN_SIZE;
    if (insn.code === LD_IMM64) {
      writeSlot(buf, at, 0, 0, 0, insn.imm2 ?? 0);
      at += INSN_SIZE;
    }
  }
  return at;
}

/**
 * Encodes the instructions into a new byte array.
 * @throws EncodeError when an instruction is invalid
 */
export function encode(insns: readonly Instruction[], options?: EncodeOptions): Uint8Array {
  const buf = new Uint8Array(encodedLength(insns));
  encodeInto(insns, buf, 0, options);
  return buf;
}
