/** bpftool's answers, the oracle of the feature tests: `bpftool -j feature probe kernel` and its macros. */
import { execFileSync } from "node:child_process";

/** What `bpftool -j feature probe kernel` prints (the parts the tests read). */
export interface BpftoolFeatures {
  program_types: Record<string, boolean>;
  map_types: Record<string, boolean>;
  helpers: Record<string, string[]>;
}

function bpftool(...args: string[]): string {
  return execFileSync("bpftool", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** `bpftool -j feature probe kernel`. */
export function bpftoolFeatures(): BpftoolFeatures {
  return JSON.parse(bpftool("-j", "feature", "probe", "kernel")) as BpftoolFeatures;
}

/**
 * The helpers bpftool knows, per program type: its `macros` output defines one macro per program
 * type and helper it probes (`P_BPF__PROG_TYPE_xdp__HELPER_bpf_redirect 1`), known or not, where
 * the JSON lists only the available ones.
 */
export function bpftoolKnownHelpers(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const text = bpftool("feature", "probe", "kernel", "macros", "prefix", "RAWBPF_TEST_");
  for (const m of text.matchAll(/^#define RAWBPF_TEST_BPF__PROG_TYPE_(\w+?)__HELPER_(\w+) [01]$/gm)) {
    const [, type, helper] = m as unknown as [string, string, string];
    let set = out.get(type);
    if (!set) out.set(type, (set = new Set()));
    set.add(helper);
  }
  return out;
}

/**
 * Whether bpftool's libbpf reads the verifier's newer refusal "program of this type cannot use
 * helper" (libbpf 1.5 and later); older ones only know "invalid func" and "unknown func".
 */
export function bpftoolKnowsNewHelperMessage(): boolean {
  const m = /libbpf v(\d+)\.(\d+)/.exec(bpftool("version"));
  if (!m) throw new Error("bpftool version does not say which libbpf it uses");
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 1 || (major === 1 && minor >= 5);
}
