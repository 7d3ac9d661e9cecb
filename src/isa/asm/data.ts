/**
 * Data directives in the instruction stream, as llvm-mc reads them in inline assembly:
 * `.8byte`/`.quad`, `.4byte`/`.long`, `.2byte`/`.short` and `.byte` write raw little-endian
 * bytes, and every 8 bytes make one instruction slot, taken as it is (not checked: the point of
 * raw words is to write what the assembler would refuse). An ld_imm64 (opcode 0x18) takes the next
 * 8 bytes as its second half.
 */

import { type AsmContext, LineError } from "./context.js";
import type { KernelParser } from "./kernel.js";

/** Width in bytes of each data directive. */
export const DATA_DIRECTIVES: Readonly<Record<string, number>> = Object.freeze({
  ".8byte": 8,
  ".quad": 8,
  ".dword": 8,
  ".4byte": 4,
  ".long": 4,
  ".int": 4,
  ".word": 4,
  ".2byte": 2,
  ".short": 2,
  ".half": 2,
  ".byte": 1,
});

/** Reads a data directive at token `t` (its width `size`) and emits the slots it completes. */
export function dataDirective(ctx: AsmContext, kernel: KernelParser, t: number, size: number): void {
  const lx = ctx.lx;
  const name = lx.text(t);
  const values = kernel.constants(t + 1, `a ${size}-byte value`);
  const bits = BigInt(size * 8);
  for (const { value, column } of values) {
    if (value < -(1n << (bits - 1n)) || value >= 1n << bits)
      throw new LineError(`${value} does not fit in ${size} byte${size > 1 ? "s" : ""} (${name})`, column);
    let u = BigInt.asUintN(size * 8, value);
    if (ctx.raw.length === 0) {
      ctx.rawColumn = lx.column(t);
      ctx.rawLine = ctx.line;
      ctx.rawText = ctx.lineText;
    }
    for (let k = 0; k < size; k++) {
      ctx.raw.push(Number(u & 0xffn));
      u >>= 8n;
    }
    flush(ctx);
  }
}

function int32(b: number[], at: number): number {
  return (
    (b[at] as number) |
    ((b[at + 1] as number) << 8) |
    ((b[at + 2] as number) << 16) |
    ((b[at + 3] as number) << 24) |
    0
  );
}

/** Emits each whole slot (or ld_imm64 pair) of the pending bytes. */
function flush(ctx: AsmContext): void {
  const b = ctx.raw;
  for (;;) {
    if (b.length < 8) return;
    const code = b[0] as number;
    const wide = code === 0x18;
    if (wide && b.length < 16) return;
    const regs = b[1] as number;
    const off = (((b[2] as number) | ((b[3] as number) << 8)) << 16) >> 16;
    let imm2 = 0;
    if (wide) {
      if (b[8] !== 0 || b[9] !== 0 || b[10] !== 0 || b[11] !== 0) {
        b.length = 0;
        throw new LineError(
          "the second half of a raw ld_imm64 (opcode 0x18) must have zero code, registers and offset: rawbpf keeps only its immediate",
          ctx.rawColumn,
        );
      }
      imm2 = int32(b, 12);
    }
    const imm = int32(b, 4);
    b.splice(0, wide ? 16 : 8);
    ctx.emitRaw(code, regs & 15, regs >> 4, off, imm, imm2, ctx.rawColumn);
  }
}
