/*
 * The least a `rawbpf compile` of FILE can take with Babel as its parser: a Node process that
 * loads @babel/parser from a V8 code cache (made by its first run, as bin/rawbpf.js makes the
 * user's), with the V8 flag bin/rawbpf.js sets, parses FILE as the compiler does (src/lang/parse.ts)
 * and does nothing else. bench/compile.bench.ts times it beside `rawbpf compile` and clang.
 *
 * Run: node bench/parse-floor.cjs FILE.ts CACHE
 */
"use strict";
const { readFileSync, writeFileSync } = require("node:fs");
const vm = require("node:vm");
require("node:v8").setFlagsFromString("--interrupt-budget=1000000");
const [file, cache] = process.argv.slice(2);
const path = require.resolve("@babel/parser");
const code = `(function (exports, require, module, __filename, __dirname) {${readFileSync(path, "utf8")}\n})`;
let cachedData;
try {
  cachedData = readFileSync(cache);
} catch {}
const script = new vm.Script(code, { filename: path, cachedData });
const mod = { exports: {} };
script.runInThisContext()(mod.exports, require, mod, path, require("node:path").dirname(path));
const ast = mod.exports.parse(readFileSync(file, "utf8"), {
  sourceType: "module",
  plugins: ["typescript"],
  sourceFilename: file,
  attachComment: false,
});
if (ast.program.body.length === 0) throw new Error(`${file}: nothing parsed`);
if (cachedData === undefined || script.cachedDataRejected) writeFileSync(cache, script.createCachedData());
