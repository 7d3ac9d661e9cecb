/** What attaching needs from a program: its descriptor and type, checked before the kernel sees them. */
import type { Program } from "../program/program.js";
import { InputError } from "../sys/error.js";
import { WrongProgramTypeError } from "./errors.js";

/**
 * Checks that `program` is a loaded program of one of `types` and returns its descriptor. A closed
 * program throws ClosedError (from its `fd`).
 */
export function programFd(program: Program, types: readonly string[], attach: string, extra = ""): number {
  if (program === null || typeof program !== "object" || typeof (program as Program).type !== "string") {
    throw new InputError(`${attach} needs a loaded Program (from Program.load), got ${String(program)}`);
  }
  const fd = program.fd;
  if (!types.includes(program.type)) throw new WrongProgramTypeError(attach, program.type, types, extra);
  return fd;
}
