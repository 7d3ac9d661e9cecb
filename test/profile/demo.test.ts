/**
 * The profile demo: its samples of this process find node's own SHA-256 (OpenSSL inside node's
 * binary, named from node's symbol table) while PBKDF2 runs, and `rawbpf demo profile` prints them.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { run } from "../../examples/profile.js";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { needsRoot } from "../support/privilege.js";

test("the profile demo sees node's SHA-256 by name, in this process only", async (t) => {
  if (!needsRoot(t)) return;
  const lines: string[] = [];
  const result = await run((l) => lines.push(l));
  assert.ok(result.samples > 0, "samples");
  assert.ok(
    result.stacks.every((s) => s.pid === process.pid),
    "only this process",
  );
  assert.ok(result.hashing > 0, `some samples inside SHA-256: ${lines.join("\n")}`);
  assert.match(lines.join("\n"), /where the CPU was/);
  const io = captureIo();
  assert.equal(await main(["demo", "profile"], io), 0, io.err);
  assert.match(io.out, /^== profile ==$/m);
  assert.match(io.out, /\d+ samples, \d+ of them inside SHA-256/);
});
