/**
 * Typed errors of the instruction layer. Every message says what is wrong, where, and what a
 * valid instruction would look like.
 */

import { INSPECT, shortText } from "../util/print.js";

/** An {@link Instruction} that breaks the encoding rules of RFC 9669 or the kernel's verifier. */
export class InvalidInstructionError extends Error {
  override readonly name = "InvalidInstructionError";
  /** what is wrong, in plain words */
  readonly reason: string;
  constructor(reason: string) {
    super(`invalid instruction: ${reason}`);
    this.reason = reason;
  }
  /** `console.log`/`util.inspect` print the message and the stack frames, not every field. */
  [INSPECT](): string {
    return shortText(this, {});
  }
}

/** Bytes that are not a valid eBPF program. */
export class DecodeError extends Error {
  override readonly name = "DecodeError";
  /** byte offset of the offending instruction slot */
  readonly offset: number;
  /** what is wrong, in plain words */
  readonly reason: string;
  constructor(offset: number, reason: string) {
    super(`cannot decode instruction at byte ${offset} (slot ${Math.floor(offset / 8)}): ${reason}`);
    this.offset = offset;
    this.reason = reason;
  }
  /** `console.log`/`util.inspect` print the message and the stack frames, not every field. */
  [INSPECT](): string {
    return shortText(this, {});
  }
}

/** An instruction that cannot be encoded. */
export class EncodeError extends Error {
  override readonly name = "EncodeError";
  /** index of the offending instruction in the input list */
  readonly index: number;
  /** what is wrong, in plain words */
  readonly reason: string;
  constructor(index: number, reason: string) {
    super(`cannot encode instruction #${index}: ${reason}`);
    this.index = index;
    this.reason = reason;
  }
  /** `console.log`/`util.inspect` print the message and the stack frames, not every field. */
  [INSPECT](): string {
    return shortText(this, {});
  }
}
