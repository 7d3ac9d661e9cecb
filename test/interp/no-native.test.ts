/**
 * rawbpf without koffi's native part: importing it works, the memory back end (maps, programs,
 * testRun) never touches native code, and the kernel back end says the native part is missing.
 * Runs in a child process preloaded with test/support/no-koffi.mjs, where loading koffi throws.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { BpfObject } from "../../src/object/index.js";
import { compileFixture } from "../object/compile.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const index = pathToFileURL(`${root}src/index.ts`).href;
const hook = pathToFileURL(`${root}test/support/no-koffi.mjs`).href;

const CHILD = `
import { createRequire } from "node:module";
import * as rawbpf from ${JSON.stringify(index)};
const { BpfMap, Program, assemble, u32, u64, NativeUnavailableError } = rawbpf;
const out = {};
// the preload works: koffi cannot be loaded either way
try { await import("koffi"); out.importKoffi = "loaded"; } catch (e) { out.importKoffi = "threw"; }
try { createRequire(import.meta.url)("koffi"); out.requireKoffi = "loaded"; } catch (e) { out.requireKoffi = "threw"; }

const counts = BpfMap.create({ type: "hash", key: u32, value: u64, maxEntries: 4, backend: "memory" });
counts.set(7, 40n);
const prog = Program.load({
  type: "socket_filter",
  backend: "memory",
  maps: { counts },
  instructions: assemble(\`.map counts type=hash key=4 value=8 entries=4
    *(u32 *)(r10 - 4) = 7
    r1 = map_fd(counts)
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto miss
    r1 = 2
    lock *(u64 *)(r0 + 0) += r1
    r0 = *(u64 *)(r0 + 0)
    exit
    miss:
    r0 = 0
    exit\`),
});
out.retval = prog.testRun({ data: new Uint8Array(64) }).retval;
out.value = String(counts.get(7));
prog.close();
counts.close();
try {
  BpfMap.create({ type: "hash", key: u32, value: u64, maxEntries: 4, backend: "kernel" });
  out.kernel = "created";
} catch (e) {
  out.kernel = { native: e instanceof NativeUnavailableError, code: e.code, message: e.message };
}
console.log(JSON.stringify(out));
`;

/** Runs an ES module text in a child where koffi cannot be loaded; its last line of output, as JSON. */
function runWithoutKoffi(source: string) {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", "--import", hook, "--input-type=module", "-e", source],
    { encoding: "utf8", timeout: 120_000 },
  );
  assert.equal(r.status, 0, `the child failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}");
}

test("without koffi's native part, the memory back end works and the kernel one says what is missing", () => {
  const out = runWithoutKoffi(CHILD);
  assert.equal(out.importKoffi, "threw", "import('koffi') must fail in the child");
  assert.equal(out.requireKoffi, "threw", "require('koffi') must fail in the child");
  assert.equal(out.retval, 42, "the program ran in memory: 40 + 2");
  assert.equal(out.value, "42", "the memory map holds the program's update");
  assert.equal(
    out.kernel.native,
    true,
    `the kernel back end throws NativeUnavailableError: ${JSON.stringify(out.kernel)}`,
  );
  assert.equal(out.kernel.code, "ENATIVE");
  assert.match(out.kernel.message, /native part is missing: koffi could not be loaded \(Cannot load koffi/);
  assert.match(out.kernel.message, /backend: "memory"/);
});

test("without koffi's native part, a clang object loads and runs on the memory back end", () => {
  const path = compileFixture("globals");
  const child = `
    import { BpfObject } from ${JSON.stringify(index)};
    const obj = BpfObject.open(${JSON.stringify(path)}).load({ backend: "memory" });
    const retval = obj.program("count_packets").testRun({ data: new Uint8Array(64) }).retval;
    console.log(JSON.stringify({ retval, hits: String(obj.variable("hits").get()) }));
    obj.close();`;
  const out = runWithoutKoffi(child);
  // what the same object gives in memory here, with koffi (the kernel agrees: object.test.ts)
  using obj = BpfObject.open(path).load({ backend: "memory" });
  const retval = obj.program("count_packets").testRun({ data: new Uint8Array(64) }).retval;
  assert.deepEqual(out, { retval, hits: String(obj.variable("hits").get()) }, "the same run without koffi");
});
