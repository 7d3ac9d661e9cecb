/** Errors of {@link ProgramBuilder.build}, each naming the label or function at fault. */
import { INSPECT, shortText } from "../../util/print.js";

/** Base class of the errors raised while building a program. */
export class BuildError extends Error {
  override readonly name: string = "BuildError";
  /** `console.log`/`util.inspect` print the message and the stack frames, not every field. */
  [INSPECT](): string {
    return shortText(this, {});
  }
}

/** The same label defined twice in one function, or the same function name twice. */
export class DuplicateLabelError extends BuildError {
  override readonly name = "DuplicateLabelError";
  /** the label or function name */
  readonly label: string;
  constructor(label: string, where: string, kind: "label" | "function" = "label") {
    super(
      kind === "label"
        ? `label "${label}" is defined twice in ${where}; labels must be unique within a function`
        : `function "${label}" is defined twice; function names must be unique within a program`,
    );
    this.label = label;
  }
}

/** A jump to a label, or a call to a function, that is never defined. */
export class UndefinedLabelError extends BuildError {
  override readonly name = "UndefinedLabelError";
  /** the label or function name */
  readonly label: string;
  /** index of the instruction that refers to it */
  readonly index: number;
  constructor(
    label: string,
    index: number,
    where: string,
    kind: "label" | "function",
    known: readonly string[],
  ) {
    const hint =
      known.length > 0
        ? ` (defined ${kind}s: ${known.slice(0, 8).join(", ")}${known.length > 8 ? ", …" : ""})`
        : "";
    super(
      kind === "label"
        ? `instruction #${index} in ${where} jumps to label "${label}", which ${where} does not define${hint}`
        : `instruction #${index} in ${where} refers to function "${label}", which is not defined; define it with function("${label}", ...)${hint}`,
    );
    this.label = label;
    this.index = index;
  }
}

/** A conditional jump whose label is farther than a signed 16-bit offset can reach. */
export class JumpRangeError extends BuildError {
  override readonly name = "JumpRangeError";
  /** the label */
  readonly label: string;
  /** index of the jump */
  readonly index: number;
  /** the offset that did not fit */
  readonly distance: number;
  constructor(label: string, index: number, distance: number) {
    super(
      `instruction #${index} jumps to label "${label}", ${distance} instructions away, but a conditional jump reaches only -32768..32767; ` +
        `jump over an unconditional ja/gotol instead (e.g. invert the condition to skip a "ja ${label}")`,
    );
    this.label = label;
    this.index = index;
    this.distance = distance;
  }
}
