/** A small flag parser shared by the commands: `--name value`, `--name=value`, booleans, positionals. */
import { UsageError } from "./io.js";

/** What a command accepts: flags taking a value, and boolean flags. Short aliases map to long names. */
export interface ArgSpec {
  values?: readonly string[];
  booleans?: readonly string[];
  aliases?: Readonly<Record<string, string>>;
}

/** Parsed command line. */
export interface ParsedArgs {
  flags: Map<string, string>;
  bools: Set<string>;
  positionals: string[];
}

/** Parses `argv` against `spec`; unknown flags and missing values are UsageErrors. */
export function parseArgs(argv: readonly string[], spec: ArgSpec): ParsedArgs {
  const values = new Set(spec.values ?? []);
  const booleans = new Set([...(spec.booleans ?? []), "help"]);
  const out: ParsedArgs = { flags: new Map(), bools: new Set(), positionals: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a === "-" || !a.startsWith("-")) {
      out.positionals.push(a);
      continue;
    }
    let name = a.replace(/^--?/, "");
    let inline: string | undefined;
    const eq = name.indexOf("=");
    if (eq >= 0) {
      inline = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    name = spec.aliases?.[name] ?? (name === "h" ? "help" : name);
    if (booleans.has(name)) {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      out.bools.add(name);
    } else if (values.has(name)) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`--${name} needs a value`);
      out.flags.set(name, v);
    } else {
      throw new UsageError(`unknown option ${a}`);
    }
  }
  return out;
}

/** An integer flag within [min, max], or the default. */
export function intFlag(args: ParsedArgs, name: string, def: number, min = 0, max = 0x7fffffff): number {
  const v = args.flags.get(name);
  if (v === undefined) return def;
  const n = /^(0x[0-9a-f]+|\d+)$/i.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got '${v}'`);
  }
  return n;
}
