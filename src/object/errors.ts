/** Typed errors of reading and loading clang-compiled objects. */
import { InputError } from "../sys/error.js";

/** The object is well-formed ELF but something in it cannot be made into programs and maps. */
export class ObjectFormatError extends InputError {
  /** the object (or the name it was read as) */
  readonly file: string;
  constructor(file: string, why: string) {
    super(`${file}: ${why}`);
    this.file = file;
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
