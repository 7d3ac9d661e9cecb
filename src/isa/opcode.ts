/**
 * Every opcode constant of the eBPF instruction set: RFC 9669 plus the Linux 6.18 extensions
 * (sign-extending loads and moves, signed division, byte swaps, gotol, may_goto, load-acquire and
 * store-release, addr_space_cast), and small functions that take an opcode apart and put it back
 * together. Names follow the kernel's `BPF_*` macros without the prefix.
 *
 * Layout of the 8-bit opcode:
 * - ALU, ALU64, JMP, JMP32: `op (4 bits) | source (1 bit) | class (3 bits)`
 * - LD, LDX, ST, STX:       `mode (3 bits) | size (2 bits) | class (3 bits)`
 */

import { Class, LD_IMM64 } from "./insn.js";

export { Class, LD_IMM64 };

/** Access sizes of load and store instructions (bits 3-4 of the opcode). */
export const Size = {
  /** word, 4 bytes */
  W: 0x00,
  /** half word, 2 bytes */
  H: 0x08,
  /** byte */
  B: 0x10,
  /** double word, 8 bytes */
  DW: 0x18,
} as const;

/** Width in bytes of each access size, indexed by `size >> 3`. */
export const SIZE_BYTES: readonly number[] = [4, 2, 1, 8];

/** Modes of load and store instructions (bits 5-7 of the opcode). */
export const Mode = {
  /** 64-bit immediate load (`ld_imm64`), class LD only */
  IMM: 0x00,
  /** legacy packet access at an absolute offset, class LD only */
  ABS: 0x20,
  /** legacy packet access at a register offset, class LD only */
  IND: 0x40,
  /** regular memory access */
  MEM: 0x60,
  /** sign-extending load, class LDX only */
  MEMSX: 0x80,
  /** atomic operation, class STX only; the operation is in `imm` */
  ATOMIC: 0xc0,
} as const;

/** Operand source of ALU and JMP instructions (bit 3 of the opcode). */
export const Source = {
  /** the 32-bit immediate `imm` */
  K: 0x00,
  /** the source register `src` */
  X: 0x08,
} as const;

/** Byte order of the END (byte swap) instruction: the Source bit reused. */
export const Endian = {
  /** convert to little endian (with ALU64: unconditional byte swap, `bswap`) */
  TO_LE: 0x00,
  /** convert to big endian */
  TO_BE: 0x08,
} as const;

/** Arithmetic operations of classes ALU and ALU64 (bits 4-7 of the opcode). */
export const AluOp = {
  ADD: 0x00,
  SUB: 0x10,
  MUL: 0x20,
  /** unsigned division; signed when `off` is 1 */
  DIV: 0x30,
  OR: 0x40,
  AND: 0x50,
  LSH: 0x60,
  RSH: 0x70,
  NEG: 0x80,
  /** unsigned modulo; signed when `off` is 1 */
  MOD: 0x90,
  XOR: 0xa0,
  /** move; sign-extending when `off` is 8, 16 or 32; addr_space_cast (ALU64) when `off` is 1 */
  MOV: 0xb0,
  ARSH: 0xc0,
  /** byte swap; the width (16, 32, 64) is in `imm` */
  END: 0xd0,
} as const;

/** Jump operations of classes JMP and JMP32 (bits 4-7 of the opcode). */
export const JmpOp = {
  /** unconditional jump; with JMP32 (`gotol`) the target is in `imm` */
  JA: 0x00,
  JEQ: 0x10,
  JGT: 0x20,
  JGE: 0x30,
  JSET: 0x40,
  JNE: 0x50,
  JSGT: 0x60,
  JSGE: 0x70,
  /** helper, bpf-to-bpf or kfunc call (see {@link PseudoCall}); JMP only */
  CALL: 0x80,
  /** return from the program or subprogram; JMP only */
  EXIT: 0x90,
  JLT: 0xa0,
  JLE: 0xb0,
  JSLT: 0xc0,
  JSLE: 0xd0,
  /** conditional pseudo jump (`may_goto` when `src` is 0); JMP only */
  JCOND: 0xe0,
} as const;

/** Special values of `off` for ALU instructions. */
export const AluOffset = {
  /** `off` of signed DIV and MOD */
  SIGNED: 1,
  /** `off` of MOV (ALU64, register source) that makes it `addr_space_cast` */
  ADDR_SPACE_CAST: 1,
  /** `off` values of sign-extending MOV: the source width in bits */
  MOVSX8: 8,
  MOVSX16: 16,
  MOVSX32: 32,
} as const;

