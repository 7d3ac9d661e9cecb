/**
 * The instruction set: the raw model, opcodes, encoding rules, encoder and decoder, the builder
 * and the helper table. Pure: no I/O.
 */

export * from "./builder/index.js";
export * from "./decode.js";
export * from "./encode.js";
export * from "./errors.js";
export * from "./helpers.js";
export * from "./insn.js";
export * from "./opcode.js";
export * from "./validate.js";
