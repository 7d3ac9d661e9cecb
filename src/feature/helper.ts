/** `probeHelper`: whether programs of a type may call a helper, found by loading one that does. */
import { call, exit } from "../isa/builder/jump.js";
import { encode } from "../isa/encode.js";
import { helperById, helperByName } from "../isa/helpers.js";
import { type ProgramType, programTypeName, programTypeNumber } from "../program/types.js";
import { InputError } from "../sys/error.js";
import { cached } from "./cache.js";
import { epermNote, InconclusiveProbeError } from "./errors.js";
import { probeLoad, probeSetup } from "./load.js";
import { probeProgramType } from "./program.js";

/**
 * What the verifier says when a program type may not call a helper: an id it does not know
 * ("invalid func unknown#212"), a helper the type's proto table leaves out ("unknown func" on older
 * kernels, "program of this type cannot use helper" on newer ones, 6.18 among them).
 */
const NOT_ALLOWED = ["invalid func ", "unknown func ", "program of this type cannot use helper "];

/** Whether a verifier log says the helper is not available to the program type. */
export function saysHelperUnavailable(log: string): boolean {
  return NOT_ALLOWED.some((m) => log.includes(m));
}

/** The helper id of a name (`"bpf_ktime_get_ns"`, prefix optional) or an id; typed errors for neither. */
function helperId(helper: string | number): number {
  if (typeof helper === "number") return helperById(helper).id;
  if (typeof helper === "string") return helperByName(helper).id;
  throw new InputError(`a helper is a name like 'bpf_ktime_get_ns' or an id, got ${typeof helper}`);
}

/** Program types whose helpers no plain load can probe: the load stops at the attach target. */
export function helpersProbeable(type: string): boolean {
  return !probeSetup(type).noHelpers;
}

/**
 * Whether programs of `programType` may call `helper` (a name such as `"bpf_ktime_get_ns"`, the
 * `bpf_` prefix optional, or an id) on the running kernel. Loads `call helper; exit` with a
 * verifier log and reads the log: a refusal that names the helper as unknown or not allowed for
 * the type means false; any other refusal (the arguments in r1-r5 are not what the helper wants)
 * means the verifier got past the question, so true, as libbpf decides. False when the program
 * type itself is not supported. The answer is cached for the process.
 *
 * Probing `bpf_trace_printk`, `bpf_trace_vprintk` or `bpf_probe_write_user` where they are
 * allowed writes a notice to the kernel log (which is why {@link probeAll} skips them by default).
 *
 * @throws UnknownTypeError, UnknownHelperError or UnknownHelperIdError for names and ids rawbpf
 *   does not know, before the kernel is asked
 * @throws InconclusiveProbeError for `tracing`, `lsm`, `ext` and `struct_ops` (their programs
 *   need an attach target before the verifier looks at a call), and when the kernel's refusal
 *   does not tell
 */
export function probeHelper(programType: ProgramType | (string & {}), helper: string | number): boolean {
  const type = programTypeName(programTypeNumber(programType));
  const id = helperId(helper);
  return cached(`helper ${type} ${id}`, () => {
    const name = helperById(id).name;
    if (!helpersProbeable(type)) {
      throw new InconclusiveProbeError(
        `helper ${name} in ${type} programs`,
        `${type} programs load only with a real attach target (a BTF id, a program, a struct_ops map), so no plain load reaches the call`,
      );
    }
    if (!probeProgramType(type)) return false;
    const outcome = probeLoad(programTypeNumber(type), probeSetup(type), encode([call(id), exit()]));
    if (outcome.ok) return true;
    const log = outcome.error.log ?? "";
    if (saysHelperUnavailable(log)) return false;
    if (log.trim() === "") {
      throw new InconclusiveProbeError(
        `helper ${name} in ${type} programs`,
        `the probe load was refused with ${outcome.error.errnoName} before the verifier ran${epermNote(outcome.error)}`,
        { cause: outcome.error },
      );
    }
    return true;
  });
}
