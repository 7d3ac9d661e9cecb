import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { objectPath, run } from "../../examples/opensnoop-c.js";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { needsRoot } from "../support/privilege.js";

test("opensnoop-c: the shipped object is what its C source compiles to (when clang-19 is here)", () => {
  const check = spawnSync(
    process.execPath,
    [fileURLToPath(new URL("../../scripts/build-bpf.mjs", import.meta.url)), "--check"],
    {
      encoding: "utf8",
    },
  );
  assert.equal(check.status, 0, check.stderr);
  assert.equal(readFileSync(objectPath()).subarray(0, 4).toString("latin1"), "\x7fELF");
});

test("opensnoop-c: the C program reports each file this process opens, with its pid and flags", async (t) => {
  if (!needsRoot(t)) return;
  const r = await run(() => {});
  for (const file of r.opened) {
    const mine = r.events.filter((e) => e.filename === file);
    assert.ok(mine.length >= 2, `the write and the read of ${file} were both seen`);
    assert.ok(
      mine.every((e) => e.pid === process.pid),
      "with this process's pid",
    );
    assert.ok(
      mine.some((e) => (e.flags & 3) === 0) && mine.some((e) => (e.flags & 3) === 1),
      "O_RDONLY and O_WRONLY",
    );
  }
  assert.equal(r.lost, 0n);
});

test("rawbpf demo opensnoop-c runs it; the example also runs alone", async (t) => {
  if (!needsRoot(t)) return;
  const io = captureIo();
  assert.equal(await main(["demo", "opensnoop-c"], io), 0, io.err);
  assert.match(io.out, /openat \/.*\/gamma\.txt/);
  const script = fileURLToPath(new URL("../../examples/opensnoop-c.ts", import.meta.url));
  const alone = spawnSync(process.execPath, ["--import", "tsx", script], { encoding: "utf8" });
  assert.equal(alone.status, 0, alone.stderr);
  assert.match(alone.stdout, /openat \/.*\/alpha\.txt/);
});
