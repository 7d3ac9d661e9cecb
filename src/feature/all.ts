/** `probeAll`: every program type, map type and helper this kernel supports, in one object. */
import { HELPERS } from "../isa/helpers.js";
import { MAP_TYPE_NAMES, type MapTypeName } from "../map/types.js";
import { type ProgramType, programTypes } from "../program/types.js";
import { type AttachPointReport, probeAttachPoints } from "./attach.js";
import { memo } from "./cache.js";
import { InconclusiveProbeError } from "./errors.js";
import { probeHelper } from "./helper.js";
import { probeMapType } from "./map.js";
import { probeProgramType } from "./program.js";

/** A probe's answer: supported, not supported, or `"unknown"` when the kernel's answer did not tell. */
export type Availability = boolean | "unknown";

/** Helpers whose probe writes a notice to the kernel log; {@link probeAll} skips them unless `full`. */
export const NOISY_HELPERS: readonly string[] = Object.freeze([
  "bpf_trace_printk",
  "bpf_probe_write_user",
  "bpf_trace_vprintk",
]);

/** Options of {@link probeAll}. */
export interface ProbeAllOptions {
  /**
   * Also probe the helpers in {@link NOISY_HELPERS}, whose probes write to the kernel log (as
   * `bpftool feature probe full` does). Default false.
   */
  full?: boolean;
}

/** What {@link probeAll} found. */
export interface FeatureReport {
  /** each program type rawbpf knows (kernel order), by bpftool's name */
  programTypes: Record<ProgramType, Availability>;
  /** each map type rawbpf knows (kernel order), by bpftool's name */
  mapTypes: Record<MapTypeName, Availability>;
  /**
   * per program type, the helpers its programs may call, by name in id order: `[]` when the
   * type is not supported, `"unknown"` when they cannot be probed (types that need an attach
   * target) or the type's own probe did not tell
   */
  helpers: Record<ProgramType, readonly string[] | "unknown">;
  /** helpers left out of every list because they were not probed (see {@link ProbeAllOptions.full}) */
  skippedHelpers: readonly string[];
  /** why each `"unknown"` is unknown, keyed `program_type NAME`, `map_type NAME` or `helpers NAME` */
  unknown: Record<string, string>;
  /**
   * where programs attach here (kprobe and uprobe PMUs, tracefs, kprobe_multi, fentry, the JIT,
   * BTF...): a program type that loads (`kprobe`) is not a hook that works (kprobes)
   */
  attachPoints: AttachPointReport;
}

/** Runs `probe`, turning an inconclusive answer into `"unknown"` and noting why. */
function ask(key: string, unknown: Record<string, string>, probe: () => boolean): Availability {
  try {
    return probe();
  } catch (e) {
    if (!(e instanceof InconclusiveProbeError)) throw e;
    unknown[key] = e.reason;
    return "unknown";
  }
}

/**
 * Probes every program type, every map type and, for each supported program type, every helper
 * (thousands of loads, each a few microseconds of verifier time) and returns them in one object,
 * as `bpftool feature probe kernel` does. Each probe's answer is cached for the process, and so is
 * the report ({@link clearProbeCache} forgets the probes; the next call then asks again).
 */
export function probeAll(options: ProbeAllOptions = {}): FeatureReport {
  const full = options.full === true;
  return memo(`report${full ? " full" : ""}`, () => report(full));
}

function report(full: boolean): FeatureReport {
  const unknown: Record<string, string> = {};
  const progs = {} as Record<ProgramType, Availability>;
  for (const t of programTypes) progs[t] = ask(`program_type ${t}`, unknown, () => probeProgramType(t));
  const maps = {} as Record<MapTypeName, Availability>;
  for (const t of MAP_TYPE_NAMES) maps[t] = ask(`map_type ${t}`, unknown, () => probeMapType(t));
  const skipped = full ? [] : NOISY_HELPERS;
  const helpers = {} as Record<ProgramType, readonly string[] | "unknown">;
  for (const t of programTypes) {
    if (progs[t] === false) {
      helpers[t] = [];
      continue;
    }
    const names: string[] = [];
    let result: readonly string[] | "unknown" = names;
    for (const h of HELPERS) {
      if (skipped.includes(h.name)) continue;
      const ok = ask(`helpers ${t}`, unknown, () => probeHelper(t, h.id));
      if (ok === "unknown") {
        result = "unknown";
        break;
      }
      if (ok) names.push(h.name);
    }
    helpers[t] = result;
  }
  return {
    programTypes: progs,
    mapTypes: maps,
    helpers,
    skippedHelpers: skipped,
    unknown,
    attachPoints: probeAttachPoints(),
  };
}
