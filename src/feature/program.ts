/** `probeProgramType`: whether the running kernel knows a program type, found by loading one. */
import { mov } from "../isa/builder/alu.js";
import { exit } from "../isa/builder/jump.js";
import { R0 } from "../isa/builder/operand.js";
import { encode } from "../isa/encode.js";
import { type ProgramType, programTypeName, programTypeNumber } from "../program/types.js";
import { cached } from "./cache.js";
import { epermNote, InconclusiveProbeError } from "./errors.js";
import { type LoadOutcome, probeLoad, probeSetup } from "./load.js";
import { meansUnknownType } from "./unknown-type.js";

/** `r0 = 0; exit`: the smallest program every type accepts. */
let returnZero: Uint8Array | undefined;

/** Whether the outcome of a type's probe load says it is supported (throws when it does not tell). */
function judge(type: string, outcome: LoadOutcome): boolean {
  if (outcome.ok) return true;
  const { error } = outcome;
  const expect = probeSetup(type).expect;
  if (expect && error.errnoName === expect.errno && (!expect.message || error.log?.includes(expect.message)))
    return true;
  if (meansUnknownType(error.errnoName)) return false;
  throw new InconclusiveProbeError(
    `program type ${type}`,
    `the probe load was refused with ${error.errnoName}${error.log?.trim() ? "" : " before the verifier ran"}, ` +
      `which does not say whether the type is known (an unknown type is refused with EINVAL)${epermNote(error)}`,
    { cause: error },
  );
}

/**
 * Whether the running kernel supports programs of `type` (bpftool's name: `"xdp"`, `"kprobe"`,
 * or `BPF_PROG_TYPE_XDP`), found by loading the smallest program of that type (`r0 = 0; exit`, with
 * the expected attach type or flag the type needs) and closing it. Types that need an attach
 * target (`tracing`, `lsm`, `ext`) are loaded with a BTF id that cannot be right, and a refusal of
 * that id proves the type known; `struct_ops` is known when the kernel answers ENOTSUPP. The
 * answer is cached for the process ({@link clearProbeCache}).
 *
 * @returns true when the kernel accepts the type, false when it says it does not know it
 * @throws UnknownTypeError for a name rawbpf does not know, before the kernel is asked
 * @throws InconclusiveProbeError when the kernel's refusal does not tell (EPERM, say)
 */
export function probeProgramType(type: ProgramType | (string & {})): boolean {
  const name = programTypeName(programTypeNumber(type));
  return cached(`prog ${name}`, () => {
    returnZero ??= encode([mov(R0, 0), exit()]);
    return judge(name, probeLoad(programTypeNumber(name), probeSetup(name), returnZero));
  });
}
