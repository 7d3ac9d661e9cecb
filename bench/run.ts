/**
 * `npm run bench`: runs every `bench/*.bench.ts` in its own process, one after another, and
 * prints each one's report (times and ratios against its baseline).
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
let failed = 0;
for (const f of files) {
  console.log(`\n=== ${f} ===`);
  const r = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", join(here, f)], {
    stdio: "inherit",
  });
  if (r.status !== 0) {
    failed++;
    console.log(`${f} exited with status ${r.status}`);
  }
}
process.exitCode = failed ? 1 : 0;
