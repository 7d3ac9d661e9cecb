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

// Each command is a short, cold process: V8's optimizing compiler would tier up the hot functions
// after a few ms and spend tens of ms of CPU on background threads (which the process then waits
// for at exit) on code that has finished by then (`rawbpf compile` of 300 lines: ~100 ms of 250).
// A budget 15 times Node 20's default still optimizes what runs long (`export`, `profile`). Set
// before the bundle is compiled: the code cache records V8's flags and is refused under others.
require("node:v8").setFlagsFromString("--interrupt-budget=1000000");

const file = join(__dirname, "..", "dist", "src", "cli", "main.cjs");
let source;
try {
  source = readFileSync(file, "utf8");
} catch {
  fromSource();
}
if (source !== undefined) {
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
  const script = new vm.Script(
    `(function (exports, require, module, __filename, __dirname, importBesideBundle) {${source}\n})`,
    { filename: file, cachedData },
  );
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
