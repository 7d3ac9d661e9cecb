/**
 * Loading and attaching the config's programs through the public API: `.s` assembly (its maps
 * created, or reused from a pin folder so counters survive a restart) and `.bin` instruction bytes.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import {
  type AsmProgram,
  assemble,
  attachCgroup,
  attachRawTracepoint,
  attachTcx,
  attachTracepoint,
  attachUprobe,
  attachXdp,
  BpfMap,
  BpfObject,
  type CgroupAttachType,
  type Link,
  Program,
  ProgramRejectedError,
} from "../index.js";
import type { ExportConfig, MapConfig, ProgramConfig } from "./config.js";
import { UnsupportedSourceError } from "./errors.js";

/** A loaded, attached program and the maps it uses (by the names its source gives them). */
export interface LoadedProgram {
  config: ProgramConfig;
  program: Program;
  maps: Record<string, BpfMap>;
  links: Link[];
  close(): void;
}

function kernelName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, "_").slice(0, 15);
}

function openPinned(
  pin: string,
  spec: AsmProgram["maps"][number],
  cfg: ExportConfig,
  path: string,
): BpfMap | undefined {
  const at = `${pin}/${spec.name}`;
  if (!existsSync(at)) return undefined;
  const m = BpfMap.open(at);
  const same =
    m.type === spec.type &&
    m.keySize === spec.keySize &&
    m.valueSize === spec.valueSize &&
    m.maxEntries === spec.maxEntries;
  if (!same) {
    const shape = `${m.type} key=${m.keySize} value=${m.valueSize} entries=${m.maxEntries}`;
    m.close();
    throw cfg.error(
      path,
      `the map pinned at ${at} is ${shape}, but the program declares ${spec.type} key=${spec.keySize} value=${spec.valueSize} entries=${spec.maxEntries}: remove the pin (rm ${at}) to start afresh`,
    );
  }
  return m;
}

/** Loads one program as its config says and attaches it. Every failure names the config line. */
export function loadProgram(cfg: ExportConfig, p: ProgramConfig): LoadedProgram {
  const file = p.file;
  if (/\.o$/.test(file)) return loadObjectProgram(cfg, p);
  if (/\.(ts|js)$/.test(file))
    throw new UnsupportedSourceError(
      cfg.where(`${p.path}.file`),
      `${p.path}.file`,
      `${file} is a TypeScript program: the compiler (src/lang) is not in this build of rawbpf yet; assemble the program (.s) instead`,
    );
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw cfg.error(`${p.path}.file`, `cannot read ${file}: ${(e as Error).message}`, e);
  }
  const maps: Record<string, BpfMap> = {};
  const owned: BpfMap[] = [];
  const links: Link[] = [];
  let program: Program | undefined;
  const close = () => {
    for (const l of links.splice(0)) l.close();
    program?.close();
    for (const m of owned.splice(0)) m.close();
  };
  try {
    const name = kernelName(p.name);
    if (/\.bin$/.test(file)) {
      if (!p.type) throw cfg.error(p.path, "a .bin program needs 'type' (xdp, tracepoint, ...)");
      program = Program.load({
        type: p.type,
        name,
        license: "GPL",
        instructions: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      });
    } else {
      let asm: AsmProgram;
      try {
        asm = assemble(bytes.toString("utf8"), { file });
      } catch (e) {
        throw cfg.error(`${p.path}.file`, `${file} does not assemble: ${(e as Error).message}`, e);
      }
      if (!p.type && !asm.programType)
        throw cfg.error(p.path, `${file} has no .type directive: give 'type' (tracepoint, xdp, ...)`);
      const pinned: Record<string, BpfMap> = {};
      if (p.pin) {
        try {
          mkdirSync(p.pin, { recursive: true });
        } catch (e) {
          throw cfg.error(
            `${p.path}.pin`,
            `cannot make ${p.pin}: ${(e as Error).message} (is it in a bpffs?)`,
            e,
          );
        }
        for (const spec of asm.maps) {
          if (spec.freeze) continue;
          const m = openPinned(p.pin, spec, cfg, `${p.path}.pin`);
          if (m) {
            owned.push(m);
            pinned[spec.name] = m;
          }
        }
      }
      const all = createMaps(asm, owned, pinned);
      program = Program.load({
        type: p.type ?? asm.programType!,
        name,
        license: asm.license ?? "GPL",
        instructions: asm,
        maps: all,
      });
      Object.assign(maps, all);
      if (p.pin) {
        for (const spec of asm.maps) {
          if (spec.freeze || pinned[spec.name]) continue;
          const at = `${p.pin}/${spec.name}`;
          try {
            maps[spec.name]!.pin(at);
          } catch (e) {
            throw cfg.error(
              `${p.path}.pin`,
              `cannot pin map '${spec.name}' at ${at}: ${(e as Error).message}`,
              e,
            );
          }
        }
      }
    }
    links.push(...attach(cfg, p, program));
    return { config: p, program, maps, links, close };
  } catch (e) {
    close();
    throw atConfigLine(cfg, p, e);
  }
}

/**
 * One program of a clang object: the object opened, CO-RE relocated and loaded (only that
 * program), its maps (and `.data`/`.bss`/`.rodata`) by their names, LIBBPF_PIN_BY_NAME maps pinned
 * under `pin`. With no `attach` key the program attaches where its section says.
 */
