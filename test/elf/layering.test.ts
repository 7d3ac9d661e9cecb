/** The ELF layer is pure and imports nothing of rawbpf's but itself (ARCHITECTURE.md, "Layers"). */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";
import { ElfError, ElfFormatError, nearestName, parseElf } from "../../src/elf/index.js";

const ELF = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "elf");

test("src/elf imports only its own files and node builtins", () => {
  const bad: string[] = [];
  for (const f of readdirSync(ELF).filter((n) => n.endsWith(".ts"))) {
    const text = readFileSync(join(ELF, f), "utf8");
    for (const m of text.matchAll(/(?:import|export)\s[^;]*?from\s+"([^"]+)"/g)) {
      const spec = m[1] as string;
      if (!spec.startsWith("./") && !spec.startsWith("node:")) bad.push(`${f}: ${spec}`);
    }
  }
  assert.deepEqual(bad, [], "imports reaching outside src/elf");
});

test("ELF errors have their own base with rawbpf's bad-input code", () => {
  const e = (() => {
    try {
      parseElf(new Uint8Array(10), { file: "tiny" });
    } catch (x) {
      return x;
    }
    return undefined;
  })();
  assert.ok(e instanceof ElfFormatError, "a 10-byte file is an ElfFormatError");
  assert.ok(e instanceof ElfError, "ElfFormatError extends ElfError");
  assert.equal((e as ElfError).code, "EINPUT");
  assert.equal((e as ElfError).name, "ElfFormatError");
  assert.equal(nearestName("mallok", ["free", "malloc", "calloc"]), "malloc");
  assert.equal(nearestName("zzzzzzzzzz", ["a"]), undefined);
});
