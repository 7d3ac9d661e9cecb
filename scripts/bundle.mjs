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
 *   dist/src/cli/compile.cjs     `rawbpf compile` alone (src/cli/compile-main.ts), which the loader
 *                                runs for that command: 220 kB against 840 kB, and a code cache of
 *                                the compiler's functions only (~5 ms less of a 75 ms compile)
 *   dist/src/cli/compile.cjs.cache.gz  its code cache, trained on `compile`
 *
 * Run by `npm run build` (and so by `npm pack`, through prepack). Development only: esbuild is a devDependency.
 *
 * Not a V8 startup snapshot (`node --snapshot-blob X --build-snapshot`), measured in session 7: a
 * blob holding the bundle is 5.3 MB (the whole heap, Node's own included), more than the package's
 * 5 MB budget on its own (test/package.test.ts), and a `bin` cannot start Node with
 * `--snapshot-blob` without starting a second Node (~20 ms of CPU), more than the ~5 ms of start-up
 * it saved (`rawbpf --help` 31.7 against 37.1 ms of CPU).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
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
import { cjsOptions } from "./cjs-options.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "src", "cli", "main.cjs");
const compileOut = join(root, "dist", "src", "cli", "compile.cjs");

/** One entry point and everything it imports, bundled as described above. */
async function bundle(entry) {
  const bundled = await build({
    // the demos stay outside too (tsc's output beside the bundle)
    ...cjsOptions(root, ["./demo.js"]),
    entryPoints: [join(root, "src", "cli", entry)],
    write: false,
  });
  return bundled.outputFiles[0].text;
}

// A dynamic import() inside code compiled by vm.Script needs an experimental Node option, so the
// one the bundle keeps (the demos, from tsc's output) goes through a function bin/rawbpf.js passes in.
const text = await bundle("main.ts");
const demoImport = 'import("./demo.js")';
if (text.split(demoImport).length !== 2) throw new Error(`bundle: expected one ${demoImport} in the bundle`);
const body = text.replace(demoImport, 'importBesideBundle("./demo.js")');
// `rawbpf compile` alone (src/cli/compile-main.ts), which bin/rawbpf.js runs for that command
const compileBody = await bundle("compile-main.ts");
if (compileBody.includes(demoImport)) throw new Error("bundle: the compile bundle imports the demos");
mkdirSync(dirname(out), { recursive: true });
// the build's identity, last in each: bin/rawbpf.js keys the user's code cache on it (a cache of
// another build's bundle of the same length would pass V8's own checks); one for both bundles, so
// that a build's caches share one folder
const id = createHash("sha256").update(body).update(compileBody).digest("hex").slice(0, 16);
writeFileSync(out, `${body}//# rawbpf-bundle ${id}\n`);
writeFileSync(compileOut, `${compileBody}//# rawbpf-bundle ${id}\n`);

/** The TypeScript program `compile` is trained on (docs/language.md's forms, no kernel needed). */
const COMPILE_TRAINING = `import { atomicAdd, bpfLoop, config, ETH_P_IP, IPPROTO_TCP, IPPROTO_UDP, map, program, strncmp, struct, u8, u16, u32, u64, XDP_DROP, XDP_PASS, zero } from "rawbpf";
const Event = struct({ proto: u8, port: u16, len: u32, sum: u64 });
const counts = map("hash", { key: u32, value: u64, maxEntries: 256 });
const flows = map("array", { key: u32, value: struct({ packets: u64, bytes: u64 }), maxEntries: 64 });
const events = map("ringbuf", { value: Event, maxEntries: 4096 });
const cfg = config({ port: u16, verbose: u8 });
const NEEDLE = "needle";
const LIMIT = 1000;

function score(a: u32, b: u32): u32 {
  let s: u32 = a ^ 7;
  for (let i = 0; i < 8; i++) {
    if ((s & 1) === 1) s = (s >> 1) ^ b;
    else s = s >> 1;
  }
  return s % 64;
}

export const count = program("xdp", (ctx) => {
  const ethType = ctx.be16(12);
  if (ethType === null || ethType !== ETH_P_IP) return XDP_PASS;
  const proto = ctx.u8(23);
  if (proto === null) return XDP_PASS;
  const port = ctx.be16(36);
  if (port === null) return XDP_PASS;
  const k = score(proto, port);
  const c = counts.lookup(k);
  if (c === null) {
    counts.update(k, 1);
    return XDP_PASS;
  }
  atomicAdd(c.value, 1);
  const f = flows.lookup(k % 64);
  if (f !== null) {
    f.packets += 1;
    f.bytes += ctx.data_end - ctx.data;
  }
  switch (proto) {
    case IPPROTO_TCP:
      return port === cfg.port ? XDP_DROP : XDP_PASS;
    case IPPROTO_UDP: {
      events.output({ proto, port, len: ctx.data_end - ctx.data, sum: c.value });
      return XDP_PASS;
    }
    default:
      return c.value > LIMIT ? XDP_DROP : XDP_PASS;
  }
});

export const needle = program("socket_filter", (ctx) => {
  const buf = new Uint8Array(64);
  let n = ctx.len;
  if (n === 0) return -1;
  if (n > 64) n = 64;
  if (helpers.skb_load_bytes(ctx, 0, buf, n) !== 0) return -1;
  for (let i = 0; i <= 64 - NEEDLE.length; i++) {
    if (strncmp(buf.subarray(i), NEEDLE) === 0) return 0;
  }
  const st = zero(Event);
  bpfLoop(4, (i, s) => {
    s.sum += i;
    return 0;
  }, st);
  counts.forEach((key, value, s) => {
    s.sum += value.value;
    return 0;
  }, st);
  const r = events.reserve();
  if (r === null) return -1;
  r.len = n;
  r.sum = st.sum;
  events.submit(r);
  return cfg.verbose !== 0 ? 0 : -1;
});

export const mark = program("sched_cls", (ctx) => {
  if (ctx.protocol !== 8) return 0;
  ctx.mark = ctx.len & 0xff;
  const v = ctx.u32(0);
  if (v === null) return 0;
  return v > 3 ? 2 : 0;
});
`;

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
  const ts = join(work, "t.ts");
  writeFileSync(ts, COMPILE_TRAINING);
  const commands = [
    ["asm", asm, "-o", join(work, "t.bin")],
    ["disasm", join(work, "t.bin")],
  ];
  if (existsSync("/sys/kernel/btf/vmlinux")) {
    commands.push(["btf", "dump", "--format", "c"], ["btf", "dump", "--format", "raw"]);
  }
  // one cache for every command, one for `load` and `object` of a clang object (below), and the
  // compile bundle's; caches of an earlier build are for another bundle: V8 would reject them, and
  // the loader would not fall back to the one for every command
  for (const f of readdirSync(dirname(out)))
    if (/^(main|compile)\.cjs\.(\w+\.)?cache(\.gz)?$/.test(f)) rmSync(join(dirname(out), f));
  const caches = [[`${out}.cache`, commands]];
  // `compile` of a real program (maps, a function with a loop, packet reads, a switch, strings,
  // callbacks, a ring buffer, a config), in both output formats, so that the compiler's functions
  // are compiled ahead: the first `rawbpf compile` of a user, before the user's cache is written.
  // bin/rawbpf.js runs the training on the compile bundle, as it runs `compile` itself.
  caches.push([
    `${compileOut}.cache`,
    [
      ["compile", ts, "--format", "json", "-o", join(work, "t.json")],
      ["compile", ts, "--program", "count", "-o", join(work, "t.s")],
    ],
  ]);
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