function loadObjectProgram(cfg: ExportConfig, p: ProgramConfig): LoadedProgram {
  const where = `${p.path}.file`;
  let obj: BpfObject;
  try {
    obj = BpfObject.open(p.file, p.pin === undefined ? {} : { pinRoot: p.pin });
  } catch (e) {
    throw cfg.error(where, `cannot open ${p.file}: ${(e as Error).message}`, e);
  }
  const links: Link[] = [];
  const close = () => {
    for (const l of links.splice(0)) l.close();
    obj.close();
  };
  try {
    const names = obj.spec.programs.map((x) => x.name);
    let name = p.program;
    if (name === undefined) {
      const autoload = obj.spec.programs.filter((x) => x.def.autoload).map((x) => x.name);
      if (autoload.length !== 1)
        throw cfg.error(
          p.path,
          `${p.file} holds ${autoload.length === 0 ? "no program to load" : `${autoload.length} programs (${autoload.join(", ")})`}: say which with 'program'`,
        );
      name = autoload[0]!;
    } else if (!names.includes(name)) {
      throw cfg.error(
        `${p.path}.program`,
        `${p.file} has no program '${name}' (it has ${names.join(", ") || "none"})`,
      );
    }
    const section = obj.spec.programs.find((x) => x.name === name)!;
    if (p.type !== undefined && p.type !== section.def.programType)
      throw cfg.error(
        `${p.path}.type`,
        `program '${name}' is a ${section.def.programType} program (section ${section.section}), not ${p.type}`,
      );
    obj.load({ programs: [name] });
    const program = obj.program(name);
    const maps: Record<string, BpfMap> = {};
    for (const m of obj.spec.maps) maps[m.name] = obj.map(m.name) as BpfMap;
    if (p.attach.kind === "auto") {
      try {
        obj.attach({ programs: [name] });
      } catch (e) {
        throw cfg.error(
          p.path,
          `cannot attach program '${name}' where its section (${section.section}) says: ${(e as Error).message}; give 'attach'`,
          e,
        );
      }
    } else links.push(...attach(cfg, p, program));
    return { config: p, program, maps, links, close };
  } catch (e) {
    close();
    throw atConfigLine(cfg, p, e);
  }
}

/** A load failure with the config line it came from (a verifier refusal, a kernel error). */
function atConfigLine(cfg: ExportConfig, p: ProgramConfig, e: unknown): unknown {
  if (e instanceof ProgramRejectedError)
    return cfg.error(p.path, `program '${p.name}' (${p.file}) was refused by the verifier: ${e.message}`, e);
  if (e instanceof Error && e.name === "BpfError" && !(e as { location?: string }).location)
    return cfg.error(p.path, `program '${p.name}' (${p.file}): ${e.message}`, e);
  return e;
}

/** Creates the maps an assembled program declares, except those given pinned. */
function createMaps(
  asm: AsmProgram,
  owned: BpfMap[],
  pinned: Record<string, BpfMap>,
): Record<string, BpfMap> {
  const out: Record<string, BpfMap> = { ...pinned };
  for (const s of asm.maps) {
    if (pinned[s.name]) continue;
    const m = BpfMap.create({
      type: s.type as "hash",
      keySize: s.keySize,
      valueSize: s.valueSize,
      maxEntries: s.maxEntries,
      flags: s.flags,
      ...(/^[A-Za-z0-9_.]{1,15}$/.test(s.name) ? { name: s.name } : {}),
    }) as BpfMap;
    owned.push(m);
    if (s.initialValue) m.set(Buffer.alloc(s.keySize), Buffer.from(s.initialValue));
    if (s.freeze) m.freeze();
    out[s.name] = m;
  }
  return out;
}

function attach(cfg: ExportConfig, p: ProgramConfig, program: Program): Link[] {
  const a = p.attach;
  const path = `${p.path}.attach`;
  try {
    switch (a.kind) {
      case "none":
      case "auto":
        return [];
      case "tracepoint":
        return [attachTracepoint(program, a.category, a.name)];
      case "raw_tracepoint":
        return [attachRawTracepoint(program, a.name)];
      case "xdp":
        return [attachXdp(program, a.interface, a.mode ? { mode: a.mode } : {})];
      case "tcx":
        return [attachTcx(program, a.interface, a.direction)];
      case "cgroup":
        return [attachCgroup(program, a.path, a.attachType as CgroupAttachType)];
      case "uprobe":
        return [
          attachUprobe(program, a.binary, a.symbol, {
            retprobe: a.retprobe,
            ...(a.pid !== undefined && { pid: a.pid }),
          }),
        ];
    }
  } catch (e) {
    throw cfg.error(path, `cannot attach program '${p.name}': ${(e as Error).message}`, e);
  }
}

/** Opens a map of the `maps` section (pinned, or by id). */
export function openMap(cfg: ExportConfig, m: MapConfig): BpfMap {
  try {
    return m.pinned !== undefined ? BpfMap.open(m.pinned) : BpfMap.fromId(m.id!);
  } catch (e) {
    throw cfg.error(
      m.path,
      `cannot open map '${m.name}' (${m.pinned ?? `id ${m.id}`}): ${(e as Error).message}`,
      e,
    );
  }
}
