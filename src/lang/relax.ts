/**
 * Far conditional jumps. A conditional jump holds its target in a 16-bit offset: it reaches
 * 32,767 instructions ahead and 32,768 back. A function longer than that (a switch of a few
 * thousand cases) has jumps that cannot be encoded; the only jump with a 32-bit offset is the
 * unconditional `gotol` (BPF_JMP32 | BPF_JA; cpu v4, Linux 6.6). So each far conditional jump is
 * rewritten to reach its target through a `gotol`:
 *
 *   if r1 > r2 goto far        if r1 <= r2 goto skip         (the condition inverted)
 *                       →      goto far                      (gotol)
 *                              skip:
 *
 * and, for the conditions without an inverse (BPF_JSET, may_goto), the jump kept but made near:
 *
 *   if r1 & r2 goto far   →    if r1 & r2 goto near
 *                              goto skip
 *                              near: goto far                (gotol)
 *                              skip:
 *
 * The kernel itself makes the program longer as it loads it: it inlines array and hash map
 * lookups and bpf_loop, turns context field loads into several instructions, guards division and
 * ld_abs, and every jump over such a place grows; a conditional jump pushed past 16 bits then
 * fails the load ("cannot be patched due to 16-bit range"). So distances are measured with each
 * instruction counted as the most the kernel makes of its kind ({@link WEIGHT}), and a `ja` so far
 * becomes `gotol` too. A rewrite makes the function longer and can push other jumps out of range,
 * so the layout is measured again until every jump fits. Functions short enough (all but the
 * largest) come back as they were, without a copy.
 */
import { type Instruction, LD_IMM64 } from "../isa/insn.js";
import { AluOp, Class, JmpOp } from "../isa/opcode.js";
import type { Item } from "./function.js";

/** `ja` (a 16-bit offset) and `gotol` (32 bits) */
const JA = JmpOp.JA | Class.JMP;
const GOTOL = JmpOp.JA | Class.JMP32;

/** The conditions with an inverse: jump when the other would not. */
const INVERSE: ReadonlyMap<number, number> = new Map([
  [JmpOp.JEQ, JmpOp.JNE],
  [JmpOp.JNE, JmpOp.JEQ],
  [JmpOp.JGT, JmpOp.JLE],
  [JmpOp.JLE, JmpOp.JGT],
  [JmpOp.JGE, JmpOp.JLT],
  [JmpOp.JLT, JmpOp.JGE],
  [JmpOp.JSGT, JmpOp.JSLE],
  [JmpOp.JSLE, JmpOp.JSGT],
  [JmpOp.JSGE, JmpOp.JSLT],
  [JmpOp.JSLT, JmpOp.JSGE],
]);

/**
 * The most instructions the kernel makes of one, by kind, at load time (kernel/bpf/verifier.c and
 * the maps' and contexts' rewrites): a call (a map lookup inlined is up to ~10, bpf_loop ~17), a
 * load or store (a context field, up to ~10), a division or modulo (the guard for a zero or -1
 * divisor), ld_abs/ld_ind (a call and its checks); anything else stays one.
 */
const WEIGHT = { call: 24, memory: 12, divide: 8, packet: 16 } as const;

/** How many instructions `insn` may become when the kernel loads it (ld_imm64 is two slots). */
function weight(insn: Instruction): number {
  if (insn.code === LD_IMM64) return 2;
  const cls = insn.code & 0x07;
  if (cls === Class.LD) return WEIGHT.packet;
  if (cls === Class.LDX || cls === Class.ST || cls === Class.STX) return WEIGHT.memory;
  const op = insn.code & 0xf0;
  if (cls === Class.JMP && op === JmpOp.CALL) return WEIGHT.call;
  if ((cls === Class.ALU || cls === Class.ALU64) && (op === AluOp.DIV || op === AluOp.MOD))
    return WEIGHT.divide;
  return 1;
}

