/**
 * {@link ProgramBuilder}: collects instructions, labels and functions, and turns them into a
 * program whose jumps, local calls and function pointers are resolved, with the list of map and
 * kfunc references left for the loader and the BTF layer.
 */

import { helperByName } from "../helpers.js";
import type { Instruction } from "../insn.js";
import { Class, JmpOp, LD_IMM64, PseudoCall, PseudoLoad } from "../opcode.js";
import { instructionProblem } from "../validate.js";
import { BuildError, DuplicateLabelError, JumpRangeError, UndefinedLabelError } from "./errors.js";

/** A function of the built program. */
export interface BuiltFunction {
  /** its name (the main program's is the builder's name) */
  readonly name: string;
  /** index of its first instruction in `insns` */
  readonly start: number;
  /** slot of its first instruction (ld_imm64 counts two slots), as func_info wants it */
  readonly startSlot: number;
  /** whether it is passed as a callback (its address is loaded with ld_imm64 src=4) */
  readonly callback: boolean;
}

/** An instruction that refers to a map. */
export interface MapReference {
  /** index of the ld_imm64 in `insns` */
  readonly index: number;
  /** its slot */
  readonly slot: number;
  /** the map object given to ldMapFd/ldMapValue */
  readonly map: unknown;
  /** the map's name */
  readonly name: string;
}

/** An instruction that calls a kfunc, whose BTF id is still to be resolved. */
export interface KfuncReference {
  /** index of the call in `insns` */
  readonly index: number;
  /** its slot */
  readonly slot: number;
  /** the kfunc's name */
  readonly name: string;
}

/** The result of {@link ProgramBuilder.build}: plain data. */
export interface BuiltProgram {
  /** the instructions, main program first, then each function */
  readonly insns: Instruction[];
  /** the functions, main program first */
  readonly functions: BuiltFunction[];
  /** instructions that need a map fd patched in at load */
  readonly mapRefs: MapReference[];
  /** instructions that need a kfunc BTF id filled in at load */
  readonly kfuncRefs: KfuncReference[];
}

/** Options of a function. */
export interface FunctionOptions {
  /** mark the function as a callback even if no ldFunc refers to it */
  readonly callback?: boolean;
}

interface Section {
  readonly name: string;
  readonly insns: Instruction[];
  readonly labels: Map<string, number>;
  callback: boolean;
}

/**
 * Builds a program from instructions.
 *
 * ```ts
 * const b = new ProgramBuilder("count");
 * b.emit(mov(R0, 0), jeq(R1, 0, "out"), mov(R0, 1)).label("out").emit(exit());
 * const { insns } = b.build();
 * ```
 */
export class ProgramBuilder {
  private readonly main: Section;
  private readonly functions: Section[] = [];
  private current: Section;

  /** @param name the main program's name (for func_info and messages) */
  constructor(name = "main") {
    this.main = { name, insns: [], labels: new Map(), callback: false };
    this.current = this.main;
  }

  /** Appends instructions (or lists of them) to the current function. */
  emit(...insns: (Instruction | readonly Instruction[])[]): this {
    for (const item of insns) {
      if (Array.isArray(item)) for (const insn of item) this.current.insns.push(insn);
      else this.current.insns.push(item as Instruction);
    }
    return this;
  }

  /** Marks the position of the next instruction with a label, unique within the current function. */
  label(name: string): this {
    if (typeof name !== "string" || name.length === 0)
      throw new BuildError("a label name must be a non-empty string");
    if (this.current.labels.has(name)) throw new DuplicateLabelError(name, this.where(this.current));
    this.current.labels.set(name, this.current.insns.length);
    return this;
  }

  /**
   * Defines a bpf-to-bpf function, placed after the main program. `body` emits its
   * instructions through the builder it is given (labels inside are local to the function).
   */
  function(name: string, body: (builder: this) => void, options?: FunctionOptions): this {
    if (typeof name !== "string" || name.length === 0)
      throw new BuildError("a function name must be a non-empty string");
    if (name === this.main.name || this.functions.some((f) => f.name === name))
      throw new DuplicateLabelError(name, "the program", "function");
    const section: Section = { name, insns: [], labels: new Map(), callback: options?.callback === true };
    this.functions.push(section);
    const outer = this.current;
    this.current = section;
    try {
      body(this);
    } finally {
      this.current = outer;
    }
    return this;
  }

