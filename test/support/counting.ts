/**
 * The counter many kernel tests put in front of a program: the context is kept in r6, one is added
 * to `count[key]` (an array map of u64), then the tagged text runs. The key is a number, or the
 * name of a helper whose result is the key (`bpf_get_smp_processor_id`, `bpf_get_attach_cookie`).
 *
 * ```ts
 * countThen(count)`r0 = 2 // TC_ACT_SHOT
 *   exit`
 * ```
 */
import type { AsmProgram } from "../../src/isa/asm/program.js";
import { type AsmValue, asm, type NamedMap } from "../../src/isa/template.js";

export function countThen(count: NamedMap, key: number | string = 0) {
  const store =
    typeof key === "number" ? `r1 = ${key}\n *(u32 *)(r10 - 4) = r1` : `call ${key}\n *(u32 *)(r10 - 4) = r0`;
  return (strings: TemplateStringsArray, ...values: AsmValue[]): AsmProgram => {
    const head = `
      r6 = r1
      ${store}
      r2 = r10
      r2 += -4
      r1 = `;
    const counted = `
      call bpf_map_lookup_elem
      if r0 == 0 goto counted
      r1 = 1
      lock *(u64 *)(r0 + 0) += r1
    counted:
    `;
    const parts = [head, counted + strings[0], ...strings.slice(1)];
    return asm(Object.assign(parts, { raw: parts }), count, ...values);
  };
}
