/**
 * The raw instruction model shared by the encoder, decoder, builder, assembler and disassembler.
 *
 * One {@link Instruction} is one eBPF instruction as RFC 9669 lays it out: an 8-bit opcode, two
 * 4-bit registers, a signed 16-bit offset and a signed 32-bit immediate. The wide `ld_imm64`
 * (opcode 0x18) is one Instruction that occupies two 8-byte slots; its second slot's immediate is
 * `imm2`. Symbolic references (labels, functions, maps, helpers and kfuncs by name) travel with
 * the instruction as `ref` and are resolved when a program is built or loaded.
 */

/** Instruction classes (the low three bits of the opcode). */
export const Class = {
  LD: 0x00,
  LDX: 0x01,
  ST: 0x02,
  STX: 0x03,
  ALU: 0x04,
  JMP: 0x05,
  JMP32: 0x06,
  ALU64: 0x07,
} as const;

/** Opcode of the wide load `r = imm64` (class LD, mode IMM, size DW). */
export const LD_IMM64 = 0x18;

/** A symbolic reference carried by an instruction until it is resolved. */
export type Reference =
  /** a jump target (the `off`, or `imm` for gotol, is filled in at build time) */
  | { readonly kind: "label"; readonly name: string }
  /** a bpf-to-bpf call or a function pointer load (ld_imm64 src=4) */
  | { readonly kind: "func"; readonly name: string }
  /** a helper call by name (imm is filled in from the helper table) */
  | { readonly kind: "helper"; readonly name: string }
  /** a kfunc call by name (imm is the BTF id, resolved against the kernel's BTF at load) */
  | { readonly kind: "kfunc"; readonly name: string }
  /** a map's descriptor (ld_imm64 src=1) or a map value address (src=2, `imm2` is the offset) */
  | { readonly kind: "map"; readonly name: string; readonly map?: unknown };

/** One eBPF instruction. Plain data: build it, compare it, print it without a kernel. */
export interface Instruction {
  /** the 8-bit opcode */
  code: number;
  /** destination register, 0..10 */
  dst: number;
  /** source register, 0..10, or a pseudo source for calls and ld_imm64 */
  src: number;
  /** signed 16-bit offset */
  off: number;
  /** signed 32-bit immediate (for ld_imm64: the low 32 bits) */
  imm: number;
  /** ld_imm64 only: the second slot's immediate (the high 32 bits, or a map value offset) */
  imm2?: number;
  /** a symbolic reference, resolved when the program is built or loaded */
  ref?: Reference;
}

/** Size of one instruction slot in bytes. */
export const INSN_SIZE = 8;

/** How many 8-byte slots the instruction occupies (2 for ld_imm64, else 1). */
export function slots(insn: Instruction): 1 | 2 {
  return insn.code === LD_IMM64 ? 2 : 1;
}
