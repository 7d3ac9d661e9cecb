/** Typed errors of program loading and running that are caught before the kernel is asked. */
import { InputError } from "../sys/error.js";

/** A program with no instructions. */
export class EmptyProgramError extends InputError {
  constructor() {
    super("the program has no instructions: a program needs at least `r0 = <value>; exit`");
  }
}

/** More instructions than the kernel accepts (BPF_COMPLEXITY_LIMIT_INSNS, 1,000,000). */
export class ProgramTooLargeError extends InputError {
  readonly count: number;
  constructor(count: number, limit: number) {
    super(
      `the program has ${count} instructions but the kernel accepts at most ${limit}: ` +
        "split it into tail calls or bpf-to-bpf functions that share code",
    );
    this.count = count;
  }
}

/** An instruction refers to a map by name and no map of that name was given. */
export class MissingMapError extends InputError {
  readonly mapName: string;
  constructor(name: string, index: number) {
    super(
      `instruction ${index} refers to map '${name}' but no such map was given: pass it in ` +
        `the load spec's 'maps' (maps: { ${name}: theMap })`,
    );
    this.mapName = name;
  }
}

/** An instruction calls a kernel function (kfunc) that the kernel's BTF does not have. */
export class UnknownKfuncError extends InputError {
  readonly kfunc: string;
  constructor(name: string, index: number) {
    super(
      `instruction ${index} calls kfunc '${name}' but the kernel's BTF (/sys/kernel/btf/vmlinux) has no function of that name`,
    );
    this.kfunc = name;
  }
}
