/**
 * Bytes to instructions, refusing what RFC 9669 or the kernel's verifier call invalid.
 */

import { DecodeError } from "./errors.js";
import { INSN_SIZE, type Instruction, LD_IMM64 } from "./insn.js";
import { instructionProblem } from "./validate.js";

/** Options of {@link decode}. */
export interface DecodeOptions {
  /**
   * Check every instruction against the encoding rules (default true). With false, any byte
   * pattern decodes as long as the slots are whole and every ld_imm64 has its second slot, so
   * a disassembler can show a program the kernel would refuse.
   */
  readonly check?: boolean;
}

/**
 * Decodes a program. `ld_imm64` becomes one instruction with `imm2` set.
 * @throws DecodeError with the byte offset and the reason when the bytes are not a valid program
 */
export function decode(bytes: Uint8Array, options?: DecodeOptions): Instruction[] {
  const check = options?.check !== false;
  const length = bytes.length;
  if (length % INSN_SIZE !== 0)
    throw new DecodeError(
      length - (length % INSN_SIZE),
      `the program is ${length} bytes long, not a multiple of 8: the last ${length % INSN_SIZE} bytes are a partial instruction`,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Instruction[] = [];
  for (let at = 0; at < length; at += INSN_SIZE) {
    const code = bytes[at]!;
    const regs = bytes[at + 1]!;
    const off = view.getInt16(at + 2, true);
    const imm = view.getInt32(at + 4, true);
    let insn: Instruction;
    if (code === LD_IMM64) {
      const next = at + INSN_SIZE;
      if (next >= length)
        throw new DecodeError(
          at,
          "ld_imm64 (opcode 0x18) takes two slots but the program ends after the first",
        );
      if (bytes[next] !== 0 || bytes[next + 1] !== 0 || view.getInt16(next + 2, true) !== 0)
        throw new DecodeError(
          next,
          `the second slot of ld_imm64 must have opcode, registers and offset 0, found opcode 0x${bytes[next]!.toString(16).padStart(2, "0")}, registers 0x${bytes[next + 1]!.toString(16).padStart(2, "0")}, offset ${view.getInt16(next + 2, true)}`,
        );
      insn = { code, dst: regs & 0x0f, src: regs >> 4, off, imm, imm2: view.getInt32(next + 4, true) };
    } else {
      insn = { code, dst: regs & 0x0f, src: regs >> 4, off, imm };
    }
    if (check) {
      const problem = instructionProblem(insn);
      if (problem !== undefined) throw new DecodeError(at, problem);
    }
    out.push(insn);
    if (code === LD_IMM64) at += INSN_SIZE;
  }
  return out;
}
