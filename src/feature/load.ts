/**
 * The smallest load the kernel accepts for each program type: the attributes some types need
 * (an expected attach type, a flag, an attach BTF id), as libbpf's `probe_prog_load` sets them.
 */
import { release } from "node:os";
import { attachTypeNumber, loadPrivilege, programTypeName } from "../program/types.js";
import { BpfError } from "../sys/error.js";
import { closeRaw } from "../sys/fd.js";
import { type ProgLoadAttr, progLoad } from "../sys/prog.js";

/** BPF_F_SLEEPABLE: syscall programs must be sleepable. */
const BPF_F_SLEEPABLE = 1 << 4;
/** Room for the verifier's log of a two-instruction program. */
const LOG_SIZE = 4096;

/**
 * What a probe load of a type needs beyond the type and the instructions. `expect` marks the
 * types no plain load can succeed for (they need a real attach target): the probe gives them a
 * BTF id that cannot be right (1, the first type of vmlinux) and takes the kernel's refusal of
 * that id, past its check of the type, as the proof that the type is known.
 */
export interface ProbeSetup {
  readonly attr: Partial<ProgLoadAttr>;
  readonly expect?: { readonly errno: string; readonly message?: string };
  /** helpers cannot be probed with this setup (the load never reaches the helper call) */
  readonly noHelpers?: boolean;
}

/** KERNEL_VERSION of the running kernel (kprobe programs once had to state it; kept as libbpf does). */
function kernelVersion(): number {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(release());
  if (!m) return 0;
  return (Number(m[1]) << 16) + (Number(m[2]) << 8) + Math.min(Number(m[3]), 255);
}

/** The probe setup of a program type (by its bpftool name). */
export function probeSetup(type: string): ProbeSetup {
  switch (type) {
    case "cgroup_sock_addr":
      return { attr: { expectedAttachType: attachTypeNumber("cgroup_inet4_connect") } };
    case "cgroup_sockopt":
      return { attr: { expectedAttachType: attachTypeNumber("cgroup_getsockopt") } };
    case "sk_lookup":
      return { attr: { expectedAttachType: attachTypeNumber("sk_lookup") } };
    case "lirc_mode2":
      return { attr: { expectedAttachType: attachTypeNumber("lirc_mode2") } };
    case "netfilter":
      return { attr: { expectedAttachType: attachTypeNumber("netfilter") } };
    case "kprobe":
      return { attr: { kernVersion: kernelVersion() } };
    case "syscall":
      return { attr: { progFlags: BPF_F_SLEEPABLE } };
    case "tracing":
      // libbpf probes fentry; tp_btf (trace_raw_tp) came with the type in 5.5 too, and some
      // kernels (this 6.18 build among them) refuse fentry loads with EPERM before the verifier
      // runs, which says nothing about the type. The refusal of id 1 comes from the verifier.
      return {
        attr: { expectedAttachType: attachTypeNumber("trace_raw_tp"), attachBtfId: 1 },
        expect: { errno: "EINVAL", message: "attach_btf_id 1 is not a typedef" },
        noHelpers: true,
      };
    case "lsm":
      return {
        attr: { expectedAttachType: attachTypeNumber("lsm_mac"), attachBtfId: 1 },
        expect: { errno: "EINVAL", message: "attach_btf_id 1 is not a function" },
        noHelpers: true,
      };
    case "ext":
      return {
        attr: { attachBtfId: 1 },
        expect: { errno: "EINVAL", message: "Cannot replace kernel functions" },
        noHelpers: true,
      };
    case "struct_ops":
      // without a struct_ops map to belong to, the kernel answers ENOTSUPP once it knows the type
      return { attr: {}, expect: { errno: "ENOTSUPP" }, noHelpers: true };
    default:
      return { attr: {} };
  }
}

/** The outcome of one probe load: accepted, or the kernel's refusal with the verifier's log. */
export type LoadOutcome = { readonly ok: true } | { readonly ok: false; readonly error: BpfError };

/**
 * Loads `insns` as a program of type number `progType` with the setup, closes the program at
 * once, and says what the kernel answered.
 */
export function probeLoad(progType: number, setup: ProbeSetup, insns: Uint8Array): LoadOutcome {
  let fd = -1;
  try {
    fd = progLoad(
      { ...setup.attr, progType, insns, license: "GPL", logLevel: 1, logSize: LOG_SIZE },
      { privilege: loadPrivilege(programTypeName(progType)) },
    ).fd;
    return { ok: true };
  } catch (e) {
    if (e instanceof BpfError) return { ok: false, error: e };
    throw e;
  } finally {
    closeRaw(fd);
  }
}
