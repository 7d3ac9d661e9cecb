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
  if (/\.o$/.test(file))
    throw new UnsupportedSourceError(
      cfg.where(`${p.path}.file`),
      `${p.path}.file`,
      `${file} is a clang object: loading objects (src/object) is not in this build of rawbpf yet; assemble the program (.s) or give its instructions (.bin)`,
    );
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
    if (e instanceof ProgramRejectedError)
      throw cfg.error(p.path, `program '${p.name}' (${file}) was refused by the verifier: ${e.message}`, e);
    if (e instanceof Error && e.name === "BpfError" && !(e as { location?: string }).location)
      throw cfg.error(p.path, `program '${p.name}' (${file}): ${e.message}`, e);
    throw e;
  }
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
