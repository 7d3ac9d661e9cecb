/**
 * Test support: raw instruction slots as bytes. The verifier cases write some instructions the
 * project's builder would refuse (bad opcodes, reserved fields set), so they are spelled as the
 * five fields of `struct bpf_insn`. Pure: no kernel, no native code.
 */

/** One 8-byte instruction slot, little-endian: opcode, dst/src registers, offset, immediate. */
export function raw(code: number, dst = 0, src = 0, off = 0, imm = 0): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(code, 0);
  b.writeUInt8((dst & 0xf) | ((src & 0xf) << 4), 1);
  b.writeInt16LE(off, 2);
  b.writeInt32LE(imm | 0, 4);
  return b;
}

/** Instruction slots one after the other. */
export function prog(...slots: Buffer[]): Buffer {
  return Buffer.concat(slots);
}
