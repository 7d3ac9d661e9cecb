/**
 * Turning what a user hands to `Program.load` into instruction bytes: Instruction arrays, built
 * or assembled programs, or raw bytes; map references patched with descriptors, kfuncs resolved.
 */
import { vmlinuxBtf } from "../btf/kernel.js";
import { encode } from "../isa/encode.js";
import { type Instruction, LD_IMM64 } from "../isa/insn.js";
import { InputError } from "../sys/error.js";
import { Fd } from "../sys/fd.js";
import { EmptyProgramError, MissingMapError, ProgramTooLargeError, UnknownKfuncError } from "./errors.js";

/** The most instructions the kernel accepts in one program (BPF_COMPLEXITY_LIMIT_INSNS). */
export const MAX_INSNS = 1_000_000;

/** Something that owns a map descriptor: a `BpfMap`, an `Fd`, an object with an `fd`, or a number. */
export type MapHandle = number | Fd | { readonly fd: number | Fd };

/**
 * The instructions of a program: an `Instruction[]`, a built or assembled program (anything with
 * an `insns` array), or raw instruction bytes (8 a slot, little-endian).
 */
export type ProgramInstructions =
  | readonly Instruction[]
  | Uint8Array
  | { readonly insns: readonly Instruction[] };

/** The descriptor number of a map handle, or undefined when `x` is not one. */
export function mapFdOf(x: unknown): number | undefined {
  if (typeof x === "number") return Number.isInteger(x) && x >= 0 ? x : undefined;
  if (x instanceof Fd) return x.value;
  if (x !== null && typeof x === "object" && "fd" in x) return mapFdOf((x as { fd: unknown }).fd);
  return undefined;
}

/** The Instruction array of an input, or undefined for raw bytes. */
export function instructionList(input: ProgramInstructions): readonly Instruction[] | undefined {
  if (input instanceof Uint8Array) return undefined;
  if (Array.isArray(input)) return input as readonly Instruction[];
  const insns = (input as { insns?: unknown }).insns;
  if (Array.isArray(insns)) return insns as readonly Instruction[];
  throw new InputError(
    "program instructions must be an Instruction[], a built or assembled program (with 'insns'), or a Uint8Array of instruction bytes",
  );
}

/** Resolves map and kfunc references in a copy of `insns` (the input is never changed). */
export function resolveReferences(
  insns: readonly Instruction[],
  maps: Readonly<Record<string, unknown>> | undefined,
): Instruction[] {
  const out = new Array<Instruction>(insns.length);
  for (let i = 0; i < insns.length; i++) {
    const insn = insns[i]!;
    const ref = insn.ref;
    if (ref?.kind === "map" && insn.code === LD_IMM64) {
      const fd = mapFdOf(ref.map) ?? mapFdOf(maps?.[ref.name]);
      if (fd === undefined) throw new MissingMapError(ref.name, i);
      out[i] = { ...insn, src: insn.src === 0 ? 1 : insn.src, imm: fd };
    } else if (ref?.kind === "kfunc" && insn.imm === 0) {
      const id = vmlinuxBtf().findId(ref.name, "func");
      if (id === undefined) throw new UnknownKfuncError(ref.name, i);
      out[i] = { ...insn, src: 2, imm: id };
    } else {
      out[i] = insn;
    }
  }
  return out;
}

/** Checks the size of raw instruction bytes. */
function checkBytes(bytes: Uint8Array): void {
  if (bytes.byteLength === 0) throw new EmptyProgramError();
  if (bytes.byteLength % 8 !== 0) {
    throw new InputError(
      `instruction bytes must be a multiple of 8 (one slot per instruction), got ${bytes.byteLength} bytes`,
    );
  }
  if (bytes.byteLength / 8 > MAX_INSNS) throw new ProgramTooLargeError(bytes.byteLength / 8, MAX_INSNS);
}

/** Options of {@link programBytes}. */
export interface ProgramBytesOptions {
  /** maps referred to by name */
  maps?: Readonly<Record<string, unknown>>;
  /** check every instruction's encoding (default true) */
  check?: boolean;
}

/** The instruction bytes to load, and the resolved instructions when the input had them. */
export function programBytes(
  input: ProgramInstructions,
  options: ProgramBytesOptions = {},
): { bytes: Uint8Array; insns: Instruction[] | undefined } {
  const list = instructionList(input);
  if (list === undefined) {
    const bytes = input as Uint8Array;
    checkBytes(bytes);
    return { bytes, insns: undefined };
  }
  if (list.length === 0) throw new EmptyProgramError();
  if (list.length > MAX_INSNS) throw new ProgramTooLargeError(list.length, MAX_INSNS);
  const insns = resolveReferences(list, options.maps);
  const bytes = encode(insns, { check: options.check !== false });
  checkBytes(bytes);
  return { bytes, insns };
}
