/** The error CO-RE parsing and relocation throw for bad input and for relocations that cannot be done. */
import { BtfError } from "../errors.js";

/** Where a CO-RE problem is: the relocation's index in its section, its section and its instruction. */
export interface CoreWhere {
  /** index of the relocation in its list */
  readonly relocation?: number;
  /** the ELF section (program) the relocation belongs to */
  readonly section?: string;
  /** instruction index (8-byte slot) the relocation patches */
  readonly insn?: number;
  /** the local type id */
  readonly typeId?: number;
  /** byte offset in the .BTF.ext blob */
  readonly offset?: number;
}

/**
 * A CO-RE relocation that cannot be parsed or applied: a .BTF.ext that lies about its sizes, an
 * access string out of range, two target candidates that disagree, an instruction that does not
 * hold the value the compiler promised. (A relocation that finds no target is not an error: its
 * instruction is poisoned, as libbpf does, and the verifier stops there if it is reachable.)
 */
export class CoreRelocationError extends BtfError {
  readonly relocation: number | undefined;
  readonly section: string | undefined;
  readonly insn: number | undefined;

  constructor(message: string, where: CoreWhere = {}) {
    const at: string[] = [];
    if (where.section !== undefined) at.push(`section ${where.section}`);
    if (where.relocation !== undefined) at.push(`relocation #${where.relocation}`);
    if (where.insn !== undefined) at.push(`instruction ${where.insn}`);
    super(at.length > 0 ? `CO-RE ${at.join(", ")}: ${message}` : `CO-RE: ${message}`, {
      ...(where.typeId === undefined ? {} : { typeId: where.typeId }),
      ...(where.offset === undefined ? {} : { offset: where.offset }),
    });
    this.name = "CoreRelocationError";
    this.relocation = where.relocation;
    this.section = where.section;
    this.insn = where.insn;
  }
}
