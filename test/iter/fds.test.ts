/**
 * Iterator walks and USDT attachments own descriptors like every rawbpf object: walks opened and
 * dropped without close() past the descriptor limit are closed by a collection instead of ending
 * the loop with EMFILE (a child process with `ulimit -n 200`).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { needsRoot } from "../support/privilege.js";

const LIMIT = 200;
const index = JSON.stringify(fileURLToPath(new URL("../../src/index.ts", import.meta.url)));

test("iterator walks dropped without close() run past the descriptor limit", (t) => {
  if (!needsRoot(t)) return;
  const code = `
import { readdirSync } from "node:fs";
import { asm, attachIter, iterTarget, loadAssembled } from ${index};
const loaded = loadAssembled(asm\`r0 = 0
exit\`, iterTarget("bpf_map"));
const iter = attachIter(loaded.program);
const n = ${LIMIT * 4};
for (let i = 0; i < n; i++) iter.open().readAll();
console.log("opened " + n + ", open now " + readdirSync("/proc/self/fd").length);
`;
  const r = spawnSync(
    "sh",
    [
      "-c",
      `ulimit -n ${LIMIT} && exec "$0" --import tsx --input-type=module -e "$1"`,
      process.execPath,
      code,
    ],
    { encoding: "utf8", timeout: 120_000, cwd: fileURLToPath(new URL("../..", import.meta.url)) },
  );
  assert.equal(r.status, 0, `the loop ended with an error: ${r.stderr}`);
  const m = /^opened (\d+), open now (\d+)$/.exec(r.stdout.trim());
  assert.ok(m, `unexpected output: ${r.stdout} ${r.stderr}`);
  assert.ok(Number(m[2]) <= LIMIT, `open descriptors ${m[2]} within the limit ${LIMIT}`);
});
