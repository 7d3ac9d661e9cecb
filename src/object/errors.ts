/** Typed errors of reading and loading clang-compiled objects. */
import { ProgramRejectedError } from "../program/rejected.js";
import { InputError } from "../sys/error.js";

/** The object is well-formed ELF but something in it cannot be made into programs and maps. */
export class ObjectFormatError extends InputError {
  /** the object (or the name it was read as) */
  readonly file: string;
  /** the section at fault, when one is known (".BTF", ".BTF.ext", ...) */
  readonly section: string | undefined;
  /** the byte offset in that section, when one is known */
  readonly offset: number | undefined;
  constructor(file: string, why: string, where: { section?: string; offset?: number; cause?: unknown } = {}) {
    super(`${file}: ${why}`, where.cause === undefined ? undefined : { cause: where.cause });
    this.file = file;
    this.section = where.section;
    this.offset = where.offset;
  }
}

/** Something the object uses that rawbpf's loader does not do yet (named in the message). */
export class ObjectUnsupportedError extends InputError {
  constructor(file: string, what: string) {
    super(`${file}: ${what} is not supported yet by rawbpf's object loader`);
  }
}

/** A program, map or variable name the object does not have. */
export class UnknownObjectNameError extends InputError {
  constructor(kind: string, name: string, known: readonly string[]) {
    super(`the object has no ${kind} '${name}' (it has: ${known.length ? known.join(", ") : "none"})`);
  }
}

/**
 * The verifier stopped at an instruction a CO-RE relocation poisoned (a field, type or enumerator
 * the target BTF lacks, read without a bpf_core_*_exists() guard): the message names the
 * relocation, its C access and why it found no target, instead of "invalid func unknown#195896080".
 */
export class CorePoisonRejectedError extends ProgramRejectedError {
  /** the explanation: which relocation, its C access, why it failed and what to do */
  readonly core: string;
  constructor(rejected: ProgramRejectedError, what: string, explanation: string) {
    super(rejected.cause, what);
    this.name = "CorePoisonRejectedError";
    this.core = explanation;
    this.message = `${what} refused by the verifier: ${explanation}`;
  }
}