/** A conditional jump to a label: a JMP or JMP32 jump other than ja, call and exit. */
function conditionalTarget(insn: Instruction): string | undefined {
  const cls = insn.code & 0x07;
  const op = insn.code & 0xf0;
  // Stryker disable next-line ConditionalExpression: only jumps refer to labels (the caller asks of those alone)
  if (cls !== Class.JMP && cls !== Class.JMP32) return undefined;
  // Stryker disable next-line ConditionalExpression: ja is rewritten before this is asked; calls and exit refer to no label
  if (op === JmpOp.JA || op === JmpOp.CALL || op === JmpOp.EXIT) return undefined;
  // Stryker disable next-line ConditionalExpression,OptionalChaining: the caller asks only of instructions referring to a label
  return insn.ref?.kind === "label" ? insn.ref.name : undefined;
}

/**
 * The items of one function with every conditional jump in range of its label (see the module
 * comment); `items` itself when all are. Labels added are `far.N`, which the compiler's own
 * (`name_N`) never are.
 */
export function relaxFarJumps(items: readonly Item[]): readonly Item[] {
  // a function the kernel cannot make 32 K instructions long has no jump to measure (nearly all:
  // nothing is allocated for them)
  let longest = 0;
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as Item;
    if (item.kind === "insn") longest += weight(item.insn);
  }
  if (longest <= 0x7fff) return items;
  let out = items;
  let added = 0;
  for (;;) {
    // where each instruction and label is, counted as the kernel may make it (see weight)
    // Stryker disable next-line ArrayDeclaration: a size hint only
    const at = new Array<number>(out.length);
    const labels = new Map<string, number>();
    let w = 0;
    for (let i = 0; i < out.length; i++) {
      const item = out[i] as Item;
      at[i] = w;
      if (item.kind === "insn") w += weight(item.insn);
      // Stryker disable next-line ConditionalExpression: a line mark has no name, and no jump asks for the missing one
      else if (item.kind === "label") labels.set(item.name, w);
    }
    const far = new Set<number>();
    for (let i = 0; i < out.length; i++) {
      const item = out[i] as Item;
      if (item.kind !== "insn" || item.insn.ref?.kind !== "label") continue;
      const target = labels.get(item.insn.ref.name);
      // not a conditional jump or ja, or a label the builder reports missing
      // Stryker disable next-line ConditionalExpression: a missing label's distance is NaN, which is never far
      if (target === undefined || (conditionalTarget(item.insn) === undefined && item.insn.code !== JA))
        continue;
      const distance = target - ((at[i] as number) + weight(item.insn));
      if (distance < -0x8000 || distance > 0x7fff) far.add(i);
    }
    if (far.size === 0) return out;
    const next: Item[] = [];
    for (let i = 0; i < out.length; i++) {
      const item = out[i] as Item;
      // Stryker disable next-line ConditionalExpression: only instructions are ever marked far
      if (!far.has(i) || item.kind !== "insn") {
        next.push(item);
        continue;
      }
      const insn = item.insn;
      if (insn.code === JA) {
        next.push({ kind: "insn", insn: { ...insn, code: GOTOL } });
        continue;
      }
      const target = conditionalTarget(insn) as string;
      // Stryker disable next-line UpdateOperator: counting down names the labels as uniquely
      const skip = `far.${added++}`;
      const toTarget: Instruction = {
        code: GOTOL,
        dst: 0,
        src: 0,
        off: 0,
        imm: 0,
        ref: { kind: "label", name: target },
      };
      const inverse = INVERSE.get(insn.code & 0xf0);
      if (inverse !== undefined) {
        next.push(
          {
            kind: "insn",
            insn: { ...insn, code: (insn.code & 0x0f) | inverse, ref: { kind: "label", name: skip } },
          },
          { kind: "insn", insn: toTarget },
          { kind: "label", name: skip },
        );
      } else {
        // Stryker disable next-line UpdateOperator: as above
        const near = `far.${added++}`;
        next.push(
          { kind: "insn", insn: { ...insn, ref: { kind: "label", name: near } } },
          {
            kind: "insn",
            insn: {
              code: JA,
              dst: 0,
              src: 0,
              off: 0,
              imm: 0,
              ref: { kind: "label", name: skip },
            },
          },
          { kind: "label", name: near },
          { kind: "insn", insn: toTarget },
          { kind: "label", name: skip },
        );
      }
    }
    out = next;
  }
}
