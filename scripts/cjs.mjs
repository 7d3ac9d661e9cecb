/**
 * Build step after tsc: the CommonJS face of the package, so `require("rawbpf")` works with types
 * on every Node the package supports (Node 20 before 20.19 cannot require an ES module).
 *
 *   dist/cjs/index.cjs     src/index.ts and everything it imports, bundled by esbuild as one
 *                          CommonJS file (the package's dependencies left external)
 *   dist/cjs/index.d.cts   the CommonJS face's types: a re-export of tsc's declarations in
 *                          dist/src (TypeScript reads a CommonJS declaration that re-exports ES ones)
 *
 * package.json's "exports" sends `import` to dist/src (tsc's ES modules) and `require` here.
 * Run by `npm run build`. Development only: esbuild is a devDependency.
 */
import { existsSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { cjsOptions } from "./cjs-options.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "dist", "src");
const out = join(root, "dist", "cjs");
await build({
  ...cjsOptions(root),
  entryPoints: [join(root, "src", "index.ts")],
  outfile: join(out, "index.cjs"),
});

// The types of the CommonJS face are the ES modules' own (one copy, not a second tree of
// .d.cts files): TypeScript reads a CommonJS declaration that re-exports ES declarations.
if (!existsSync(join(src, "index.d.ts"))) throw new Error(`cjs: no declarations under ${src}: run tsc first`);
writeFileSync(join(out, "index.d.cts"), 'export * from "../src/index.js";\n');
