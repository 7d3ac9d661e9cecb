#!/usr/bin/env node
/*
 * rawbpf's command line. It runs the bundle that `npm run build` makes (dist/src/cli/main.cjs: one
 * CommonJS file instead of ~80 ES modules), compiled with the V8 code cache recorded next to it at
 * build time, so a command starts without parsing and compiling what it runs. The cache is only
 * ever read here; V8 checks it against the source and its own version and flags, and a cache it
 * rejects (another Node) costs nothing but the start-up it would have saved.
 *
 * The published package ships dist/ (built by `prepack`). A clone has no dist/ until
 * `npm run build`: there the command runs from src/ through tsx (a devDependency), slower to
 * start but with nothing to build first, so `npm install && npx rawbpf demo` works on a fresh clone.
 */
"use strict";
const { existsSync, readFileSync, writeFileSync } = require("node:fs");
const { createRequire } = require("node:module");
const { join } = require("node:path");
const { pathToFileURL } = require("node:url");
const vm = require("node:vm");
// Each command is a short, cold process: V8's optimising compiler, tiering up every function that
// runs a few thousand times, spends more CPU on its background threads (which the process then
// waits for at exit) than the optimised code gives back before the process ends. A budget 15 times
// Node 20's default (67584) leaves it the functions that really are hot (the loops over the
// kernel's BTF, `export`, `profile`): `rawbpf compile` of 300 lines took ~100 ms less CPU of 250
// (bench/compile.bench.ts), `rawbpf load` of the benchmark's 24-program object ~16% less CPU
// (bench/object.bench.ts). Set before the bundle is compiled, here and in the build's training
// runs alike: the code cache records V8's flags and is refused under others.
require("node:v8").setFlagsFromString("--interrupt-budget=1000000");

const file = join(__dirname, "..", "dist", "src", "cli", "main.cjs");
let source;
try {
  source = readFileSync(file, "utf8");
} catch {
  fromSource();
}
if (source !== undefined && process.argv[2] === "--check-code-cache") {
  // `--check-code-cache`: whether V8 accepts each cache the build recorded, compiled as below
  // (with the flag set above), for test/cli/load-run.test.ts; not for users
  const rejected = {};
  for (const cache of [`${file}.cache.gz`, `${file}.load.cache.gz`]) {
    const cachedData = require("node:zlib").gunzipSync(readFileSync(cache));
    rejected[cache] = new vm.Script(wrap(source), { filename: file, cachedData }).cachedDataRejected;
  }
  process.stdout.write(`${JSON.stringify(rejected)}\n`);
} else if (source !== undefined) {
  // `--write-code-cache FILE COMMANDS`: the build's training runs (scripts/bundle.mjs), not for users
  const training = process.argv[2] === "--write-code-cache";
  let cachedData;
  if (!training) {
    // the command's own cache (`load`, which `object` shares), else the one for every command;
    // the build ships them gzipped
    const name = process.argv[2] === "object" ? "load" : process.argv[2];
    for (const cache of /^[a-z]+$/.test(name ?? "")
      ? [`${file}.${name}.cache.gz`, `${file}.cache.gz`]
      : [`${file}.cache.gz`]) {
      let packed;
      try {
        packed = readFileSync(cache);
      } catch {
        continue;
      }
      cachedData = require("node:zlib").gunzipSync(packed);
      break;
    }
  }
  const script = new vm.Script(wrap(source), { filename: file, cachedData });
  const cli = { exports: {} };
  // the ES modules the bundle leaves out (the demos) are imported from tsc's output beside it
  const importBesideBundle = (path) => import(pathToFileURL(join(file, "..", path)).href);
  script.runInThisContext()(
    cli.exports,
    createRequire(file),
    cli,
    file,
    join(file, ".."),
    importBesideBundle,
  );

  if (training) {
    const quiet = {
      stdout() {},
      stdoutBytes() {},
      stderr: (s) => process.stderr.write(s),
      stdin: async () => Buffer.alloc(0),
      isTTY: false,
    };
    (async () => {
      for (const argv of JSON.parse(process.argv[4])) {
        const status = await cli.exports.main(argv, quiet);
        if (status !== 0) throw new Error(`rawbpf ${argv.join(" ")}: exit status ${status}`);
      }
      writeFileSync(process.argv[3], script.createCachedData());
    })();
  } else {
    cli.exports.main(process.argv.slice(2)).then((status) => {
      process.exitCode = status;
    });
  }
}

/** The bundle as the function it is run as (the one source every code cache is made for). */
function wrap(source) {
  return `(function (exports, require, module, __filename, __dirname, importBesideBundle) {${source}\n})`;
}

/** A clone without dist/: src/cli/main.ts through tsx, after the WebAssembly modules are generated. */
function fromSource() {
  const root = join(__dirname, "..");
  const main = join(root, "src", "cli", "main.ts");
  try {
    if (!existsSync(main)) throw new Error("no sources");
    require.resolve("tsx/esm/api");
  } catch {
    process.stderr.write(`rawbpf: ${file} is missing: run \`npm run build\` in ${root}\n`);
    process.exit(1);
  }
  // the generated *.wasm.ts modules are git-ignored; the script is quick when they are up to date
  const wasm = require("node:child_process").spawnSync(
    process.execPath,
    [join(root, "scripts", "build-wasm.mjs")],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  if (wasm.status !== 0) {
    process.stderr.write("rawbpf: scripts/build-wasm.mjs failed (above); `npm run build` shows the same\n");
    process.exit(1);
  }
  import("tsx/esm/api")
    .then((tsx) =>
      tsx.tsImport(pathToFileURL(main).href, {
        parentURL: pathToFileURL(__filename).href,
        tsconfig: join(root, "tsconfig.json"),
      }),
    )
    .then((cli) => cli.main(process.argv.slice(2)))
    .then((status) => {
      process.exitCode = status;
    });
}
