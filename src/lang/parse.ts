/**
 * Parsing: Babel's parser with its TypeScript plugin. Babel keeps type annotations in the tree
 * (the compiler needs `u8`, `i32`...), is one package with no native part, and loads in a few
 * milliseconds; TypeScript's own parser would add ~20 MB and ~150 ms to every start.
 */
import { createRequire } from "node:module";
import type * as Babel from "@babel/parser";
import type { File } from "@babel/types";
import { CompileError } from "./errors.js";

let babel: typeof Babel | undefined;

/**
 * Babel, loaded at the first compile rather than at `import "rawbpf"`: it takes ~50 ms to load,
 * which every user of the library would otherwise pay. The CommonJS bundles have `require` (the
 * command line's is bin/rawbpf.js's, which compiles Babel with a code cache); the ES modules
 * resolve it from this file.
 */
function parser(): typeof Babel {
  if (babel === undefined) {
    const req = typeof require === "function" ? require : createRequire(import.meta.url);
    babel = req("@babel/parser") as typeof Babel;
  }
  return babel;
}

/** Parses a TypeScript module; a syntax error becomes a {@link CompileError}. */
export function parseModule(source: string, file: string): File {
  try {
    return parser().parse(source, {
      sourceType: "module",
      plugins: ["typescript"],
      sourceFilename: file,
      // comments are never read: not attaching them to nodes saves a pass over the tree
      attachComment: false,
    }) as File;
  } catch (e) {
    const err = e as { loc?: { line: number; column: number }; reasonCode?: string; message?: string };
    const message = String(err.message ?? e).replace(/\s*\(\d+:\d+\)$/, "");
    throw new CompileError(`syntax: ${message}`, file, source, err.loc);
  }
}
