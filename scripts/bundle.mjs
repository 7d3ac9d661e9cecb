/**
 * Build step after tsc: bundles the command line into one CommonJS file and records V8's code cache
 * for it, so `rawbpf` starts without resolving ~80 ES modules and without compiling the functions
 * it runs.
 *
 *   dist/src/cli/main.cjs        src/cli/main.ts and everything it imports, the runtime dependencies
 *                                (koffi, @babel/parser, yaml, OpenTelemetry:
 *                                every dependency in package.json) left external;
 *                                the demos stay the tsc output (`./demo.js` is loaded from dist/src/cli),
 *                                because they find their own files by import.meta.url
 *   dist/src/cli/main.cjs.cache.gz  V8's code cache for it (gzipped), made by running the commands
 *                                once on small inputs (bin/rawbpf.js reads it, never writes it; a
 *                                cache made by another Node or V8 is rejected by V8 and simply not used)
 *   dist/src/cli/main.cjs.load.cache.gz  the same, trained on `object` and `load` of
 *                                examples/opensnoop.bpf.o: the loader prefers it for those two commands
 *
 * Run by `npm run build` (and so by `npm pack`, through prepack). Development only: esbuild is a devDependency.
 *
 * Not a V8 startup snapshot (`node --snapshot-blob X --build-snapshot`), measured in session 7: a
 * blob holding the bundle is 5.3 MB (the whole heap, Node's own included), more than the package's
 * 5 MiB budget on its own (test/package.test.ts), and a `bin` cannot start Node with
 * `--snapshot-blob` without starting a second Node (~20 ms of CPU), more than the ~5 ms of start-up
 * it saved (`rawbpf --help` 31.7 against 37.1 ms of CPU).
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "src", "cli", "main.cjs");
const deps = Object.keys(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).dependencies ?? {});

const bundled = await build({
  entryPoints: [join(root, "src", "cli", "main.ts")],
  outfile: out,
  bundle: true,
  format: "cjs",
  // what src/ reads from import.meta (the lazily required parser, src/lang/parse.ts): this file's URL
  define: { "import.meta.url": "__rawbpf_import_meta_url" },
  banner: { js: 'const __rawbpf_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
  platform: "node",
  target: "node20",
  // the dependencies stay outside the bundle (installed beside the package, required when used)
  external: ["./demo.js", ...deps, ...deps.map((d) => `${d}/*`)],
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: "warning",
  write: false,
});
// A dynamic import() inside code compiled by vm.Script needs an experimental Node option, so the
// one the bundle keeps (the demos, from tsc's output) goes through a function bin/rawbpf.js passes in.
const text = bundled.outputFiles[0].text;
const demoImport = 'import("./demo.js")';
if (text.split(demoImport).length !== 2) throw new Error(`bundle: expected one ${demoImport} in the bundle`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, text.replace(demoImport, 'importBesideBundle("./demo.js")'));

// Train: run a few commands in one process through the loader, then save the code cache.
const work = mkdtempSync(join(tmpdir(), "rawbpf-bundle-"));
try {
  const asm = join(work, "t.s");
  writeFileSync(
    asm,
    `${[
      "r1 = *(u32 *)(r1 + 4)",
      "if w1 s< w2 goto +1",
      "lock *(u64 *)(r10 - 8) += r1",
      "r0 = bswap16 r0",
      "r2 = 0x1234 ll",
      "call bpf_map_lookup_elem",
      "w0 = -1",
      "exit",
    ].join("\n")}\n`.repeat(64),
  );
  const commands = [
    ["asm", asm, "-o", join(work, "t.bin")],
    ["disasm", join(work, "t.bin")],
  ];
  if (existsSync("/sys/kernel/btf/vmlinux")) {
    commands.push(["btf", "dump", "--format", "c"], ["btf", "dump", "--format", "raw"]);
  }
  // one cache for every command, and one for `load` and `object` of a clang object (below); caches
  // of an earlier build are for another bundle: V8 would reject them, and the loader would not fall
  // back to the one for every command
  for (const f of readdirSync(dirname(out)))
    if (/^main\.cjs\.(\w+\.)?cache(\.gz)?$/.test(f)) rmSync(join(dirname(out), f));
  const caches = [[`${out}.cache`, commands]];
  // `load` and `object` of the example clang object (its ELF, BTF, maps and program paths): the
  // load cache saves ~10 ms of `rawbpf load FILE.o`. Loading needs root; without it the cache is
  // trained on reading the object alone. Kept out of the cache for every command, which must not
  // fail for want of privileges. (Caches of their own for asm, disasm and btf saved ~2 ms each and
  // 1 MB of package: the one for every command serves them.)
  const example = join(root, "examples", "opensnoop.bpf.o");
  if (existsSync(example)) {
    caches.push([
      `${out}.load.cache`,
      process.getuid?.() === 0
        ? [
            ["object", example],
            ["load", example],
          ]
        : [["object", example]],
    ]);
  }
  for (const [cache, trained] of caches) {
    const train = spawnSync(
      process.execPath,
      [join(root, "bin", "rawbpf.js"), "--write-code-cache", cache, JSON.stringify(trained)],
      { stdio: ["ignore", "ignore", "inherit"] },
    );
    if (train.status !== 0) {
      // the CLI works without a cache; only its start-up is slower
      console.error(`bundle: could not record ${cache} (status ${train.status}); going on without it`);
      rmSync(cache, { force: true });
    } else {
      // shipped compressed (bytecode gzips to less than half; inflating takes ~1 ms at start-up)
      writeFileSync(`${cache}.gz`, gzipSync(readFileSync(cache), { level: 9 }));
      rmSync(cache);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
