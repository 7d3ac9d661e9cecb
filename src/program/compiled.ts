/**
 * Loading a module compiled from TypeScript (`compile`) with everything it reports: each map
 * created, the read-only ones filled (string constants, `config({...})` values) and frozen, then
 * its programs loaded with the maps by name and, for tp_btf programs, what they attach to.
 */
import type { CompiledModule } from "../lang/compile.js";
import { configValue } from "../lang/config.js";
import type { MapFlags } from "../map/flags.js";
import { BpfMap } from "../map/map.js";
import type { MapSpec } from "../map/spec.js";
import type { MapTypeName } from "../map/types.js";
import { InputError } from "../sys/error.js";
import { Program } from "./program.js";

/** Options of {@link loadCompiled}. */
export interface LoadCompiledOptions {
  /** load only these programs, by their exported names (default: every program of the module) */
  programs?: readonly string[];
  /** the values of each `config({...})` map, by map name (fields left out are 0) */
  config?: Readonly<Record<string, Readonly<Record<string, number | bigint | boolean>>>>;
  /** where the maps and programs live: the kernel (default) or the memory back end */
  backend?: "kernel" | "memory";
  /** verifier log level for every program (see ProgramSpec.logLevel) */
  logLevel?: number;
}

/** A compiled module's maps and programs, loaded; `close()` (or `using`) closes them all. */
export interface LoadedModule extends Disposable {
  /** the maps, by the names the module gives them */
  readonly maps: Record<string, BpfMap>;
  /** the programs loaded, by their exported names, in the module's order */
  readonly programs: Record<string, Program>;
  /** Closes every program and map. */
  close(): void;
}

/** Creates a compiled module's maps (filled and frozen as it says) and loads its programs. */
export function loadCompiled(module: CompiledModule, options: LoadCompiledOptions = {}): LoadedModule {
  const wanted = options.programs;
  const names = module.programs.map((p) => p.name);
  for (const n of wanted ?? [])
    if (!names.includes(n))
      throw new InputError(`the module has no program '${n}' (it has ${names.join(", ") || "none"})`);
  for (const n of Object.keys(options.config ?? {}))
    if (!module.maps.some((m) => m.name === n && m.config !== undefined))
      throw new InputError(`the module has no config({...}) map '${n}'`);
  const backend = options.backend === undefined ? {} : { backend: options.backend };
  const maps: Record<string, BpfMap> = {};
  const programs: Record<string, Program> = {};
  const close = () => {
    for (const p of Object.values(programs)) p.close();
    for (const m of Object.values(maps)) m.close();
  };
  try {
    for (const spec of module.maps) {
      const map = BpfMap.create({
        type: spec.type as MapTypeName,
        keySize: spec.keySize,
        valueSize: spec.valueSize,
        maxEntries: spec.maxEntries,
        flags: [...spec.flags] as MapFlags,
        name: spec.name.slice(0, 15),
        ...backend,
      } as MapSpec<MapTypeName>) as BpfMap;
      maps[spec.name] = map;
      const value =
        spec.contents ??
        (spec.config === undefined ? undefined : configValue(spec, options.config?.[spec.name] ?? {}));
      if (value !== undefined) map.set(Buffer.alloc(spec.keySize), Buffer.from(value));
      if (spec.freeze === true) map.freeze();
    }
    for (const p of module.programs) {
      if (wanted !== undefined && !wanted.includes(p.name)) continue;
      programs[p.name] = Program.load({
        type: p.type,
        name: p.name.slice(0, 15),
        instructions: p,
        maps,
        ...backend,
        ...(options.logLevel === undefined ? {} : { logLevel: options.logLevel }),
        // tp_btf programs: what they attach to, from the kernel's BTF
        ...(p.expectedAttachType === undefined ? {} : { expectedAttachType: p.expectedAttachType }),
        ...(p.attachBtfId === undefined ? {} : { attachBtfId: p.attachBtfId }),
      });
    }
  } catch (e) {
    close();
    throw e;
  }
  return { maps, programs, close, [Symbol.dispose]: close };
}
