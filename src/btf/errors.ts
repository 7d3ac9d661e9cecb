import { INSPECT, shortText } from "../util/print.js";

/** The error every BTF codec, lookup and printer throws for bad input. */
export class BtfError extends Error {
  /** the type id the problem is about, when there is one */
  readonly typeId: number | undefined;
  /** the byte offset in the blob the problem is about, when there is one */
  readonly offset: number | undefined;

  constructor(message: string, where: { typeId?: number; offset?: number } = {}) {
    const at: string[] = [];
    if (where.typeId !== undefined) at.push(`type [${where.typeId}]`);
    if (where.offset !== undefined) at.push(`byte ${where.offset}`);
    super(at.length > 0 ? `BTF: ${message} (${at.join(", ")})` : `BTF: ${message}`);
    this.name = "BtfError";
    this.typeId = where.typeId;
    this.offset = where.offset;
  }

  /** `console.log`/`util.inspect` print the message and the stack frames, not every field. */
  [INSPECT](): string {
    return shortText(this, {});
  }
}