  private where(section: Section): string {
    return section === this.main ? `the main program "${section.name}"` : `function "${section.name}"`;
  }

  /**
   * Lays out the program and resolves every label, local call and function pointer.
   * @throws DuplicateLabelError, UndefinedLabelError, JumpRangeError, BuildError
   */
  build(): BuiltProgram {
    const sections = [this.main, ...this.functions];
    // layout: index and slot of each section's first instruction
    const starts: number[] = [];
    const startSlots: number[] = [];
    const slotOf: number[] = [];
    let index = 0;
    let slot = 0;
    for (const section of sections) {
      starts.push(index);
      startSlots.push(slot);
      for (const insn of section.insns) {
        slotOf.push(slot);
        slot += insn.code === LD_IMM64 ? 2 : 1;
        index++;
      }
    }
    slotOf.push(slot);
    const functionSlot = new Map<string, number>(sections.map((s, i) => [s.name, startSlots[i]!]));
    const callbacks = new Set<string>(sections.filter((s) => s.callback).map((s) => s.name));

    const insns: Instruction[] = [];
    const mapRefs: MapReference[] = [];
    const kfuncRefs: KfuncReference[] = [];
    sections.forEach((section, sectionIndex) => {
      const base = starts[sectionIndex]!;
      section.insns.forEach((original, local) => {
        const i = base + local;
        const insn: Instruction = { ...original };
        const pc = slotOf[i]!;
        const ref = insn.ref;
        if (ref?.kind === "label") {
          const at = section.labels.get(ref.name);
          if (at === undefined)
            throw new UndefinedLabelError(ref.name, i, this.where(section), "label", [
              ...section.labels.keys(),
            ]);
          if (at >= section.insns.length)
            throw new BuildError(
              `instruction #${i} jumps to label "${ref.name}", which marks the end of ${this.where(section)}: there is no instruction after it to jump to`,
            );
          const distance = slotOf[base + at]! - (pc + 1);
          const cls = insn.code & 0x07;
          if (insn.code === (JmpOp.JA | Class.JMP32)) insn.imm = distance;
          else if (distance >= -0x8000 && distance <= 0x7fff) insn.off = distance;
          else if (insn.code === (JmpOp.JA | Class.JMP)) {
            insn.code = JmpOp.JA | Class.JMP32;
            insn.off = 0;
            insn.imm = distance;
          } else if (cls === Class.JMP || cls === Class.JMP32)
            throw new JumpRangeError(ref.name, i, distance);
          else throw new BuildError(`instruction #${i} refers to label "${ref.name}" but is not a jump`);
        } else if (ref?.kind === "func") {
          const target = functionSlot.get(ref.name);
          if (target === undefined)
            throw new UndefinedLabelError(
              ref.name,
              i,
              this.where(section),
              "function",
              this.functions.map((f) => f.name),
            );
          const isCall = insn.code === (JmpOp.CALL | Class.JMP) && insn.src === PseudoCall.CALL;
          const isPointer = insn.code === LD_IMM64 && insn.src === PseudoLoad.FUNC;
          if (!isCall && !isPointer)
            throw new BuildError(
              `instruction #${i} refers to function "${ref.name}" but is neither a local call nor ldFunc`,
            );
          insn.imm = target - (pc + 1);
          if (isPointer) callbacks.add(ref.name);
        } else if (ref?.kind === "helper") {
          insn.imm = helperByName(ref.name).id;
        } else if (ref?.kind === "kfunc") {
          kfuncRefs.push({ index: i, slot: pc, name: ref.name });
        } else if (ref?.kind === "map") {
          mapRefs.push({ index: i, slot: pc, map: ref.map, name: ref.name });
        }
        const problem = instructionProblem(insn);
        if (problem !== undefined)
          throw new BuildError(`instruction #${i} in ${this.where(section)}: ${problem}`);
        insns.push(insn);
      });
    });
    const functions: BuiltFunction[] = sections.map((s, i) => ({
      name: s.name,
      start: starts[i]!,
      startSlot: startSlots[i]!,
      callback: callbacks.has(s.name),
    }));
    return { insns, functions, mapRefs, kfuncRefs };
  }
}
