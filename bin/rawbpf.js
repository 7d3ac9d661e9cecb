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
const {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} = require("node:fs");
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

/** The modules {@link requireCached} compiled, by path. */
const cachedModules = new Map();

/**
 * The bundle a command runs: `compile` has one of its own (src/cli/compile-main.ts), a quarter of
 * the whole command line's size, which starts ~5 ms sooner, ~6 ms less CPU (measured side by side).
 */
const bundleFor = (command) =>
  join(__dirname, "..", "dist", "src", "cli", command === "compile" ? "compile.cjs" : "main.cjs");
// the build's training runs (`--write-code-cache FILE COMMANDS`) run the bundle of the first command
const file = bundleFor(
  process.argv[2] === "--write-code-cache" ? JSON.parse(process.argv[4] ?? "[[]]")[0]?.[0] : process.argv[2],
);
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
  const sources = new Map();
  for (const bundle of [bundleFor("main"), bundleFor("compile")]) {
    sources.set(bundle, readFileSync(bundle, "utf8"));
    for (const cache of [`${bundle}.cache.gz`, `${bundle}.load.cache.gz`]) {
      if (!existsSync(cache)) continue;
      const cachedData = require("node:zlib").gunzipSync(readFileSync(cache));
      rejected[cache] = new vm.Script(wrap(sources.get(bundle)), {
        filename: bundle,
        cachedData,
      }).cachedDataRejected;
    }
  }
  // and each the user's cache holds (by its path), as a command would compile it
  const user = userCache(source);
  const parser = user && moduleSource(createRequire(file).resolve("@babel/parser"), "@babel/parser");
  for (const entry of user && existsSync(user.dir) ? readdirSync(user.dir) : []) {
    const cachedData = user.read(entry);
    // `NAME.bundle`: the cache of the bundle command NAME runs
    const bundle = entry.endsWith(".bundle") ? bundleFor(entry.slice(0, -".bundle".length)) : undefined;
    const script = bundle
      ? new vm.Script(wrap(sources.get(bundle)), { filename: bundle, cachedData })
      : entry === parser?.entry
        ? new vm.Script(parser.code, { filename: parser.path, cachedData })
        : undefined;
    if (script !== undefined) rejected[join(user.dir, entry)] = script.cachedDataRejected;
  }
  process.stdout.write(`${JSON.stringify(rejected)}\n`);
} else if (source !== undefined) {
  // `--write-code-cache FILE COMMANDS`: the build's training runs (scripts/bundle.mjs), not for users
  const training = process.argv[2] === "--write-code-cache";
  // the command's own caches: `load`'s for `object` too (the build ships those two), a name for
  // anything else (no command, an option)
  const command = /^[a-z]+$/.test(process.argv[2] ?? "") ? process.argv[2] : "main";
  const name = command === "object" ? "load" : command;
  const user = training ? undefined : userCache(source);
  let cachedData = user?.read(`${name}.bundle`);
  const fromUser = cachedData !== undefined;
  if (!training && !fromUser) {
    // the command's own cache (`load`, which `object` shares), else the one for every command;
    // the build ships them gzipped
    for (const cache of [`${file}.${name}.cache.gz`, `${file}.cache.gz`]) {
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
  // what to save in the user's cache when the command is done: the scripts it had no cache for
  const unsaved = [];
  if (user !== undefined && (!fromUser || script.cachedDataRejected))
    unsaved.push([`${name}.bundle`, script]);
  const cli = { exports: {} };
  // the ES modules the bundle leaves out (the demos) are imported from tsc's output beside it
  const importBesideBundle = (path) => import(pathToFileURL(join(file, "..", path)).href);
  const requireBesideBundle = createRequire(file);
  // Babel's parser (`compile`, `load FILE.ts`...), outside the bundle (bundled, it would cost the
  // package 560 kB), is compiled with a code cache of its own in the user's cache: ~17 ms less of a
  // cold `rawbpf compile` (~10 ms to load it, ~25 ms for its first parse of 300 lines, without)
  const requireForBundle = Object.assign(
    (id) =>
      id === "@babel/parser" && user !== undefined
        ? requireCached(id, requireBesideBundle, user, unsaved)
        : requireBesideBundle(id),
    requireBesideBundle,
  );
  script.runInThisContext()(cli.exports, requireForBundle, cli, file, join(file, ".."), importBesideBundle);

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
      // after the command's own output: what it compiled is then in the caches V8 makes; only
      // after a success (a mistyped command makes no cache of its name)
      if (status === 0)
        for (const [entry, compiled] of unsaved) user.write(entry, compiled.createCachedData());
      process.exitCode = status;
      // `compile` leaves nothing running once its output is written: unless some of it is still
      // queued for a full pipe, exiting here skips tearing down the heap the compiler filled, which
      // a natural exit does, ~2-4 ms of a ~70 ms command (bench/compile.bench.ts)
      if (command === "compile" && !cli.exports.outputPending?.()) process.exit(status);
    });
  }
}

