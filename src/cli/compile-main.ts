/**
 * `rawbpf compile` alone, for the bundle of its own the build makes of it (dist/src/cli/compile.cjs,
 * scripts/bundle.mjs), which bin/rawbpf.js runs for that command instead of the whole command
 * line's: a quarter of its size, with a code cache of only the compiler's functions, a compile
 * takes ~5 ms less (~6 ms less CPU), measured side by side. The same command, run and reported as main.ts runs it.
 */

import { runCommand } from "./command.js";
import * as compile from "./compile.js";
import { type CliIo, processIo } from "./io.js";

export { outputPending } from "./io.js";

/** Runs `rawbpf compile ...` (`argv` starts with `compile`) and returns the exit status. */
export function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name !== "compile") throw new Error(`compile-main: runs 'compile', not '${name}'`);
  return runCommand(name, rest, io, async () => compile);
}
