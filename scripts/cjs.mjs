/**
 * Build step after tsc: the CommonJS face of the package, so `require("rawbpf")` works with types
 * on every Node the package supports (Node 20 before 20.19 cannot require an ES module).
 *
 *   dist/cjs/index.cjs     src/index.ts and everything it imports, bundled by esbuild as one
 *                          CommonJS file (the package's dependencies left external)
 *   dist/cjs/**\/*.d.cts    tsc's declarations (dist/src/**\/*.d.ts) again, as CommonJS
 *                          declarations: the same text, with relative `.js` specifiers as `.cjs`,
 *                          so TypeScript reads them as the types of a CommonJS module
 *
 * package.json's "exports" sends `import` to dist/src (tsc's ES modules) and `require` here.
 * Run by `npm run build`. Development only: esbuild is a devDependency.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "dist", "src");
const out = join(root, "dist", "cjs");
// the dependencies are installed beside the package: required, never copied into the bundle
const deps = Object.keys(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).dependencies ?? {});

await build({
  entryPoints: [join(root, "src", "index.ts")],
  outfile: join(out, "index.cjs"),
  bundle: true,
  format: "cjs",
  // what src/ reads from import.meta (the lazily required parser, src/lang/parse.ts): this file's URL
  define: { "import.meta.url": "__rawbpf_import_meta_url" },
  banner: { js: 'const __rawbpf_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
  platform: "node",
  target: "node20",
  external: [...deps, ...deps.map((d) => `${d}/*`)],
  logLevel: "warning",
});

/** Every declaration file under `dir`, the CLI's excepted (it is not part of the API). */
function* declarations(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (path !== join(src, "cli")) yield* declarations(path);
    } else if (e.name.endsWith(".d.ts")) yield path;
  }
}

// `from "./x.js"`, `import("./x.js")`, `export * from "../y/index.js"`: relative specifiers only
const specifier = /((?:from|import)\s*\(?\s*["'])(\.{1,2}\/[^"']*?)\.js(["'])/g;
let count = 0;
for (const file of declarations(src)) {
  const target = join(out, relative(src, file)).replace(/\.d\.ts$/, ".d.cts");
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, readFileSync(file, "utf8").replace(specifier, "$1$2.cjs$3"));
  count++;
}
if (count === 0) throw new Error(`cjs: no declarations under ${src}: run tsc first`);
