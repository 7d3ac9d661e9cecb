import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { formatC } from "../../src/btf/c.js";
import { Btf } from "../../src/btf/decode.js";
import { BtfError } from "../../src/btf/errors.js";
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
  await assert.rejects(() => run(["frob"], captureIo()), /unknown verb/);
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

test("rawbpf btf dump (raw and c): a file read straight into the printer, a pipe read whole, a bad file's BtfError", async () => {
  // vmlinux (the default file) straight into the printer: what formatC and formatRaw print from a
  // parsed Btf
  const io = captureIo();
  assert.equal(await run(["dump", "--format", "c"], io), 0);
  assert.equal(io.out, formatC(kernelBtf()));
  const raw = captureIo();
  assert.equal(await run(["dump"], raw), 0);
  assert.equal(raw.out, formatRaw(kernelBtf()));
  // a file that does not say its size (a pipe) is opened once and read whole. The writer is a
  // process of its own (the read blocks this one), and it writes all and then holds the pipe
  // open a little: a reader that closed and reopened the pipe would lose the blob.
  const dir = tempDir();
  const fifo = join(dir, "btf.fifo");
  execFileSync("mkfifo", [fifo]);
  const blob = everyKind().builder.build();
  const whole = join(dir, "whole.btf");
  writeFileSync(whole, blob);
  const writer = spawn("sh", ["-c", '{ cat "$1"; sleep 0.2; } > "$2"', "sh", whole, fifo], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const exited = new Promise((done) => writer.on("exit", done));
  const piped = captureIo();
  assert.equal(await run(["dump", fifo, "--format", "c"], piped), 0);
  assert.equal(piped.out, formatC(Btf.parse(blob)));
  assert.equal(await exited, 0);
  // a truncated file: the error Btf.parse gives
  const cut = join(dir, "cut.btf");
  writeFileSync(cut, blob.subarray(0, blob.length - 40));
  await assert.rejects(
    () => run(["dump", cut, "--format", "c"], captureIo()),
    (e) =>
      e instanceof BtfError &&
      e.message === captureError(() => Btf.parse(blob.subarray(0, blob.length - 40))),
  );
});

function captureError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected an error");
}
