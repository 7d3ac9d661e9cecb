/** Compiles the C fixtures of test/object/fixtures with clang-19, once per process, into a temporary directory. */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDirRemovedAtExit } from "../support/tmp.js";

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "fixtures");
const out = tempDirRemovedAtExit("rawbpf-obj-");
const built = new Map<string, string>();

/** The multiarch include directory Debian keeps asm/types.h in. */
function multiarch(): string[] {
  try {
    const triple = execFileSync("cc", ["-print-multiarch"], { encoding: "utf8" }).trim();
    return triple ? [`-I/usr/include/${triple}`] : [];
  } catch {
    return [];
  }
}

/** The examples' C programs (examples/NAME.c): the demo's own source, not a copy of it. */
export const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples");

/**
 * The path of fixtures/NAME.c (or `dir`/NAME.c) compiled with `clang-19 -target bpf -O2 -g -c`
 * (plus `flags`).
 */
export function compileFixture(name: string, flags: readonly string[] = [], dir = FIXTURES): string {
  const key = `${dir} ${name} ${flags.join(" ")}`;
  const have = built.get(key);
  if (have) return have;
  const into = join(out, String(built.size));
  mkdirSync(into);
  const o = join(into, `${name}.o`);
  execFileSync(
    "clang-19",
    ["-target", "bpf", "-O2", "-g", ...multiarch(), ...flags, "-c", join(dir, `${name}.c`), "-o", o],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  built.set(key, o);
  return o;
}

/** The bytes of a compiled fixture. */
export function fixtureBytes(name: string, flags: readonly string[] = []): Uint8Array {
  return readFileSync(compileFixture(name, flags));
}

/** The temporary directory compiled fixtures go to. */
export const BUILD_DIR = out;
