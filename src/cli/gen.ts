/** `rawbpf gen types FILE.o -o FILE.ts`: a typed TypeScript module for a clang-compiled object. */
import { readFileSync, writeFileSync } from "node:fs";
import { generateTypes } from "../object/gen.js";
import { parseObject } from "../object/spec.js";
import { parseArgs } from "./args.js";
import { type CliIo, UsageError } from "./io.js";

const HELP = `usage: rawbpf gen types FILE.o [-o FILE.ts] [--name CLASS] [--import MODULE] [--reference]

Writes a TypeScript module for the object (as bpf2go and libbpf's skeletons do): the object
embedded in base64 (or, with --reference, read from FILE.o's path at load), the key and value
codecs of its maps and the codecs of its global variables generated from its BTF, and a class:
  const obj = await Tool.load({ constants: { target_pid: 42 } });
  obj.maps.counts.get(key); obj.variables.hits; obj.programs.handle_exec
  -o FILE.ts       where to write it (default: standard output)
  --name CLASS     the class's name (default: the object's name in PascalCase)
  --import MODULE  where the module imports rawbpf from (default: rawbpf)
  --reference      read the object from its path at load instead of embedding it
`;

/** Runs `rawbpf gen ...`. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, {
    booleans: ["reference"],
    values: ["output", "name", "import"],
    aliases: { o: "output" },
  });
  if (args.bools.has("help")) {
    io.stdout(HELP);
    return 0;
  }
  const [what, path, extra] = args.positionals;
  if (what !== "types")
    throw new UsageError("rawbpf gen knows one thing to generate: rawbpf gen types FILE.o");
  if (path === undefined) throw new UsageError("rawbpf gen types needs the path of an object file (FILE.o)");
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  const bytes = readFileSync(path);
  const spec = parseObject(bytes, { file: path });
  const name = args.flags.get("name");
  const from = args.flags.get("import");
  const text = generateTypes(spec, bytes, {
    ...(name ? { className: name } : {}),
    ...(from ? { importFrom: from } : {}),
    ...(args.bools.has("reference") ? { objectPath: path } : {}),
  });
  const out = args.flags.get("output");
  if (out) writeFileSync(out, text);
  else io.stdout(text);
  return 0;
}
