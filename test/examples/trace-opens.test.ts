import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { NAME_ROOM, run } from "../../examples/trace-opens.js";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { needsRoot } from "../support/privilege.js";

test("trace-opens: the tracepoint program sends each file this process opens through the ring buffer, in order, until the link closes", async (t) => {
  if (!needsRoot(t)) return;
  const r = await run(() => {});
  assert.equal(r.opened.length, 3);
  // the demo's own files, in the order Node opened them (anything else this process opened while
  // attached is traced too, and is not the demo's to assert)
  const dir = r.opened[0]!.slice(0, r.opened[0]!.lastIndexOf("/") + 1);
  assert.deepEqual(
    r.traced.filter((name) => name.startsWith(dir)),
    r.opened,
  );
  assert.ok(!r.traced.includes(r.after), "a file opened after the link closed is not traced");
  assert.ok(r.traced.every((name) => Buffer.byteLength(name) < NAME_ROOM));
  assert.equal(r.lost, 0n);
});

test("rawbpf demo trace-opens runs it; the example also runs alone", async (t) => {
  if (!needsRoot(t)) return;
  const io = captureIo();
  assert.equal(await main(["demo", "trace-opens"], io), 0, io.err);
  assert.match(io.out, /== trace-opens ==/);
  assert.match(io.out, /openat \/.*\/gamma\.txt/);
  const script = fileURLToPath(new URL("../../examples/trace-opens.ts", import.meta.url));
  const alone = spawnSync(process.execPath, ["--import", "tsx", script], { encoding: "utf8" });
  assert.equal(alone.status, 0, alone.stderr);
  assert.match(alone.stdout, /openat \/.*\/alpha\.txt\n.*beta\.txt\n.*gamma\.txt/);
});
