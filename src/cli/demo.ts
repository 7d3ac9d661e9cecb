/** `rawbpf demo [NAME]`: the article's demos, run against this kernel. */
import { DEMOS } from "../../examples/index.js";
import { closestName } from "../program/types.js";
import { parseArgs } from "./args.js";
import { type CliIo, UsageError } from "./io.js";

function help(): string {
  const lines = [
    "usage: rawbpf demo [NAME]",
    "",
    "Runs the article's demos against this kernel; each prints what it did and what the kernel",
    "answered. Without NAME: lists them, then runs them all.",
    "",
    "demos:",
  ];
  for (const d of DEMOS) lines.push(`  ${d.name.padEnd(17)} ${d.summary}`);
  return `${lines.join("\n")}\n`;
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, {});
  if (args.bools.has("help")) {
    io.stdout(help());
    return 0;
  }
  if (args.positionals.length > 1) throw new UsageError("expected at most one demo name");
  const name = args.positionals[0];
  let chosen = DEMOS;
  if (name !== undefined) {
    const d = DEMOS.find((x) => x.name === name);
    if (!d) {
      const near = closestName(
        name,
        DEMOS.map((x) => x.name),
      );
      throw new UsageError(
        `no demo named '${name}'${near ? ` — did you mean '${near}'?` : ""} (demos: ${DEMOS.map((x) => x.name).join(", ")})`,
      );
    }
    chosen = [d];
  } else {
    io.stdout("demos:\n");
    for (const d of DEMOS) io.stdout(`  ${d.name.padEnd(17)} ${d.summary}\n`);
  }
  let failed = 0;
  for (const d of chosen) {
    io.stdout(`\n== ${d.name} ==\n`);
    try {
      await d.run((line) => io.stdout(`${line}\n`));
    } catch (e) {
      failed++;
      io.stderr(`demo ${d.name} failed: ${e instanceof Error ? e.message : String(e)}\n`);
    }
  }
  return failed === 0 ? 0 : 1;
}
