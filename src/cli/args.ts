/**
 * The commands' flags, parsed by `node:util`'s `parseArgs` so they behave as Node users expect:
 * `--name value` and `--name=value`, short aliases (`-o FILE`), `--` ending the options, and
 * unknown flags refused with the nearest known name.
 */
import { parseArgs as nodeParseArgs } from "node:util";
import { closestName } from "../program/types.js";
import { UsageError } from "./io.js";

/** What a command accepts: flags taking a value, and boolean flags. Short aliases map to long names. */
export interface ArgSpec {
  values?: readonly string[];
  booleans?: readonly string[];
  /** one-letter aliases: `{ o: "output" }` */
  aliases?: Readonly<Record<string, string>>;
}

/** Parsed command line. */
export interface ParsedArgs {
  flags: Map<string, string>;
  bools: Set<string>;
  positionals: string[];
}

type Options = Record<string, { type: "string" | "boolean"; short?: string }>;

/** Parses `argv` against `spec`; unknown flags and missing values are UsageErrors. `-h`/`--help` is always known. */
export function parseArgs(argv: readonly string[], spec: ArgSpec): ParsedArgs {
  const options: Options = Object.create(null);
  for (const v of spec.values ?? []) options[v] = { type: "string" };
  for (const b of spec.booleans ?? []) options[b] = { type: "boolean" };
  options.help = { type: "boolean", short: "h" };
  for (const [short, long] of Object.entries(spec.aliases ?? {})) {
    const o = options[long];
    if (o) o.short = short;
  }
  let parsed: ReturnType<typeof nodeParseArgs>;
  try {
    parsed = nodeParseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (e) {
    throw usageOf(e as Error & { code?: string }, options);
  }
  const out: ParsedArgs = { flags: new Map(), bools: new Set(), positionals: parsed.positionals };
  for (const [name, value] of Object.entries(parsed.values)) {
    if (typeof value === "string") out.flags.set(name, value);
    else if (value === true) out.bools.add(name);
  }
  return out;
}

/** parseArgs's errors in the commands' words, with the nearest flag for a misspelt one. */
function usageOf(e: Error & { code?: string }, options: Options): Error {
  const flag = /'(-[^' ]*)/.exec(e.message)?.[1] ?? "";
  const known = Object.keys(options).map((n) => `--${n}`);
  switch (e.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION": {
      const near = flag.startsWith("--") ? closestName(flag.split("=")[0]!, known) : undefined;
      return new UsageError(
        `unknown option ${flag}${near ? ` — did you mean ${near}?` : ""} (options: ${known.join(", ")}; ` +
          `put '--' before a FILE whose name starts with '-')`,
      );
    }
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (/does not take an argument/.test(e.message)) return new UsageError(`${flag} takes no value`);
      if (/ambiguous/.test(e.message))
        return new UsageError(`${flag} needs a value (write ${flag}=VALUE for a value that starts with '-')`);
      return new UsageError(`${flag} needs a value`);
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return new UsageError(e.message);
    default:
      return e;
  }
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
