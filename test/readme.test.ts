/** Every TypeScript snippet of the README runs against the real kernel, through the public API. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { generateTypes, parseObject } from "../src/index.js";
import { needsRoot } from "./support/privilege.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const readme = readFileSync(join(root, "README.md"), "utf8");
const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);

test("the README has TypeScript snippets", () => {
  assert.ok(snippets.length >= 3);
});

for (const [i, code] of snippets.entries()) {
  test(`README snippet ${i + 1} runs`, (t) => {
    if (!needsRoot(t)) return;
    const dir = mkdtempSync(join(tmpdir(), "rawbpf-readme-"));
    try {
      const file = join(dir, "snippet.ts");
      // ES modules, as a user's project would have (top-level await)
      writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
      const api = JSON.stringify(join(root, "src/index.ts"));
      // the "Programs from C" snippet imports what `rawbpf gen types examples/opensnoop.bpf.o` writes
      if (code.includes('from "./opensnoop.js"')) {
        const bytes = readFileSync(join(root, "examples/opensnoop.bpf.o"));
        const spec = parseObject(bytes, { file: "opensnoop.bpf.o" });
        writeFileSync(
          join(dir, "opensnoop.ts"),
          generateTypes(spec, bytes, { importFrom: join(root, "src/index.ts") }),
        );
      }
      writeFileSync(file, `${code.replaceAll('from "rawbpf"', `from ${api}`)}\nexport {};\n`);
      const r = spawnSync(process.execPath, ["--import", "tsx", file], { cwd: root, encoding: "utf8" });
      assert.equal(r.status, 0, `snippet ${i + 1} failed:\n${code}\n${r.stderr}`);
      // where a snippet shows a result in a comment, the run prints it
      for (const m of code.matchAll(/console\.log\([^\n]*\/\/ (\[ .* \])$/gm))
        assert.ok(r.stdout.includes(m[1]!), r.stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
