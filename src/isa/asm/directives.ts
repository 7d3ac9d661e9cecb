/**
 * Directives that make one `.s` file a whole program: `.type`, `.license`, `.map`, `.rodata`,
 * `.func` and `.callback`. See docs/assembly.md for the format.
 */

import { type AsmContext, LineError } from "./context.js";
import { Op, Tok } from "./lexer.js";
import { parseUnsigned } from "./numbers.js";

/** BPF_F_RDONLY_PROG: the program may only read the map. */
export const BPF_F_RDONLY_PROG = 1 << 7;

/** Name of the map that holds `.rodata`. */
export const RODATA_MAP = ".rodata";

const MAP_KEYS: Record<string, "type" | "keySize" | "valueSize" | "maxEntries" | "flags"> = {
  type: "type",
  key: "keySize",
  key_size: "keySize",
  value: "valueSize",
  value_size: "valueSize",
  entries: "maxEntries",
  max_entries: "maxEntries",
  flags: "flags",
};

/** The bytes of a string literal token (with its quotes), C escapes understood. */
export function unquote(raw: string, column: number): number[] {
  const out: number[] = [];
  const s = raw.slice(1, -1);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 92) {
      if (c < 0x80) out.push(c);
      else for (const b of Buffer.from(s[i] as string, "utf8")) out.push(b);
      continue;
    }
    const e = s[++i];
    switch (e) {
      case "n":
        out.push(10);
        break;
      case "t":
        out.push(9);
        break;
      case "r":
        out.push(13);
        break;
      case "0":
        out.push(0);
        break;
      case "\\":
        out.push(92);
        break;
      case '"':
        out.push(34);
        break;
      case "x": {
        const h = s.slice(i + 1, i + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(h))
          throw new LineError("\\x needs two hexadecimal digits", column + i + 1);
        out.push(Number.parseInt(h, 16));
        i += 2;
        break;
      }
      default:
        throw new LineError(
          `unknown escape '\\${e ?? ""}' in a string (known: \\n \\t \\r \\0 \\\\ \\" \\xHH)`,
          column + i + 1,
        );
    }
  }
  return out;
}

/** The known name nearest to `input` (edit distance, or one containing the other), if any is near. */
function nearest(input: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(3, input.length / 2) + 0.5;
  for (const n of names) {
    let d: number;
    if (n.includes(input) || input.includes(n)) d = Math.abs(n.length - input.length) * 0.5;
    else {
      let prev = Array.from({ length: n.length + 1 }, (_, j) => j);
      for (let i = 1; i <= input.length; i++) {
        const cur = [i];
        for (let j = 1; j <= n.length; j++)
          cur[j] = Math.min(
            prev[j]! + 1,
            cur[j - 1]! + 1,
            prev[j - 1]! + (input[i - 1] === n[j - 1] ? 0 : 1),
          );
        prev = cur;
      }
      d = prev[n.length]!;
    }
    if (d < bestD) {
      bestD = d;
      best = n;
    }
  }
  return best;
}

/** Checks a type name against the caller's list (when given): unknown is an error at its column. */
function checkName(what: string, name: string, names: readonly string[] | undefined, column: number): void {
  if (names === undefined || names.includes(name)) return;
  const near = nearest(name, names);
  throw new LineError(
    `unknown ${what} '${name}'${near ? ` (did you mean '${near}'?)` : ""}; known: ${names.join(", ")}`,
    column,
  );
}

