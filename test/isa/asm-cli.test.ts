import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { run as asmRun } from "../../src/cli/asm.js";
import { run as disasmRun } from "../../src/cli/disasm.js";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";

const SOURCE = "r1 = 0x1122334455667788 ll\nif r1 > 3 goto out\ncall bpf_ktime_get_ns\nout:\nr0 = 0\nexit\n";

test("rawbpf asm writes bin, hex, c and json; rawbpf disasm reads them back", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-asm-"));
  try {
    const src = join(dir, "p.s");
    const bin = join(dir, "p.bin");
    writeFileSync(src, SOURCE);
    assert.equal(await asmRun([src, "-o", bin], captureIo()), 0);
    const bytes = readFileSync(bin);
    assert.equal(bytes.length, 6 * 8);
    const hex = captureIo();
    assert.equal(await asmRun([src, "--format", "hex"], hex), 0);
    assert.equal(hex.out.split("\n")[0], "18 01 00 00 88 77 66 55");
    const c = captureIo();
    assert.equal(await asmRun(["-", "--format", "c"], { ...c, stdin: async () => Buffer.from(SOURCE) }), 0);
    assert.match(c.out, /\{ \.code = 0x18, \.dst_reg = 1, \.src_reg = 0, \.off = 0, \.imm = 1432778632 \},/);
    const json = captureIo(SOURCE);
    assert.equal(await asmRun(["--format=json"], json), 0);
    assert.equal(JSON.parse(json.out).bytes, bytes.toString("hex"));
    // disasm of the binary, then of the hex text, gives text that assembles to the same bytes
    const text = captureIo();
    assert.equal(await disasmRun([bin], text), 0);
    assert.match(text.out, /call bpf_ktime_get_ns/);
    const again = join(dir, "again.s");
    writeFileSync(again, text.out);
    const back = join(dir, "again.bin");
    assert.equal(await asmRun([again, "-o", back], captureIo()), 0);
    assert.deepEqual(readFileSync(back), bytes);
    const fromHex = captureIo(hex.out);
    assert.equal(await disasmRun(["--format", "json"], fromHex), 0);
    assert.equal(JSON.parse(fromHex.out)[2].text, "call bpf_ktime_get_ns");
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test("errors go to stderr with a non-zero status; --help works", async () => {
  const bad = captureIo("r0 = 1\nfoo r1\nexit\n");
  assert.equal(await asmRun(["--format", "hex"], bad), 1);
  assert.match(bad.err, /<stdin>:2:1: error: unknown instruction 'foo'/);
  const trunc = captureIo("18 01 00 00 00 00 00 00");
  assert.equal(await main(["disasm"], trunc), 1);
  assert.match(trunc.err, /^rawbpf disasm: <stdin>: .*ld_imm64/);
  for (const r of [asmRun, disasmRun]) {
    const h = captureIo();
    assert.equal(await r(["--help"], h), 0);
    assert.match(h.out, /^usage: rawbpf/);
  }
});
