/**
 * The package as published: `npm pack` (which builds through prepack), then the tarball's size
 * packed and unpacked (goal: under 5 MB unpacked), its largest files, and the wall time of
 * `npm install TARBALL` into a fresh project (median of a few, npm's cache warm and `--prefer-offline`,
 * so the time is npm's work on this machine, not the network's), against the same install of
 * koffi alone (rawbpf's one dependency): the difference is what rawbpf itself adds.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { benchEnv, median } from "./support.js";

const ROUNDS = Number(process.env["ROUNDS"] ?? 5);
const GOAL = 5 * 1024 * 1024;
const root = fileURLToPath(new URL("..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "rawbpf-package-bench-"));

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", env: benchEnv(), maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed:\n${r.stderr}`);
  return r.stdout;
}

/** Median wall time (ms) of `npm install SPEC` into a fresh empty project, after one warm-up. */
function installTime(spec: string): number {
  const times: number[] = [];
  for (let i = -1; i < ROUNDS; i++) {
    const project = join(work, `project-${i + 1}-${times.length}-${Math.random().toString(36).slice(2)}`);
    mkdirSync(project);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "bench", private: true }));
    const t0 = process.hrtime.bigint();
    run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", spec], project);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i >= 0) times.push(ms);
    rmSync(project, { recursive: true, force: true });
  }
  return median(times);
}

try {
  const t0 = process.hrtime.bigint();
  const packed = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", work], root))[0] as {
    filename: string;
    size: number;
    unpackedSize: number;
    entryCount: number;
    files: { path: string; size: number }[];
  };
  const packMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(2)} MB`;
  console.log(`npm pack (prepack builds dist/): ${(packMs / 1000).toFixed(1)} s`);
  console.log(
    `package: ${packed.entryCount} files, ${mb(packed.size)} packed, ${mb(packed.unpackedSize)} unpacked` +
      ` (goal under ${mb(GOAL)}: ${packed.unpackedSize < GOAL ? "met" : "MISSED"})`,
  );
  const byFolder = new Map<string, number>();
  for (const f of packed.files) {
    const folder = f.path.split("/").slice(0, 2).join("/");
    byFolder.set(folder, (byFolder.get(folder) ?? 0) + f.size);
  }
  for (const [folder, size] of [...byFolder].sort((a, b) => b[1] - a[1]).slice(0, 6))
    console.log(`  ${folder.padEnd(16)} ${mb(size)}`);

  const koffi = JSON.parse(run("npm", ["ls", "koffi", "--json"], root)).dependencies.koffi.version as string;
  const rawbpf = installTime(join(work, packed.filename));
  const alone = installTime(`koffi@${koffi}`);
  console.log(
    `npm install of the tarball: ${rawbpf.toFixed(0)} ms (median of ${ROUNDS}); koffi@${koffi} alone: ` +
      `${alone.toFixed(0)} ms; rawbpf adds ${(rawbpf - alone).toFixed(0)} ms`,
  );
  if (packed.unpackedSize >= GOAL) process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
