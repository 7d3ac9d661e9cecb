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
 * is written in as a literal; `${object with a name}` becomes a reference to that map, carried in
 * the instruction's `ref.map`; `${string}` is pasted as text (a label or a helper name).
 */

import { assemble } from "./asm/assemble.js";
import type { AsmProgram } from "./asm/program.js";

/** Something with a name that the template can refer to as a map. */
export interface NamedMap {
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
  const externalMaps: Record<string, unknown> = {};
  for (let k = 0; k < strings.length; k++) {
    text += strings[k];
    if (k >= values.length) break;
    const v = values[k];
    if (typeof v === "number") {
      if (!Number.isInteger(v)) throw new TypeError(`asm: \${${v}} is not an integer`);
      text += String(v);
    } else if (typeof v === "bigint") text += v.toString();
    else if (typeof v === "string") text += v;
    else if (
      v !== null &&
      typeof v === "object" &&
      typeof v.name === "string" &&
      /^[A-Za-z_.$][\w.$]*$/.test(v.name)
    ) {
      externalMaps[v.name] = v;
      text += v.name;
    } else
      throw new TypeError(
        `asm: \${...} must be a number, a bigint, a string or a map with a name, got ${String(v)}`,
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
