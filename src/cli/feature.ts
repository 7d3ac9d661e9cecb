/** `rawbpf feature [--json] [--full]`: what this kernel supports, like `bpftool feature probe kernel`. */
import { type Availability, type FeatureReport, probeAll } from "../feature/all.js";
import { missingCapability } from "../sys/caps.js";
import { RawbpfError } from "../sys/error.js";
import { parseArgs } from "./args.js";
import { type CliIo, UsageError } from "./io.js";

const HELP = `usage: rawbpf feature [--json] [--full]

Asks the running kernel which program types, map types and, per program type, which helpers it
supports, by loading the smallest program or creating the smallest map of each (as bpftool feature
probe kernel does), and where programs attach (kprobe and uprobe PMUs, tracefs, kprobe_multi,
fentry, the JIT, BTF). Needs CAP_BPF (and CAP_NET_ADMIN, CAP_PERFMON for some types); as root, all.
"unknown" means the kernel's answer did not tell (the reason is printed).
  --json   one JSON object: programTypes, mapTypes, helpers, skippedHelpers, unknown, attachPoints
  --full   also probe bpf_trace_printk, bpf_trace_vprintk and bpf_probe_write_user, whose probes
           write a notice to the kernel log (skipped by default, as bpftool does)
`;

function availability(kind: string, name: string, a: Availability, why: string | undefined): string {
  if (a === true) return `eBPF ${kind} ${name} is available\n`;
  if (a === false) return `eBPF ${kind} ${name} is NOT available\n`;
  return `eBPF ${kind} ${name} is UNKNOWN: ${why ?? "the probe did not tell"}\n`;
}

/** The report as bpftool prints its plain output, section by section. */
function plain(r: FeatureReport): string {
  const out: string[] = ["Scanning eBPF program types...\n"];
  for (const [name, a] of Object.entries(r.programTypes)) {
    let line = availability("program_type", name, a, r.unknown[`program_type ${name}`]);
    // the type loads, which says nothing of the hooks: kprobes may be missing while uprobes work
    if (name === "kprobe" && a === true) {
      const p = r.attachPoints.available;
      const word = (x: Availability) =>
        x === true ? "available" : x === false ? "NOT available" : "UNKNOWN";
      line = `${line.trimEnd()} (the program type; kprobes ${word(p.kprobe_pmu)}, uprobes ${word(p.uprobe_pmu)}: see attach points)\n`;
    }
    out.push(line);
  }
  out.push("\nScanning attach points...\n");
  const points = r.attachPoints;
  for (const [name, a] of Object.entries(points.available)) {
    const d = points.detail[name as keyof typeof points.detail];
    out.push(
      a === "unknown"
        ? `attach point ${name} is UNKNOWN: ${d}\n`
        : `attach point ${name} is ${a ? "available" : "NOT available"} (${d})\n`,
    );
  }
  out.push("\nScanning eBPF map types...\n");
  for (const [name, a] of Object.entries(r.mapTypes))
    out.push(availability("map_type", name, a, r.unknown[`map_type ${name}`]));
  out.push("\nScanning eBPF helper functions...\n");
  for (const [name, list] of Object.entries(r.helpers)) {
    out.push(`eBPF helpers supported for program type ${name}:\n`);
    if (list === "unknown") {
      const why = r.unknown[`helpers ${name}`] ?? r.unknown[`program_type ${name}`];
      out.push(`\tUnknown: ${why ?? "the probes did not tell"}\n`);
    } else if (list.length === 0) {
      out.push(
        r.programTypes[name as keyof FeatureReport["programTypes"]] === false
          ? "\tProgram type not supported\n"
          : "\tNo helper is available\n",
      );
    } else {
      for (const h of list) out.push(`\t- ${h}\n`);
    }
  }
  if (r.skippedHelpers.length > 0) {
    out.push(
      `\nNot probed (their probes write to the kernel log; --full probes them): ${r.skippedHelpers.join(", ")}\n`,
    );
  }
  return out.join("");
}

/**
 * The process lacks the capability that every probe needs, so every answer would be unknown
 * (bpftool refuses the same way). `capability` names it.
 */
export class MissingCapabilityError extends RawbpfError {
  readonly capability: string;
  constructor(capability: string) {
    super(
      "ECAPABILITY",
      `probing needs ${capability} (and CAP_PERFMON, CAP_NET_ADMIN for some program types), ` +
        `which this process lacks, so every answer would be unknown: run as root, or grant ${capability}`,
    );
    this.capability = capability;
  }
}

/** Runs `rawbpf feature ...`. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { booleans: ["json", "full"], aliases: { j: "json" } });
  if (args.bools.has("help")) {
    io.stdout(HELP);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument '${args.positionals[0]}'`);
  // as bpftool does, refuse to print a report of nothing but unknowns: without CAP_BPF every probe is EPERM
  // (thrown, so that with --json it is a JSON failure like every other)
  if (missingCapability("bpf") !== undefined) throw new MissingCapabilityError("CAP_BPF");
  const lacking = [missingCapability("perfmon"), missingCapability("net")].filter((c) => c !== undefined);
  if (lacking.length > 0) {
    io.stderr(
      `rawbpf feature: this process lacks ${lacking.join(" and ")}: the program types that need ` +
        `${lacking.length > 1 ? "them" : "it"} read UNKNOWN (run as root for a full report)\n`,
    );
  }
  const report = probeAll({ full: args.bools.has("full") });
  io.stdout(args.bools.has("json") ? `${JSON.stringify(report)}\n` : plain(report));
  return 0;
}
