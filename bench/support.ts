/**
 * Whole-process timing shared by the benches: commands take turns (so a busy machine slows them
 * alike), bash's `time` measures each run (wall, user and system CPU, 1 ms resolution), and the
 * medians are kept. NODE_EXTRA_CA_CERTS is unset for every command: when set (as in some
 * sandboxes) every Node process parses that CA bundle before running anything (tens of ms), which
 * rawbpf never needs; `node -e 0` is timed with and without it to show what it costs.
 */
import { spawnSync } from "node:child_process";

/** Median wall and CPU (user + system) time of one command, in ms. */
export interface Run {
  wall: number;
  cpu: number;
}

/** The median (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** The environment every command runs in: this one without NODE_EXTRA_CA_CERTS. */
export function benchEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/**
 * Runs each shell command once per round, in turns (after one unmeasured warm-up run of each),
 * output to /dev/null; `keepEnv` sets extra variables for some commands by name.
 * @returns the median times by command name
 */
export function timeAll(
  commands: Record<string, string>,
  rounds: number,
  keepEnv: Record<string, Record<string, string>> = {},
): Record<string, Run> {
  const env = benchEnv();
  const runs: Record<string, Run[]> = {};
  for (let r = -1; r < rounds; r++) {
    for (const [name, cmd] of Object.entries(commands)) {
      const p = spawnSync("bash", ["-c", `TIMEFORMAT='%3R %3U %3S'; time (${cmd} > /dev/null)`], {
        encoding: "utf8",
        env: keepEnv[name] === undefined ? env : { ...env, ...keepEnv[name] },
      });
      const m = /(\d+\.\d+) (\d+\.\d+) (\d+\.\d+)\s*$/.exec(p.stderr);
      if (p.status !== 0 || !m) throw new Error(`${cmd} failed: ${p.stderr}`);
      if (r >= 0)
        (runs[name] ??= []).push({ wall: Number(m[1]) * 1e3, cpu: (Number(m[2]) + Number(m[3])) * 1e3 });
    }
  }
  const out: Record<string, Run> = {};
  for (const [name, rs] of Object.entries(runs)) {
    out[name] = { wall: median(rs.map((x) => x.wall)), cpu: median(rs.map((x) => x.cpu)) };
  }
  return out;
}

/** The Node start-up commands to time along with the others (`node`, and `nodeCerts` when set). */
export function nodeStartCommands(): {
  commands: Record<string, string>;
  keepEnv: Record<string, Record<string, string>>;
} {
  const node = `${JSON.stringify(process.execPath)} -e 0`;
  const certs = process.env.NODE_EXTRA_CA_CERTS;
  return certs
    ? { commands: { node, nodeCerts: node }, keepEnv: { nodeCerts: { NODE_EXTRA_CA_CERTS: certs } } }
    : { commands: { node }, keepEnv: {} };
}

/** Prints the times of {@link nodeStartCommands}: Node's own start-up, and what the CA bundle costs. */
export function printNodeStart(t: Record<string, Run>): void {
  const ms = (x: number) => x.toFixed(0).padStart(4);
  const node = t.node as Run;
  console.log(
    `node -e 0                ${ms(node.wall)} ms (CPU ${ms(node.cpu)}): Node's own start-up, part of each rawbpf run`,
  );
  if (t.nodeCerts) {
    console.log(
      `node -e 0 with NODE_EXTRA_CA_CERTS ${ms(t.nodeCerts.wall)} ms (CPU ${ms(t.nodeCerts.cpu)}): ` +
        "set in this environment, unset for all the runs above",
    );
  }
}
