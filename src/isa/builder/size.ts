/** Access sizes of loads and stores by name. */

import { Size } from "../opcode.js";
import { OperandError } from "./operand.js";

/** An access size: `b` (1 byte), `h` (2), `w` (4), `dw` (8), as the kernel names them. */
export type AccessSize = "b" | "h" | "w" | "dw";

/** The size bits of the opcode for an access size. */
export function sizeBits(size: AccessSize): number {
  switch (size) {
    case "b":
      return Size.B;
    case "h":
      return Size.H;
    case "w":
      return Size.W;
    case "dw":
      return Size.DW;
    default:
      throw new OperandError(`access size must be "b", "h", "w" or "dw", got ${JSON.stringify(size)}`);
  }
}
