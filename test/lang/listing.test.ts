/**
 * A compiled program's listing interleaves its TypeScript lines with the instructions, and the
 * kernel keeps the line info the compiler generated (one record per TypeScript line mark).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SOURCE } from "../../examples/ts-drop-needle.js";
import { loadModule } from "../../examples/ts-load.js";
import { compile, listing } from "../../src/index.js";
import { needsRoot } from "../support/privilege.js";

test("listing: each TypeScript line as a comment above its instructions, in source order within a block", () => {
  const m = compile(SOURCE, { file: "drop.ts" });
  const text = listing(m.programs[0]!);
  const lines = text.split("\n");
  assert.match(lines[0]!, /^; socket_filter program drop_needle \(\d+ instructions, \d+ bytes of stack\)$/);
  assert.equal(lines[1], "drop_needle:");
  const comments = lines.filter((l) => l.startsWith("  ; drop.ts:"));
  for (const want of [
    "const buf = new Uint8Array(WINDOW);",
    "if (helpers.skb_load_bytes(ctx, 0, buf, n) !== 0) return -1;",
    "if (strncmp(buf.subarray(i), NEEDLE) === 0) return 0; // drop",
  ])
    assert.ok(
      comments.some((c) => c.endsWith(want)),
      `the listing shows '${want}'`,
    );
  assert.ok(text.includes("call bpf_strncmp"), "and the instructions");
  // each comment names the line the text is on in the source
  const source = SOURCE.split("\n");
  for (const c of comments) {
    const m2 = /^ {2}; drop\.ts:(\d+): (.*)$/.exec(c)!;
    assert.equal(source[Number(m2[1]) - 1]!.trim(), m2[2], c);
  }
});

test("the kernel keeps the compiled program's line info", (t) => {
  if (!needsRoot(t)) return;
  const m = compile(SOURCE, { file: "drop.ts" });
  using loaded = loadModule(m);
  const f = loaded.programs.drop_needle!.functions();
  assert.ok(f.btfId > 0, "loaded with BTF");
  const p = m.programs[0]!;
  // the BTF layer gives a function start without a line one made from the function's name
  const unlined = p.functions.filter((fn) => !p.lineInfo.some((l) => l.slot === fn.startSlot)).length;
  assert.equal(f.lineInfoCount, p.lineInfo.length + unlined, "every line record kept");
});
