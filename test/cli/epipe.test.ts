import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("./fixtures/rawbpf.ts", import.meta.url));

test("a reader that goes away early (rawbpf btf dump | head) ends rawbpf quietly", async () => {
  const child = spawn(process.execPath, ["--import", "tsx", cli, "btf", "dump", "--format", "c"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr.on("data", (d) => {
    err += d;
  });
  const first = await new Promise<Buffer>((resolve) => child.stdout.once("data", resolve));
  assert.match(first.toString("latin1"), /^#ifndef __VMLINUX_H__/);
  child.stdout.destroy();
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.equal(code, 0, err);
  assert.equal(err, "");
});
