/** Turning the verifier's "invalid func unknown#195896080" into the relocation that caused it. */
import { type CoreRelocationResult, POISON_IMM } from "./relocate.js";

const CALL_LINE = new RegExp(`^(\\d+): \\(85\\) call unknown#${POISON_IMM}\\b`, "gm");

/**
 * The index of the poisoned instruction the verifier stopped at, read from its log (the last
 * `N: (85) call unknown#195896080` line before "invalid func unknown#195896080"); undefined when
 * the log does not show one.
 */
export function poisonedInstructionOf(log: string): number | undefined {
  const stop = log.lastIndexOf(`invalid func unknown#${POISON_IMM}`);
  if (stop < 0) return undefined;
  let found: number | undefined;
  for (const m of log.slice(0, stop).matchAll(CALL_LINE)) found = Number(m[1]);
  return found;
}

/**
 * Explains a verifier rejection at a poisoned instruction: which CO-RE relocation put it there,
 * its C access, why it found no target, and what to do. `insnBase` is where the relocated section
 * starts in the loaded program (in instructions). Undefined when the log is not about a poisoned
 * instruction, or no result poisoned that instruction.
 */
export function explainPoisonedRejection(
  log: string,
  results: readonly CoreRelocationResult[],
  insnBase = 0,
): string | undefined {
  const at = poisonedInstructionOf(log);
  if (at === undefined) return undefined;
  const r = results.find(
    (x) => x.poisoned && (x.insnIndex + insnBase === at || x.insnIndex + insnBase + 1 === at),
  );
  if (!r) return undefined;
  return (
    `instruction ${at} could not be relocated for this kernel, and the program reaches it: ` +
    `CO-RE relocation #${r.index} (${r.kindName}) of ${r.local}: ${r.reason ?? "no target"}. ` +
    "Guard the access with bpf_core_field_exists() / bpf_core_type_exists() / bpf_core_enum_value_exists(), " +
    "or relocate against a BTF that has it"
  );
}
