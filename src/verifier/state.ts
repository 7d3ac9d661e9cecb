/**
 * Register and stack states as the verifier prints them: `R1=ctx() R2_w=scalar(id=1,smin=0,...)`,
 * `fp-8=mmmmmmmm`, `fp-16_w=map_value(...)`, `R0=P3`. Pure string work, no I/O, never throws.
 */

/** One register or stack slot as the verifier printed it. */
export interface SlotState {
  /** `"R2"` for a register, `"fp-8"` for a stack slot, exactly as printed (without the `_w` suffix) */
  readonly name: string;
  /** register number for a register, undefined for a stack slot */
  readonly register?: number;
  /** byte offset from the frame pointer (negative) for a stack slot */
  readonly stackOffset?: number;
  /** the frame (0 = main program, 1.. = nested calls) the state belongs to */
  readonly frame: number;
  /** the `_w` / `_rw` suffix: the register was written (or read) on this path */
  readonly liveness: string;
  /** `P` prefix: the verifier tracks this value precisely */
  readonly precise: boolean;
  /**
   * The type: `"scalar"`, `"ctx"`, `"map_value"`, `"map_ptr"`, `"pkt"`, `"pkt_end"`, `"fp"` (a pointer
   * into the stack), `"stack"` (a stack slot's byte marks such as `mmmmmmmm`), `"constant"` for a
   * known number, or whatever other word the kernel printed.
   */
  readonly type: string;
  /** the value text as printed, after `=` (with the `P` prefix removed) */
  readonly value: string;
  /** `key=value` pairs inside the parentheses, `smax=umax=5` giving both keys */
  readonly fields: Readonly<Record<string, string>>;
  /** the number, when the value is a known constant (`R1=3`, `R0=P-1`, `R2=fp-8` gives -8) */
  readonly constant?: bigint;
}

const CONSTANT = /^-?(?:0x[0-9a-fA-F]+|\d+)$/;

function toBigInt(s: string): bigint | undefined {
  if (!CONSTANT.test(s)) return undefined;
  try {
    return s.startsWith("-") ? -BigInt(s.slice(1)) : BigInt(s);
  } catch {
    return undefined;
  }
}

/** Split on `sep` at parenthesis depth 0. */
function splitTop(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "(") depth++;
    else if (c === ")") depth = depth > 0 ? depth - 1 : 0;
    else if (c === sep && depth === 0) {
      if (i > start) out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  if (start < s.length) out.push(s.slice(start));
  return out;
}

function parseFields(inner: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const part of splitTop(inner, ",")) {
    const bits = splitTop(part, "=");
    if (bits.length < 2) {
      if (bits[0]) fields[bits[0].trim()] = "";
      continue;
    }
    const value = bits[bits.length - 1]!.trim();
    for (let i = 0; i < bits.length - 1; i++) fields[bits[i]!.trim()] = value;
  }
  return fields;
}

const NAME = /^(R(\d+)|fp(-\d+))(?:_([a-zA-Z]+))?$/;

/** Parse one `NAME=VALUE` token; undefined when it is not a state token. */
export function parseSlot(token: string, frame = 0): SlotState | undefined {
  const eq = token.indexOf("=");
  if (eq <= 0) return undefined;
  const m = NAME.exec(token.slice(0, eq));
  if (!m) return undefined;
  let value = token.slice(eq + 1);
  let precise = false;
  if (
    value.startsWith("P") &&
    value.length > 1 &&
    (value[1] === "-" || (value[1]! >= "0" && value[1]! <= "9"))
  ) {
    precise = true;
    value = value.slice(1);
  }
  const paren = value.indexOf("(");
  let type: string;
  let fields: Record<string, string> = {};
  let constant: bigint | undefined;
  if (paren > 0) {
    type = value.slice(0, paren);
    const close = value.lastIndexOf(")");
    fields = parseFields(value.slice(paren + 1, close > paren ? close : value.length));
  } else if ((constant = toBigInt(value)) !== undefined) {
    type = "constant";
  } else if (/^fp-?\d+$/.test(value)) {
    type = "fp";
    constant = toBigInt(value.slice(2));
  } else if (m[3] !== undefined) {
    type = "stack";
  } else {
    type = value;
  }
  const state: SlotState = {
    name: m[2] !== undefined ? `R${m[2]}` : `fp${m[3]}`,
    frame,
    liveness: m[4] ?? "",
    precise,
    type,
    value,
    fields,
    ...(m[2] !== undefined ? { register: Number(m[2]) } : { stackOffset: Number(m[3]) }),
    ...(constant !== undefined ? { constant } : {}),
  };
  return state;
}

/**
 * Parse a run of states such as `frame1: R0=3 R1=ctx() fp-8=mmmmmmmm`. A `frameN:` word sets the
 * frame for the tokens after it. Words that are not states are skipped.
 */
export function parseStates(text: string, frame = 0): SlotState[] {
  const out: SlotState[] = [];
  for (const token of splitTop(text, " ")) {
    if (token.startsWith("frame") && token.endsWith(":")) {
      const n = Number(token.slice(5, -1));
      if (Number.isInteger(n)) frame = n;
      continue;
    }
    const s = parseSlot(token, frame);
    if (s) out.push(s);
  }
  return out;
}

function variableOffset(f: Readonly<Record<string, string>>): string {
  const lo = f["umin"] ?? f["smin"];
  const hi = f["umax"] ?? f["smax"];
  if (lo === undefined && hi === undefined) return "";
  return ` plus a variable offset in [${lo ?? "-inf"}, ${hi ?? "+inf"}]`;
}

/** A short human phrase for a state: `scalar in [0, 255]`, `pointer to map value`, `3`. */
export function describeSlot(s: SlotState): string {
  const f = s.fields;
  switch (s.type) {
    case "constant":
      return `the constant ${s.value}`;
    case "fp":
      return `a pointer to the stack at ${s.value}`;
    case "ctx":
      return "the context pointer";
    case "scalar": {
      const lo = f["umin"] ?? f["smin"] ?? (f["smin32"] !== undefined ? f["smin32"] : undefined);
      const hi = f["umax"] ?? f["smax"];
      if (lo === undefined && hi === undefined) return "a number the verifier knows nothing about";
      return `a number in [${lo ?? "-inf"}, ${hi ?? "+inf"}]`;
    }
    case "map_value":
      return `a pointer to a map value${f["vs"] ? ` (${f["vs"]} bytes)` : ""}${variableOffset(f)}`;
    case "map_value_or_null":
      return "a map value pointer that may be NULL (not checked yet)";
    case "map_ptr":
      return "a map";
    case "pkt":
      return `a packet pointer, ${f["r"] ?? "0"} bytes checked against data_end${f["off"] ? `, at offset ${f["off"]}` : ""}${variableOffset(f)}`;
    case "pkt_end":
      return "the packet end pointer";
    case "stack":
      return `stack bytes ${s.value}`;
    default:
      return s.value;
  }
}