/** Atomic operations, held in `imm` of `STX | ATOMIC` instructions. */
export const AtomicOp = {
  ADD: 0x00,
  OR: 0x40,
  AND: 0x50,
  XOR: 0xa0,
  /** flag: also return the old value in `src` */
  FETCH: 0x01,
  /** exchange (always fetches) */
  XCHG: 0xe0 | 0x01,
  /** compare and exchange with r0 (always fetches) */
  CMPXCHG: 0xf0 | 0x01,
  /** load-acquire: `dst = load_acquire(src + off)` */
  LOAD_ACQ: 0x100,
  /** store-release: `store_release(dst + off, src)` */
  STORE_REL: 0x110,
} as const;

/** Pseudo sources (`src`) of `ld_imm64`: what the kernel puts in the register. */
export const PseudoLoad = {
  /** a plain 64-bit constant */
  IMM: 0,
  /** `imm` is a map fd; the register gets the map */
  MAP_FD: 1,
  /** `imm` is a map fd, `imm2` an offset; the register gets the address of the map value */
  MAP_VALUE: 2,
  /** `imm` is a BTF id of a kernel variable, `imm2` an optional module BTF fd */
  BTF_ID: 3,
  /** `imm` is the relative offset of a subprogram; the register gets a function pointer */
  FUNC: 4,
  /** like MAP_FD, but `imm` indexes the `fd_array` of the load attributes */
  MAP_IDX: 5,
  /** like MAP_VALUE, but `imm` indexes the `fd_array` of the load attributes */
  MAP_IDX_VALUE: 6,
} as const;

/** Pseudo sources (`src`) of `call`. */
export const PseudoCall = {
  /** `imm` is a helper id (`enum bpf_func_id`) */
  HELPER: 0,
  /** bpf-to-bpf call: `imm` is the target relative to the next instruction */
  CALL: 1,
  /** kernel function: `imm` is its BTF id, `off` the index of its module BTF fd in `fd_array` */
  KFUNC_CALL: 2,
} as const;

/** Pseudo sources (`src`) of `JMP | JCOND`. */
export const JcondSource = {
  /** `may_goto`: jump while the loop budget lasts */
  MAY_GOTO: 0,
} as const;

/** The frame pointer register (read-only). */
export const FRAME_POINTER = 10;
/** Highest valid register number. */
export const MAX_REGISTER = 10;

/** The class (low three bits) of an opcode. */
export function insnClass(code: number): number {
  return code & 0x07;
}

/** The access size of a load or store opcode. */
export function insnSize(code: number): number {
  return code & 0x18;
}

/** The mode of a load or store opcode. */
export function insnMode(code: number): number {
  return code & 0xe0;
}

/** The operation of an ALU or JMP opcode. */
export function insnOp(code: number): number {
  return code & 0xf0;
}

/** The source bit of an ALU or JMP opcode ({@link Source}). */
export function insnSource(code: number): number {
  return code & 0x08;
}

/** Whether the opcode's class is LD, LDX, ST or STX. */
export function isLoadStoreClass(code: number): boolean {
  return (code & 0x07) < Class.ALU;
}

/** Whether the opcode's class is ALU or ALU64. */
export function isAluClass(code: number): boolean {
  const c = code & 0x07;
  return c === Class.ALU || c === Class.ALU64;
}

/** Whether the opcode's class is JMP or JMP32. */
export function isJumpClass(code: number): boolean {
  const c = code & 0x07;
  return c === Class.JMP || c === Class.JMP32;
}

/** Opcode of an ALU/JMP instruction: `op | source | class`. */
export function aluJmpCode(cls: number, op: number, source: number): number {
  return op | source | cls;
}

/** Opcode of a load/store instruction: `mode | size | class`. */
export function memCode(cls: number, mode: number, size: number): number {
  return mode | size | cls;
}

/** Well-known whole opcodes. */
export const Opcode = {
  /** `ld_imm64` (LD | IMM | DW) */
  LD_IMM64,
  /** `call` (JMP | CALL | K) */
  CALL: JmpOp.CALL | Source.K | Class.JMP,
  /** `callx` (JMP | CALL | X), LLVM's indirect call; register in `dst` */
  CALLX: JmpOp.CALL | Source.X | Class.JMP,
  /** `exit` (JMP | EXIT) */
  EXIT: JmpOp.EXIT | Class.JMP,
  /** `ja` (JMP | JA), target in `off` */
  JA: JmpOp.JA | Class.JMP,
  /** `gotol` (JMP32 | JA), target in `imm` */
  GOTOL: JmpOp.JA | Class.JMP32,
  /** `may_goto` (JMP | JCOND) */
  MAY_GOTO: JmpOp.JCOND | Class.JMP,
  /** 64-bit register move, also `movsx` and `addr_space_cast` by `off` */
  MOV64_REG: AluOp.MOV | Source.X | Class.ALU64,
  /** unconditional byte swap `bswap16/32/64` (ALU64 | END | TO_LE) */
  BSWAP: AluOp.END | Endian.TO_LE | Class.ALU64,
} as const;
