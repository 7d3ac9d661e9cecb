/**
 * privileges: what each capability unlocks on this kernel. Each row runs privileges-child in a
 * new process as uid 65534 (nobody) holding only the listed capabilities (setpriv sets them as
 * ambient capabilities, so they survive the exec), and shows what the kernel allowed.
 *
 * Run alone (as root): `node --import tsx examples/privileges.ts`
 */

import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { unprivilegedBpfDisabled } from "../src/index.js";
import { type Log, runIfMain } from "./main.js";
import type { Attempt } from "./privileges-child.js";

/** One row of the matrix: the capabilities the child had and what each load did. */
export interface PrivilegeRow {
  label: string;
  capabilities: string[];
  results: Attempt[];
}

/** The capability sets tried (for a non-root uid), then root. */
export const ROWS: { label: string; caps: string[] | "root" }[] = [
  { label: "nobody, no capabilities", caps: [] },
  { label: "nobody + CAP_BPF", caps: ["bpf"] },
  { label: "nobody + CAP_BPF + CAP_NET_ADMIN", caps: ["bpf", "net_admin"] },
  { label: "nobody + CAP_BPF + CAP_PERFMON", caps: ["bpf", "perfmon"] },
  { label: "root (every capability)", caps: "root" },
];

/** The command that runs the child: compiled JavaScript, or TypeScript through tsx. */
function childCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  const ts = here.endsWith(".ts");
  const child = here.replace(/privileges\.(ts|js)$/, `privileges-child.${ts ? "ts" : "js"}`);
  return ts ? [process.execPath, "--import", "tsx", child] : [process.execPath, child];
}

/** Runs the child with `caps` (as uid 65534), or as root; returns its outcomes. */
export function runChild(caps: string[] | "root"): Attempt[] {
  const cmd = childCommand();
  const argv =
    caps === "root"
      ? cmd
      : [
          "setpriv",
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          `--inh-caps=${["-all", ...caps.map((c) => `+${c}`)].join(",")}`,
          `--ambient-caps=${["-all", ...caps.map((c) => `+${c}`)].join(",")}`,
          ...cmd,
        ];
  const out = execFileSync(argv[0]!, argv.slice(1), { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return (JSON.parse(out.trim().split("\n").pop()!) as { results: Attempt[] }).results;
}

export async function run(log: Log): Promise<PrivilegeRow[]> {
  if (process.getuid?.() !== 0) {
    log("privileges: needs root (it starts children with chosen capabilities); skipped");
    return [];
  }
  log(
    `kernel.unprivileged_bpf_disabled = ${unprivilegedBpfDisabled() ?? "unknown"} (2: only CAP_BPF or CAP_SYS_ADMIN may load anything)`,
  );
  const rows: PrivilegeRow[] = [];
  for (const row of ROWS) {
    const results = runChild(row.caps);
    rows.push({ label: row.label, capabilities: row.caps === "root" ? ["all"] : row.caps, results });
    log(`${row.label}:`);
    for (const r of results) {
      log(
        r.ok
          ? `  ${r.case}: loaded`
          : `  ${r.case}: refused, ${r.errno}${r.capability ? ` — needs ${r.capability}` : ""}`,
      );
    }
  }
  return rows;
}

runIfMain(import.meta.url, run);
