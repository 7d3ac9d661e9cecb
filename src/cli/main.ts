/** `rawbpf COMMAND ...`: dispatches to one module per command. */
import { type CliIo, processIo, UsageError } from "./io.js";

type Command = (argv: string[], io: CliIo) => Promise<number>;

/** Each command's module, loaded on demand so start-up stays fast. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run: Command }> }> = {
  demo: { summary: "run the article's demos against this kernel", load: () => import("./demo.js") },
  load: { summary: "load a program and print what the verifier said", load: () => import("./load.js") },
  run: { summary: "load a program and run it with BPF_PROG_TEST_RUN", load: () => import("./run.js") },
  asm: { summary: "assemble text into instruction bytes", load: () => import("./asm.js") },
  disasm: { summary: "disassemble instruction bytes into text", load: () => import("./disasm.js") },
  btf: { summary: "dump BTF (the kernel's, a file's, or a loaded object's)", load: () => import("./btf.js") },
  explain: { summary: "explain a verifier log", load: () => import("./explain.js") },
  feature: {
    summary: "what this kernel supports (program types, map types, helpers)",
    load: () => import("./feature.js"),
  },
  object: {
    summary: "list what a clang-compiled object holds (programs, maps, variables)",
    load: () => import("./object.js"),
  },
  gen: {
    summary: "generate a typed TypeScript module for an object (gen types FILE.o -o FILE.ts)",
    load: () => import("./gen.js"),
  },
  link: {
    summary: "list the links in the kernel (programs attached to hooks)",
    load: () => import("./link.js"),
  },
};

function usage(): string {
  const lines = ["usage: rawbpf COMMAND [ARGS] (rawbpf COMMAND --help for more)", "", "commands:"];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(9)} ${c.summary}`);
  return `${lines.join("\n")}\n`;
}

/** Runs the command line `argv` (without node and the script) and returns the exit status. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    io.stdout(usage());
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    io.stderr(`rawbpf: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  try {
    const mod = await cmd.load();
    return await mod.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`rawbpf ${name}: ${e.message} (rawbpf ${name} --help)\n`);
      return 2;
    }
    const err = e as Error;
    io.stderr(`rawbpf ${name}: ${err.message ?? String(e)}\n`);
    return 1;
  }
}
