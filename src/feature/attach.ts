/**
 * `probeAttachPoints`: where programs can be attached on this machine, beside which program types
 * load: a kernel that loads `kprobe` programs (uprobes run them) may still have no kprobes.
 */
import { existsSync, readFileSync } from "node:fs";
import { asm } from "../isa/template.js";
import { kernelFunctionBtfId } from "../link/tracing.js";
import { Program } from "../program/program.js";
import { attachTypeNumber } from "../program/types.js";
import { BpfError } from "../sys/error.js";
import { linkCreate } from "../sys/link.js";
import type { Availability } from "./all.js";
import { memo } from "./cache.js";
import { epermNote } from "./errors.js";

/** The attach points {@link probeAttachPoints} reports. */
export type AttachPoint =
  | "kprobe_pmu"
  | "uprobe_pmu"
  | "kprobe_events"
  | "tracefs"
  | "kprobe_multi"
  | "uprobe_multi"
  | "fentry"
  | "software_pmu"
  | "hardware_pmu"
  | "jit"
  | "btf";

/** What {@link probeAttachPoints} found: each point's availability and, for each, how it was told. */
export interface AttachPointReport {
  /** each attach point: available, not, or `"unknown"` */
  available: Record<AttachPoint, Availability>;
  /** how each answer was found, or why it is unknown, in a few words */
  detail: Record<AttachPoint, string>;
}

const PMUS = "/sys/bus/event_source/devices";
const TRACEFS = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/** BPF_LINK_CREATE of a multi-probe link with no place: the kernel's refusal tells whether it has the kind. */
function probeMultiLink(kind: "kprobe_multi" | "uprobe_multi"): [Availability, string] {
  const attachType = kind === "kprobe_multi" ? "trace_kprobe_multi" : "trace_uprobe_multi";
  let program: Program;
  try {
    program = Program.load({
      type: "kprobe",
      expectedAttachType: attachType,
      instructions: asm`r0 = 0\nexit`,
    });
  } catch (e) {
    return [
      "unknown",
      `a kprobe program for ${attachType} did not load (${e instanceof BpfError ? `${e.errnoName}${epermNote(e)}` : String(e)})`,
    ];
  }
  try {
    // cnt 0: a kernel with the link kind refuses the count (EINVAL); one without refuses the kind (EOPNOTSUPP)
    linkCreate({
      progFd: program.fd,
      target: 0,
      attachType: attachTypeNumber(attachType),
      extra:
        kind === "kprobe_multi"
          ? { kind, symbols: undefined, addresses: undefined, cookies: undefined, count: 0, flags: 0 }
          : {
              kind,
              path: Buffer.from("/\0"),
              offsets: Buffer.alloc(8),
              cookies: undefined,
              count: 0,
              flags: 0,
              pid: 0,
            },
    });
    return ["unknown", "the kernel accepted a link with no probe"];
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    if (e.errnoName === "EOPNOTSUPP")
      return [
        false,
        `BPF_LINK_CREATE answers EOPNOTSUPP (built without ${kind === "kprobe_multi" ? "CONFIG_FPROBE" : "CONFIG_UPROBES"})`,
      ];
    if (e.errnoName === "EINVAL") return [true, "BPF_LINK_CREATE knows the link kind (EINVAL for no probe)"];
    return ["unknown", `BPF_LINK_CREATE answered ${e.errnoName}${epermNote(e)}`];
  } finally {
    program.close();
  }
}

/** A tracing program loaded for fentry on a kernel function: needs BTF, the JIT and trampolines. */
function probeFentry(): [Availability, string] {
  let id: number;
  try {
    id = kernelFunctionBtfId("bpf_fentry_test1");
  } catch {
    return ["unknown", "bpf_fentry_test1 is not in the kernel's BTF"];
  }
  try {
    Program.load({
      type: "tracing",
      expectedAttachType: "trace_fentry",
      attachBtfId: id,
      instructions: asm`r0 = 0\nexit`,
    }).close();
    return [true, "a trace_fentry program on bpf_fentry_test1 loaded"];
  } catch (e) {
    if (e instanceof BpfError && (e.errnoName === "ENOTSUPP" || e.errnoName === "EOPNOTSUPP"))
      return [false, `the load of a trace_fentry program was refused with ${e.errnoName} (no trampolines)`];
    const why = e instanceof BpfError ? `${e.errnoName}${epermNote(e)}` : String(e);
    return ["unknown", `the load of a trace_fentry program was refused with ${why}`];
  }
}

function exists(what: string, paths: readonly string[]): [Availability, string] {
  const found = paths.find((p) => existsSync(p));
  return found ? [true, `${found} exists`] : [false, `no ${paths.join(" or ")}${what ? `: ${what}` : ""}`];
}

function jit(): [Availability, string] {
  const path = "/proc/sys/net/core/bpf_jit_enable";
  try {
    const v = readFileSync(path, "latin1").trim();
    return v === "0" ? [false, `${path} is 0 (the interpreter runs programs)`] : [true, `${path} is ${v}`];
  } catch {
    return ["unknown", `${path} cannot be read`];
  }
}

/**
 * Where programs can be attached here: the kprobe and uprobe PMUs, tracefs and its
 * kprobe_events, kprobe_multi and uprobe_multi links, fentry (a trampoline), the software and
 * hardware perf PMUs, the JIT and the kernel's BTF. From sysfs, procfs and tracefs, and for the
 * link kinds and fentry from the kernel's answer to a load or a link it refuses. Cached for the
 * process ({@link clearProbeCache}).
 */
export function probeAttachPoints(): AttachPointReport {
  return memo("attach points", () => {
    const tracefs = TRACEFS.find((r) => existsSync(`${r}/events`));
    const points: Record<AttachPoint, [Availability, string]> = {
      kprobe_pmu: exists("kprobes need CONFIG_KPROBES (and CONFIG_KPROBE_EVENTS)", [`${PMUS}/kprobe/type`]),
      uprobe_pmu: exists("uprobes need CONFIG_UPROBE_EVENTS", [`${PMUS}/uprobe/type`]),
      kprobe_events: exists(
        "kprobes need CONFIG_KPROBE_EVENTS",
        TRACEFS.map((r) => `${r}/kprobe_events`),
      ),
      tracefs: tracefs
        ? [true, `mounted at ${tracefs}`]
        : [false, "not mounted (mount -t tracefs nodev /sys/kernel/tracing)"],
      kprobe_multi: probeMultiLink("kprobe_multi"),
      uprobe_multi: probeMultiLink("uprobe_multi"),
      fentry: probeFentry(),
      software_pmu: exists("", [`${PMUS}/software/type`]),
      hardware_pmu: exists("no CPU PMU (virtual machines often have none): sample with software events", [
        `${PMUS}/cpu/type`,
        `${PMUS}/cpu_core/type`,
        `${PMUS}/armv8_pmuv3_0/type`,
      ]),
      jit: jit(),
      btf: exists("CO-RE, kfuncs and fentry need CONFIG_DEBUG_INFO_BTF", ["/sys/kernel/btf/vmlinux"]),
    };
    const available = {} as Record<AttachPoint, Availability>;
    const detail = {} as Record<AttachPoint, string>;
    for (const [k, [a, d]] of Object.entries(points) as [AttachPoint, [Availability, string]][]) {
      available[k] = a;
      detail[k] = d;
    }
    return { available, detail };
  });
}
