import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { FUNCTION, run } from "../../examples/node-probes.js";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { uprobeOffset } from "../../src/link/index.js";
import { needsRoot } from "../support/privilege.js";

test("node-probes: a uprobe on uv_fs_open in the running node sees each fs.promises.open's path, in order", async (t) => {
  if (!needsRoot(t)) return;
  const r = await run(() => {});
  assert.equal(r.offset, uprobeOffset(r.binary, FUNCTION));
  assert.equal(r.opened.length, 3);
  // the demo's own files, in the order they were opened (other uv_fs_open calls of this process
  // while attached are traced too, and are not the demo's to assert)
  assert.deepEqual(
    r.traced.filter((path) => r.opened.includes(path)),
    r.opened,
  );
});

test("rawbpf demo node-probes runs it; the example also runs alone", async (t) => {
  if (!needsRoot(t)) return;
  const io = captureIo();
  assert.equal(await main(["demo", "node-probes"], io), 0, io.err);
  assert.match(io.out, /== node-probes ==/);
  assert.match(io.out, /uv_fs_open\("\/.*\/three\.txt"\)/);
  const script = fileURLToPath(new URL("../../examples/node-probes.ts", import.meta.url));
  const alone = spawnSync(process.execPath, ["--import", "tsx", script], { encoding: "utf8" });
  assert.equal(alone.status, 0, alone.stderr);
  assert.match(alone.stdout, /one\.txt"\)[\s\S]*two\.txt"\)[\s\S]*three\.txt"\)/);
});
