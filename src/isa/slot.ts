/**
 * One instruction slot's bytes (RFC 9669 §3): code, regs (src << 4 | dst), off (16 bits), imm
 * (32 bits), little-endian. Shared by the encoder and the assembler; not part of the public API.
 */

/** Writes one 8-byte slot at `at`. */
export function writeSlot(
  out: Uint8Array,
  at: number,
  code: number,
  regs: number,
  off: number,
  imm: number,
): void {
  out[at] = code;
  out[at + 1] = regs;
  out[at + 2] = off & 0xff;
  out[at + 3] = (off >> 8) & 0xff;
  out[at + 4] = imm & 0xff;
  out[at + 5] = (imm >>> 8) & 0xff;
  out[at + 6] = (imm >>> 16) & 0xff;
  out[at + 7] = (imm >>> 24) & 0xff;
}

/** A slot's first 32-bit word (code, regs, off) as a little-endian host reads it; imm is the second. */
export function slotWord(code: number, dst: number, src: number, off: number): number {
  return code | (dst << 8) | (src << 12) | ((off & 0xffff) << 16);
}
