/**
 * `rawbpf run FILE.ts --interpret`: a TypeScript file compiled and run on the memory back end,
 * with the same answers as `rawbpf run FILE.ts` in the kernel (the oracle), and `--trace`.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { needsRoot } from "../support/privilege.js";

const dir = mkdtempSync(join(tmpdir(), "rawbpf-interpret-ts-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

// the last byte of a 60-byte frame, counted in a map and bounded by data_end; a string constant
// (strncmp: a frozen read-only map) decides the verdict
const SOURCE = `const hits = map("array", { key: u32, value: u64, maxEntries: 1 });
export const verdict = program("xdp", (ctx) => {
  const slot = hits.lookup(0);
  if (slot !== null) slot.value += 1;
  const head = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const b = ctx.u8(i);
    if (b === null) return XDP_ABORTED;
    head[i] = b;
  }
  if (strncmp(head, "drop", 4) === 0) return XDP_DROP;
  const last = ctx.u8(59);
  return last === null ? XDP_TX : XDP_PASS;
});
`;
const file = join(dir, "verdict.ts");
writeFileSync(file, SOURCE);

async function run(...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  const io = captureIo();
  const status = await main(["run", file, ...argv], io);
  return { status, out: io.out, err: io.err };
}

const INPUTS = [
  "00".repeat(60),
  "00".repeat(59),
  `${Buffer.from("drop").toString("hex")}${"00".repeat(56)}`,
  `${Buffer.from("dro").toString("hex")}${"00".repeat(20)}`,
];

test("rawbpf run FILE.ts --interpret answers as the kernel does", async (t) => {
  for (const data of INPUTS) {
    const mem = await run("--interpret", "--json", "--data", data);
    assert.equal(mem.status, 0, mem.err);
    const m = JSON.parse(mem.out);
    if (!needsRoot(t)) continue;
    const kernel = await run("--json", "--data", data);
    assert.equal(kernel.status, 0, kernel.err);
    const k = JSON.parse(kernel.out);
    assert.equal(m.retval, k.retval, `retval for ${data}`);
    assert.equal(m.data_out, k.data_out, `data out for ${data}`);
  }
});

test("rawbpf run FILE.ts --interpret --trace ends at the program's exit", async () => {
  const r = await run("--interpret", "--trace", "--data", "00".repeat(59));
  assert.equal(r.status, 0, r.err);
  const lines = r.out.split("\n").filter((l) => /^\s+\d+\s+\d+: /.test(l));
  assert.ok(lines.length > 10, r.out);
  assert.match(lines.at(-1)!, /exit/);
  assert.match(r.out, /retval: 3 \(0x3\)/, "XDP_TX: the 60th byte is past the end");
});
