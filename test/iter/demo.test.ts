/** The `processes` demo: the kernel's walk has this process, with its name and its threads (/proc). */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { run } from "../../examples/processes.js";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { needsRoot } from "../support/privilege.js";

test("processes: the walk lists this process with its /proc name and threads; rawbpf demo processes runs it", async (t) => {
  if (!needsRoot(t)) return;
  const before = new Set(readdirSync("/proc/self/task"));
  const lines: string[] = [];
  const seen = await run((l) => lines.push(l), 5);
  const after = new Set(readdirSync("/proc/self/task"));
  const self = seen.get(process.pid);
  assert.ok(self, "this process is in the walk");
  assert.equal(self.comm, readFileSync("/proc/self/comm", "utf8").trim(), "its name is /proc/self/comm");
  const stable = [...before].filter((x) => after.has(x)).length;
  assert.ok(
    self.threads >= stable && self.threads <= Math.max(before.size, after.size) + 2,
    "its thread count is /proc's",
  );
  assert.match(lines[1] ?? "", /the kernel walked \d+ tasks in \d+ processes/);
  assert.equal(lines.filter((l) => /^\s+\d+ /.test(l)).length, 5, "a table of the top 5");
  const io = captureIo();
  const status = await main(["demo", "processes"], io);
  assert.equal(status, 0, `the demo ran from the command line: ${io.err}`);
  assert.match(io.out, /== processes ==\n.*iter\/task program/, "and printed what it did");
});
