/**
 * `rawbpf object FILE.o [--core [--btf FILE]] [--json]`: what a clang-compiled object holds, and
 * with --core what its CO-RE relocations do against this kernel's BTF (no program is loaded).
 */
import { readFileSync } from "node:fs";
import { BpfObject } from "../object/object.js";
import type { parseObject } from "../object/spec.js";
import { parseArgs } from "./args.js";
import { type CliIo, UsageError } from "./io.js";

const HELP = `usage: rawbpf object FILE.o [--core [--btf FILE]] [--json]

Reads an object compiled with clang -target bpf and lists its sections, programs (section, type,
attach type and target, instruction count with the subprograms it calls), maps, global variables,
externs and the size of its CO-RE relocation records. Nothing is loaded.
  --core       relocate as a load would, and list every CO-RE relocation of every program: the
               instruction, the kind, the local access (as C), the target found in the kernel's
               BTF and the patch (or why the instruction was poisoned)
  --btf FILE   relocate against this raw BTF file (a btfhub file) instead of the running kernel's
  --json       one JSON object: sections, programs, maps, variables, externs, coreRelocationBytes
               (and with --core, core: one entry per relocation)
`;

/** Runs `rawbpf object ...`. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { booleans: ["json", "core"], values: ["btf"], aliases: { j: "json" } });
  if (args.bools.has("help")) {
    io.stdout(HELP);
    return 0;
  }
  const [path, extra] = args.positionals;
  if (path === undefined) throw new UsageError("rawbpf object needs the path of an object file (FILE.o)");
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  const btf = args.flags.get("btf");
  if (btf !== undefined && !args.bools.has("core")) throw new UsageError("--btf goes with --core");
  const obj = BpfObject.open(readFileSync(path), { file: path, ...(btf === undefined ? {} : { btf }) });
  const spec = obj.spec;
  const core = args.bools.has("core")
    ? [...obj.relocate()].flatMap(([program, results]) =>
        results.map((r) => ({
          program,
          section: spec.programs.find((p) => p.name === program)?.section ?? "",
          index: r.index,
          insn: r.insnIndex,
          kind: r.kindName,
          local: r.local,
          target: r.target ?? null,
          targetTypeId: r.targetTypeId ?? null,
          candidates: r.candidates,
          matched: r.matched,
          patch: r.patch,
          poisoned: r.poisoned,
          reason: r.reason ?? null,
        })),
      )
    : undefined;
  const report = {
    file: path,
    license: spec.license,
    sections: spec.sections.map((s) => ({ name: s.name, type: s.type, size: s.size, flags: s.flags })),
    programs: spec.programs.map((p) => ({
      name: p.name,
      section: p.section,
      type: p.def.programType,
      attachType: p.def.attachType ?? null,
      target: p.def.target || null,
      sleepable: p.def.sleepable,
      autoload: p.def.autoload,
      notYet: p.def.notYet ?? null,
      insns: p.insns.length / 8,
      subprograms: p.subprograms,
      mapReferences: p.references.length,
      lineInfo: p.lineInfo.length,
    })),
    maps: spec.maps.map((m) => ({
      name: m.name,
      section: m.section,
      type: m.type,
      keySize: m.keySize,
      valueSize: m.valueSize,
      maxEntries: m.maxEntries,
      flags: m.flags,
      pinning: m.pinning,
      inner: m.inner?.type ?? null,
      initialValues: m.initialValues.filter((x) => x !== undefined).length,
    })),
    variables: spec.variables.map((v) => ({
      name: v.name,
      map: v.map,
      offset: v.offset,
      size: v.size,
      type: spec.btfModel ? describe(spec.btfModel, v.typeId) : null,
    })),
    externs: spec.externs.map((e) => ({
      name: e.name,
      section: e.kind === "kconfig" ? ".kconfig" : ".ksyms",
      kind: e.func
        ? "kfunc"
        : e.kind === "kconfig"
          ? (e.kconfig?.type ?? "")
          : e.typeId
            ? "typed"
            : "typeless",
      weak: e.weak,
      ...(e.kconfig ? { offset: e.kconfig.offset, size: e.kconfig.size } : {}),
    })),
    coreRelocationBytes: spec.coreRelos.length,
    ...(core ? { core } : {}),
  };
  if (args.bools.has("json")) {
    io.stdout(`${JSON.stringify(report)}\n`);
    return 0;
  }
  const out: string[] = [`${path}: license "${report.license}"\n`, "\nprograms:\n"];
  for (const p of report.programs) {
    out.push(
      `  ${p.name}  section ${p.section}  type ${p.type}${p.attachType ? ` attach ${p.attachType}` : ""}` +
        `${p.target ? ` target ${p.target}` : ""}  ${p.insns} insns` +
        `${p.subprograms.length ? ` (with ${p.subprograms.join(", ")})` : ""}${p.autoload ? "" : "  [not autoloaded]"}` +
        `${p.notYet ? `  [${p.notYet}: not supported yet]` : ""}\n`,
    );
  }
  out.push("\nmaps:\n");
  for (const m of report.maps)
    out.push(
      `  ${m.name}  ${m.type}  key ${m.keySize}B value ${m.valueSize}B max_entries ${m.maxEntries}` +
        `${m.flags ? ` flags 0x${m.flags.toString(16)}` : ""}${m.inner ? ` inner ${m.inner}` : ""}  (${m.section})\n`,
    );
  out.push("\nvariables:\n");
  for (const v of report.variables)
    out.push(`  ${v.name}  ${v.type ?? "?"}  ${v.size}B at ${v.map}+${v.offset}\n`);
  if (report.externs.length) {
    out.push("\nexterns:\n");
    for (const e of report.externs)
      out.push(`  ${e.name}  ${e.section} ${e.kind}${e.weak ? " __weak" : ""}\n`);
  }
  if (report.coreRelocationBytes)
    out.push(`\nCO-RE relocation records: ${report.coreRelocationBytes} bytes\n`);
  if (core) {
    out.push(`\nCO-RE relocations (against ${btf ?? "the running kernel's BTF"}):\n`);
    if (core.length === 0) out.push("  none\n");
    let last = "";
    for (const r of core) {
      if (r.program !== last) out.push(`  ${r.program} (section ${r.section}):\n`);
      last = r.program;
      out.push(
        `    #${r.index} insn ${r.insn} ${r.kind}  ${r.local}  ->  ${r.target ?? "no target"}  ${r.patch}` +
          `${r.reason ? `  (${r.reason})` : ""}\n`,
      );
    }
  }
  out.push("\nsections:\n");
  for (const s of report.sections) out.push(`  ${s.name || "(unnamed)"}  type ${s.type}  ${s.size} bytes\n`);
  io.stdout(out.join(""));
  return 0;
}

/** A short C-like name of a BTF type. */
function describe(btf: NonNullable<ReturnType<typeof parseObject>["btfModel"]>, id: number): string {
  const t = btf.type(id);
  switch (t.kind) {
    case "const":
    case "volatile":
      return `${t.kind} ${describe(btf, t.type)}`;
    case "array":
      return `${describe(btf, t.type)}[${t.length}]`;
    case "ptr":
      return `${describe(btf, t.type)} *`;
    case "struct":
    case "union":
      return `${t.kind} ${t.name}`;
    default:
      return t.name || t.kind;
  }
}
