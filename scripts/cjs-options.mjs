/**
 * The esbuild options of the package's two kinds of CommonJS bundle, the API's (scripts/cjs.mjs)
 * and the command line's (scripts/bundle.mjs): what they must agree on.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The options for a CommonJS bundle of `root`'s sources; the dependencies, and `external`, left outside. */
export function cjsOptions(root, external = []) {
  // the dependencies are installed beside the package: required when used, never copied into a bundle
  const deps = Object.keys(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).dependencies ?? {});
  return {
    bundle: true,
    format: "cjs",
    // what src/ reads from import.meta (the lazily required parser, src/lang/parse.ts): the bundle's URL
    define: { "import.meta.url": "__rawbpf_import_meta_url" },
    banner: { js: 'const __rawbpf_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
    platform: "node",
    target: "node20",
    external: [...external, ...deps, ...deps.map((d) => `${d}/*`)],
    // minified, local names too (the package's 5 MB budget); classes and functions keep their names
    // (err.name, util.inspect, stack traces): what `require` users see of them is what `import`
    // users see
    minifyWhitespace: true,
    minifySyntax: true,
    minifyIdentifiers: true,
    keepNames: true,
    logLevel: "warning",
  };
}