/** Parses a directive line starting at token `t`. */
export function directive(ctx: AsmContext, t: number): void {
  const lx = ctx.lx;
  const name = lx.text(t);
  const column = lx.column(t);
  const word = (i: number, what: string): string => {
    if (lx.kind[i] !== Tok.IDENT) throw new LineError(`${name} needs ${what}`, lx.column(i));
    return lx.text(i);
  };
  const end = (i: number): void => {
    if (lx.kind[i] !== Tok.END) throw new LineError(`unexpected '${lx.text(i)}' after ${name}`, lx.column(i));
  };
  switch (name) {
    case ".type":
    case ".prog_type": {
      ctx.programType = word(t + 1, "a program type, like xdp or socket_filter");
      checkName("program type", ctx.programType, ctx.knownTypes.programTypes, lx.column(t + 1));
      end(t + 2);
      return;
    }
    case ".license": {
      const k = lx.kind[t + 1];
      if (k === Tok.STRING) ctx.license = String.fromCharCode(...unquote(lx.text(t + 1), lx.column(t + 1)));
      else ctx.license = word(t + 1, 'a licence, like "GPL"');
      end(t + 2);
      return;
    }
    case ".func":
    case ".callback": {
      const fn = word(t + 1, "a function name");
      end(t + 2);
      ctx.defineLabel(fn, lx.column(t + 1));
      ctx.functions.push({
        name: fn,
        index: ctx.count,
        slot: ctx.slot,
        kind: name === ".func" ? "func" : "callback",
        line: ctx.line,
      });
      return;
    }
    case ".map":
      mapDirective(ctx, t);
      return;
    case ".rodata": {
      const sym = word(t + 1, "a symbol name");
      const bytes: number[] = [];
      let i = t + 2;
      while (lx.kind[i] !== Tok.END) {
        if (lx.kind[i] === Tok.STRING) {
          bytes.push(...unquote(lx.text(i), lx.column(i)), 0);
        } else if (lx.kind[i] === Tok.NUM) {
          const v = parseUnsigned(lx.text(i));
          if (typeof v !== "number" || v > 255)
            throw new LineError(`'${lx.text(i)}' is not a byte (0..255)`, lx.column(i));
          bytes.push(v);
        } else if (!(lx.kind[i] === Tok.PUNCT && lx.op[i] === Op.COMMA)) {
          throw new LineError(`.rodata takes strings and bytes, found '${lx.text(i)}'`, lx.column(i));
        }
        i++;
      }
      if (bytes.length === 0) throw new LineError(".rodata needs a string or bytes after the name", column);
      if (ctx.rodataParts.some((r) => r.name === sym))
        throw new LineError(`read-only symbol '${sym}' is already defined`, lx.column(t + 1));
      ctx.rodataParts.push({ name: sym, bytes: Uint8Array.from(bytes), line: ctx.line });
      return;
    }
    case ".text":
    case ".globl":
      return;
    default:
      throw new LineError(
        `unknown directive '${name}' (known: .type, .license, .map, .rodata, .func, .callback)`,
        column,
      );
  }
}

function mapDirective(ctx: AsmContext, t: number): void {
  const lx = ctx.lx;
  if (lx.kind[t + 1] !== Tok.IDENT) throw new LineError(".map needs a name", lx.column(t + 1));
  const name = lx.text(t + 1);
  const spec = { name, type: "", keySize: -1, valueSize: -1, maxEntries: -1, flags: 0 };
  let i = t + 2;
  while (lx.kind[i] !== Tok.END) {
    if (lx.kind[i] === Tok.PUNCT && lx.op[i] === Op.COMMA) {
      i++;
      continue;
    }
    const key = lx.kind[i] === Tok.IDENT ? MAP_KEYS[lx.text(i)] : undefined;
    if (key === undefined)
      throw new LineError(
        `expected type=, key=, value=, entries= or flags= in .map, found '${lx.text(i)}'`,
        lx.column(i),
      );
    if (!(lx.kind[i + 1] === Tok.PUNCT && lx.op[i + 1] === Op.ASSIGN))
      throw new LineError(`expected '=' after ${lx.text(i)}`, lx.column(i + 1));
    const v = i + 2;
    if (key === "type") {
      if (lx.kind[v] !== Tok.IDENT)
        throw new LineError("type= needs a map type, like hash or array", lx.column(v));
      spec.type = lx.text(v);
      checkName("map type", spec.type, ctx.knownTypes.mapTypes, lx.column(v));
    } else {
      const n = lx.kind[v] === Tok.NUM ? parseUnsigned(lx.text(v)) : undefined;
      if (typeof n !== "number" || n > 0xffffffff)
        throw new LineError(`${lx.text(i)}= needs a number 0..4294967295`, lx.column(v));
      spec[key] = n;
    }
    i = v + 1;
  }
  const missing = [
    spec.type === "" ? "type=" : "",
    spec.keySize < 0 ? "key=" : "",
    spec.valueSize < 0 ? "value=" : "",
    spec.maxEntries < 0 ? "entries=" : "",
  ].filter((s) => s !== "");
  if (missing.length > 0) throw new LineError(`.map ${name} is missing ${missing.join(", ")}`, lx.column(t));
  if (ctx.mapNames.has(name)) throw new LineError(`map '${name}' is already declared`, lx.column(t + 1));
  ctx.maps.push(spec);
  ctx.mapNames.set(name, spec);
}