/**
 * A CommonJS module (@babel/parser's lib/index.js, one file) compiled as Node's loader compiles
 * it, with the user's code cache for it (`user`); the cache is queued on `unsaved`, to be written
 * when the command is done, if there was none yet (or V8 refused it).
 */
function requireCached(id, requireBeside, user, unsaved) {
  const path = requireBeside.resolve(id);
  const loaded = cachedModules.get(path);
  if (loaded !== undefined) return loaded.exports;
  const { code, entry } = moduleSource(path, id);
  const data = user.read(entry);
  const script = new vm.Script(code, { filename: path, cachedData: data });
  if (data === undefined || script.cachedDataRejected) unsaved.push([entry, script]);
  const mod = { exports: {}, id: path, filename: path };
  cachedModules.set(path, mod);
  script.runInThisContext()(mod.exports, createRequire(path), mod, path, join(path, ".."));
  return mod.exports;
}

/**
 * A CommonJS module's file as Node's loader wraps it, and the name of its code cache: its length
 * and its package's version (npm gives every file of a package the same mtime, so a file's content
 * has to name the cache).
 */
function moduleSource(path, id) {
  const text = readFileSync(path, "utf8");
  let version = "";
  try {
    version = JSON.parse(readFileSync(createRequire(path).resolve(`${id}/package.json`), "utf8")).version;
  } catch {}
  return {
    path,
    code: `(function (exports, require, module, __filename, __dirname) {${text}\n})`,
    entry: `${id.replace(/[^\w.-]+/g, "+")}-${version}-${text.length}.module`,
  };
}

/**
 * The user's code cache: V8's cache of what a command compiled (the bundle's functions it ran, and
 * Babel's parser), written by the first run of each command and read by the next, as Node 22's
 * `module.enableCompileCache()` does. The shipped caches are gzipped and trained on a few
 * commands; these are the exact functions of the command, and read without inflating (~4 ms).
 * In `$RAWBPF_CACHE_DIR`, else `$XDG_CACHE_HOME/rawbpf`, else `~/.cache/rawbpf`, else (a read-only
 * or no home) `rawbpf-UID` in the temporary directory; `RAWBPF_CACHE_DIR=off` turns it off. The
 * folder must be the user's own, not a link, and writable by no one else (the cache is code that
 * runs as this user): else it is not used. One sub-folder per Node version, architecture and
 * build of the bundle (a hash the build writes at its end), so an upgrade never reads an older
 * cache (V8 itself checks only the source's length, its own version and flags); files are written
 * whole under a temporary name and renamed, so processes racing see one cache or another, never
 * half of one; the folder keeps the newest four builds. Every failure (a full disk, a read-only folder) only costs the time the cache saves.
 * @returns its folder, `read` and `write` of an entry; undefined when there is no usable folder
 */
function userCache(source) {
  const setting = process.env.RAWBPF_CACHE_DIR;
  if (setting === "off" || setting === "0") return undefined;
  const id = /\/\/# rawbpf-bundle ([0-9a-f]+)\s*$/.exec(source.slice(-100))?.[1];
  if (id === undefined) return undefined; // a bundle of an older build: no identity to key on
  const home = process.env.HOME;
  const xdg = process.env.XDG_CACHE_HOME;
  const uid = process.getuid?.() ?? 0;
  const tmp = process.env.TMPDIR || "/tmp";
  const bases = setting
    ? [setting]
    : [
        xdg ? join(xdg, "rawbpf") : home ? join(home, ".cache", "rawbpf") : undefined,
        join(tmp, `rawbpf-${uid}`),
      ];
  const key = `${process.version}-${process.arch}-${id}`;
  for (const base of bases) {
    if (base === undefined) continue;
    const dir = join(base, key);
    if (!ownFolder(base, uid)) continue;
    return {
      dir,
      read(entry) {
        try {
          return readFileSync(join(dir, entry));
        } catch {
          return undefined;
        }
      },
      write(entry, data) {
        const path = join(dir, entry);
        const partial = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
        try {
          if (!existsSync(dir)) {
            mkdirSync(dir, { mode: 0o700 });
            forgetOldBuilds(base, key);
          }
          writeFileSync(partial, data, { mode: 0o600 });
          renameSync(partial, path);
        } catch {
          rmSync(partial, { force: true });
        }
      },
    };
  }
  return undefined;
}

/** Whether `dir` is (or, made now, is) a folder of this user's that no one else can write to. */
function ownFolder(dir, uid) {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const s = lstatSync(dir);
    return s.isDirectory() && s.uid === uid && (s.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/**
 * Keeps the user's cache folder to the newest few builds (a developer may run several trees, a
 * user two installs of rawbpf, each with its own build): the oldest are removed.
 */
function forgetOldBuilds(base, key) {
  try {
    const others = readdirSync(base)
      .filter((other) => other !== key)
      .map((other) => [other, lstatSync(join(base, other)).mtimeMs])
      .sort((a, b) => b[1] - a[1]);
    for (const [other] of others.slice(3)) rmSync(join(base, other), { recursive: true, force: true });
  } catch {}
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
