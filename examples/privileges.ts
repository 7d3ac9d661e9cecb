/**
 * privileges: what each capability unlocks on this kernel. Each row runs privileges-child in a
 * new process holding only the listed capabilities, and shows what the kernel allowed. The child
 * keeps root's uid and loses every other capability (setpriv empties its bounding set but for the
 * listed ones), so it can read the project wherever it lives (a mode-700 clone under /root too):
 * without CAP_DAC_OVERRIDE, root's uid still owns root's files, and no capability but the listed
 * ones is left to it.
 *
 * Run alone (as root): `node --import tsx examples/privileges.ts`
 */

import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { hasCapability, unprivilegedBpfDisabled } from "../src/index.js";
import { type Log, runIfMain } from "./main.js";
import type { Attempt } from "./privileges-child.js";

/** One row of the matrix: the capabilities the child had and what each load did. */
export interface PrivilegeRow {
  label: string;
  capabilities: string[];
  results: Attempt[];
}

/** The capability sets tried, then every capability. */
export const ROWS: { label: string; caps: string[] | "root" }[] = [
  { label: "no capabilities", caps: [] },
  { label: "CAP_BPF", caps: ["bpf"] },
  { label: "CAP_BPF + CAP_NET_ADMIN", caps: ["bpf", "net_admin"] },
  { label: "CAP_BPF + CAP_PERFMON", caps: ["bpf", "perfmon"] },
  { label: "root (every capability)", caps: "root" },
];

/** What this process needs to start the children: to drop capabilities, and to have them to hand. */
const NEEDED = ["CAP_SETPCAP", "CAP_SYS_ADMIN", "CAP_BPF", "CAP_NET_ADMIN", "CAP_PERFMON"] as const;

/** The command that runs the child: compiled JavaScript, or TypeScript through tsx. */
function childCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  const ts = here.endsWith(".ts");
  const child = here.replace(/privileges\.(ts|js)$/, `privileges-child.${ts ? "ts" : "js"}`);
  return ts ? [process.execPath, "--import", "tsx", child] : [process.execPath, child];
}

/** Runs the child with only `caps` (root's uid kept), or with every capability; returns its outcomes. */
export function runChild(caps: string[] | "root"): Attempt[] {
  const cmd = childCommand();
  const argv =
    caps === "root"
      ? cmd
      : [
          "setpriv",
          "--inh-caps=-all",
          "--ambient-caps=-all",
          `--bounding-set=${["-all", ...caps.map((c) => `+${c}`)].join(",")}`,
          ...cmd,
        ];
  let out: string;
  try {
    out = execFileSync(argv[0]!, argv.slice(1), { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string; status?: number | null };
    const why =
      err.code === "ENOENT"
        ? `${argv[0]} is not installed (setpriv comes with util-linux)`
        : `it exited with status ${err.status}: ${(err.stderr ?? "").trim().split("\n").slice(-3).join(" / ") || err.message}`;
    throw new Error(
      `privileges: the child with ${caps === "root" ? "every capability" : caps.length ? caps.join(", ") : "no capabilities"} could not run: ${why}`,
    );
  }
  return (JSON.parse(out.trim().split("\n").pop()!) as { results: Attempt[] }).results;
}

export async function run(log: Log): Promise<PrivilegeRow[]> {
  const missing = NEEDED.filter((c) => !hasCapability(c));
  if (process.getuid?.() !== 0 || missing.length > 0) {
    log(
      `privileges: needs root with every capability (it starts children with chosen capabilities); ` +
        `this process ${process.getuid?.() !== 0 ? "is not root" : `lacks ${missing.join(", ")}`}; skipped`,
    );
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
