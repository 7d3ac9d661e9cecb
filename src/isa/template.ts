/**
 * The tagged template `asm`: kernel-syntax assembly inside TypeScript.
 *
 * ```ts
 * const prog = asm`
 *   r1 = ${counters}          // a map object with a name: loads the map
 *   r0 = ${42}; exit
 * `;
 * ```
 * `;` separates statements on one line; `//` and `#` start comments. `${number}` (or bigint)
 * is written in as a literal; `${map}` (any object, a `BpfMap` say) becomes a reference to that
 * map, carried in the instruction's `ref.map`, under the map's name or, for an unnamed map, a
 * generated one; `${string}` is pasted as text (a label or a helper name).
 */

import { assemble } from "./asm/assemble.js";
import type { AsmProgram } from "./asm/program.js";

/** A map the template can refer to: a `BpfMap`, named or not. */
export interface NamedMap {
  /** the map's name; empty for an unnamed map, which gets a generated reference */
  readonly name: string;
}

/** A value that may be interpolated into {@link asm}. */
export type AsmValue = number | bigint | string | NamedMap;

/**
 * Assembles kernel-syntax text with interpolated numbers and maps.
 * @throws AsmErrors listing every problem with its line and column in the template
 */
export function asm(strings: TemplateStringsArray, ...values: AsmValue[]): AsmProgram {
  let text = "";
  const externalMaps: Record<string, unknown> = Object.create(null);
  const unnamed = new Map<object, string>();
  for (let k = 0; k < strings.length; k++) {
    text += strings[k];
    if (k >= values.length) break;
    const v = values[k];
    if (typeof v === "number") {
      if (!Number.isInteger(v)) throw new TypeError(`asm: \${${v}} is not an integer`);
      text += String(v);
    } else if (typeof v === "bigint") text += v.toString();
    else if (typeof v === "string") text += v;
    else if (v !== null && typeof v === "object") {
      const named = typeof v.name === "string" && v.name !== "";
      if (named && !/^[A-Za-z_.$][\w.$]*$/.test(v.name))
        throw new TypeError(
          `asm: \${...} number ${k + 1} is a map named ${JSON.stringify(v.name)}, which is not a name the ` +
            "assembler can refer to (letters, digits, '_', '.', '$'): give the map such a name, or none",
        );
      // an unnamed map gets a reference of its own, unique in this template
      let ref = named ? v.name : (unnamed.get(v) ?? `__map${k}`);
      while (!named && !unnamed.has(v) && ref in externalMaps) ref += "_";
      if (!named) unnamed.set(v, ref);
      if (named && ref in externalMaps && externalMaps[ref] !== v)
        throw new TypeError(
          `asm: two different maps are both named '${ref}' in one template: give them different names`,
        );
      externalMaps[ref] = v;
      text += ref;
    } else
      throw new TypeError(
        `asm: \${...} number ${k + 1} must be a number, a bigint, a string (pasted as text) or a map ` +
          `(BpfMap), got ${v === null ? "null" : typeof v === "function" ? "a function" : typeof v}`,
      );
  }
  return assemble(splitStatements(text), { file: "asm`...`", dialect: "kernel", externalMaps });
}

/** Turns `;` statement separators into new lines, leaving comments and strings alone. */
function splitStatements(text: string): string {
  let out = "";
  let inString = false;
  let inComment = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === "\n") {
      inComment = false;
      inString = false;
    } else if (!inComment) {
      if (c === '"' && text[i - 1] !== "\\") inString = !inString;
      else if (!inString && (c === "#" || (c === "/" && text[i + 1] === "/"))) inComment = true;
      else if (!inString && c === ";") {
        out += "\n";
        continue;
      }
    }
    out += c;
  }
  return out;
}
