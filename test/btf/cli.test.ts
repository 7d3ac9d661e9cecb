import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { readBtfById } from "../../src/btf/kernel.js";
import { formatRaw } from "../../src/btf/raw.js";
import { run } from "../../src/cli/btf.js";
import { captureIo } from "../../src/cli/io.js";
import { allIds } from "../../src/sys/index.js";
import { needsRoot } from "../support/privilege.js";
import { everyKind, kernelBtf, tempDir, VMLINUX } from "./helpers.js";

test("rawbpf btf --help, and usage errors", async () => {
  const io = captureIo();
  assert.equal(await run(["--help"], io), 0);
  assert.match(io.out, /usage: rawbpf btf dump/);
  await assert.rejects(() => run(["list"], captureIo()), /unknown verb/);
  await assert.rejects(() => run(["dump", "--format", "yaml"], captureIo()), /raw, c or json/);
});

test("rawbpf btf dump FILE in every format", async () => {
  const { builder } = everyKind();
  const file = join(tempDir(), "every.btf");
  writeFileSync(file, builder.build());
  const raw = captureIo();
  assert.equal(await run(["dump", file], raw), 0);
  assert.match(raw.out, /^\[1\] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED$/m);
  const c = captureIo();
  assert.equal(await run(["dump", file, "--format", "c"], c), 0);
  assert.match(c.out, /struct pair \{/);
  const json = captureIo();
  assert.equal(await run(["dump", file, "--format=json"], json), 0);
  const parsed = JSON.parse(json.out);
  assert.equal(parsed.types.length, builder.types.length);
  assert.deepEqual(parsed.types[0], {
    id: 1,
    kind: "int",
    name: "int",
    size: 4,
    bits: 32,
    bitOffset: 0,
    signed: true,
    char: false,
    bool: false,
  });
  const missing = captureIo();
  await assert.rejects(() => run(["dump", "/nonexistent/btf"], missing), /ENOENT/);
});

test("rawbpf btf dump id ID reads the kernel's vmlinux BTF object, byte for byte the sysfs file", async (t) => {
  if (!needsRoot(t)) return;
  const ids = allIds("btf");
  const objects = ids.map((id) => {
    try {
      return readBtfById(id);
    } catch {
      return undefined; // objects can go away between listing and reading
    }
  });
  const vmlinux = objects.find((o) => o?.name === "vmlinux");
  assert.ok(vmlinux, "the kernel lists a vmlinux BTF object");
  assert.ok(vmlinux.kernel);
  assert.equal(Buffer.compare(Buffer.from(vmlinux.bytes), readFileSync(VMLINUX)), 0);
  const io = captureIo();
  assert.equal(await run(["dump", "id", String(vmlinux.id)], io), 0);
  assert.equal(io.out, formatRaw(kernelBtf()));
});
