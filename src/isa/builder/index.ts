/**
 * The instruction builder: constructors that read like the instruction (`mov(R0, 4)`, `exit()`)
 * and the {@link ProgramBuilder} that resolves labels, functions and references.
 */

export * from "./alu.js";
export * from "./atomic.js";
export * from "./errors.js";
export * from "./jump.js";
export * from "./memory.js";
export * from "./operand.js";
export * from "./program.js";
export type { AccessSize } from "./size.js";
