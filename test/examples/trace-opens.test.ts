import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

test("trace-opens killed by SIGTERM or SIGINT while its temporary directory exists removes it, and dies of the signal", (t) => {
  if (!needsRoot(t)) return;
  const example = JSON.stringify(fileURLToPath(new URL("../../examples/trace-opens.ts", import.meta.url)));
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    const tmp = mkdtempSync(join(tmpdir(), "rawbpf-signal-"));
    try {
      // the signal arrives while the program is attached and the directory exists
      const code = `
import { run } from ${example};
await run((line) => { if (line.startsWith("attached to")) process.kill(process.pid, ${JSON.stringify(signal)}); });
// the signal is handled on the loop's next turn; this timer keeps the loop turning until then
setTimeout(() => console.log("survived"), 5000);
`;
      const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
        encoding: "utf8",
        env: { ...process.env, TMPDIR: tmp },
        timeout: 120_000,
      });
      assert.equal(r.signal, signal, `${signal}: the child died of it (status ${r.status}, ${r.stderr})`);
      assert.doesNotMatch(r.stdout, /survived/);
      assert.deepEqual(
        readdirSync(tmp).filter((n) => n.startsWith("rawbpf-trace-")),
        [],
        `${signal}: no rawbpf-trace-* directory left behind`,
      );
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
});
