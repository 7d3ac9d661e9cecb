/** `rawbpf COMMAND ...`: dispatches to one module per command. */
import { type Command, runCommand } from "./command.js";
import { type CliIo, processIo, UsageError } from "./io.js";

export { outputPending } from "./io.js";

interface CommandEntry {
  summary: string;
  load: () => Promise<{ run: Command }>;
}

/** Each command's module, loaded on demand so start-up stays fast. A Map: `rawbpf constructor` is no command. */
const COMMANDS = new Map<string, CommandEntry>([
  ["demo", { summary: "run the article's demos against this kernel", load: () => import("./demo.js") }],
  ["load", { summary: "load a program and print what the verifier said", load: () => import("./load.js") }],
  ["run", { summary: "load a program and run it with BPF_PROG_TEST_RUN", load: () => import("./run.js") }],
  ["asm", { summary: "assemble text into instruction bytes", load: () => import("./asm.js") }],
  [
    "compile",
    { summary: "compile a TypeScript program file to bytecode", load: () => import("./compile.js") },
  ],
  ["disasm", { summary: "disassemble instruction bytes into text", load: () => import("./disasm.js") }],
  [
    "btf",
    { summary: "dump BTF (the kernel's, a file's, or a loaded object's)", load: () => import("./btf.js") },
  ],
  ["explain", { summary: "explain a verifier log", load: () => import("./explain.js") }],
  [
    "feature",
    {
      summary: "what this kernel supports (program types, map types, helpers)",
      load: () => import("./feature.js"),
    },
  ],
  [
    "object",
    {
      summary: "list what a clang-compiled object holds (programs, maps, variables)",
      load: () => import("./object.js"),
    },
  ],
  [
    "gen",
    {
      summary: "generate a typed TypeScript module for an object (gen types FILE.o -o FILE.ts)",
      load: () => import("./gen.js"),
    },
  ],
  [
    "export",
    { summary: "serve eBPF maps as Prometheus / OpenTelemetry metrics", load: () => import("./export.js") },
  ],
  [
    "profile",
    {
      summary: "sample on-CPU stacks (perf events) and print them folded, as a top table or JSON",
      load: () => import("./profile.js"),
    },
  ],
  [
    "link",
    { summary: "list the links in the kernel (programs attached to hooks)", load: () => import("./link.js") },
  ],
  ["prog", { summary: "list, show, dump and pin loaded programs", load: () => import("./prog.js") }],
  ["map", { summary: "list, show, dump and edit the kernel's maps", load: () => import("./map.js") }],
  [
    "net",
    { summary: "the programs on network devices (XDP, tcx, flow dissector)", load: () => import("./net.js") },
  ],
  ["perf", { summary: "the programs attached to perf events (perf list)", load: () => import("./perf.js") }],
  [
    "cgroup",
    { summary: "the programs attached to cgroups (cgroup tree)", load: () => import("./cgroup.js") },
  ],
]);

function usage(): string {
  const lines = [
    "usage: rawbpf COMMAND [ARGS]   (rawbpf help COMMAND, or rawbpf COMMAND --help, for more)",
    "",
    "commands:",
  ];
  for (const [name, c] of COMMANDS) lines.push(`  ${name.padEnd(9)} ${c.summary}`);
  lines.push(
    "",
    "Inputs are read up to a limit (instruction bytes: 8,000,000, the kernel's 1,000,000 instructions;",
    "BTF: 16 MiB; text: 64 MiB); with --json, failures are one JSON object on standard output.",
  );
  return `${lines.join("\n")}\n`;
}

/** The command named `name`, or a usage error that names the nearest one. */
async function unknownCommand(name: string): Promise<UsageError> {
  const { closestName } = await import("../program/types.js");
  const near = name === "" ? undefined : closestName(name, [...COMMANDS.keys()]);
  return new UsageError(
    name === ""
      ? "the command is an empty string"
      : `unknown command '${name}'${near ? ` — did you mean '${near}'?` : ""}`,
  );
}

/** Runs the command line `argv` (without node and the script) and returns the exit status. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  let [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr(usage());
    return 2;
  }
  if (name === "--help" || name === "-h" || (name === "help" && rest.length === 0)) {
    io.stdout(usage());
    return 0;
  }
  if (name === "help") {
    if (rest.length > 1) {
      io.stderr(`rawbpf help: give one command (rawbpf help COMMAND)\n${usage()}`);
      return 2;
    }
    [name, rest] = [rest[0]!, ["--help"]];
  }
  const cmd = COMMANDS.get(name);
  if (cmd === undefined) {
    const unknown = name;
    const fail = async (): Promise<never> => {
      throw await unknownCommand(unknown);
    };
    return runCommand(name, rest, io, fail, usage);
  }
  return runCommand(name, rest, io, cmd.load);
}
