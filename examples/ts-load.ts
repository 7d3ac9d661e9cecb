/**
 * ts-load: what every loader of a compiled TypeScript module does with the maps the compiler
 * reports — create each one, store the read-only ones' values (the string constants, a
 * `config({...})`) and freeze them — and then load the programs with the maps by name.
 * The `ts-*` examples share it.
 */
import {
  BpfMap,
  type CompiledModule,
  configValue,
  type MapFlags,
  type MapSpec,
  type MapTypeName,
  Program,
} from "../src/index.js";

/** The live maps and programs of a module; `using` closes them all. */
export interface LoadedModule {
  readonly maps: Record<string, { close(): void; readonly fd: number }>;
  readonly programs: Record<string, Program>;
  [Symbol.dispose](): void;
}

/**
 * Creates the module's maps (`config` gives the values of its `config({...})` maps by map name)
 * and loads its programs.
 */
export function loadModule(
  module: CompiledModule,
  config: Readonly<Record<string, Readonly<Record<string, number | bigint | boolean>>>> = {},
): LoadedModule {
  const maps: Record<string, { close(): void; readonly fd: number }> = {};
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
      } as MapSpec<MapTypeName>);
      maps[spec.name] = map as { close(): void; readonly fd: number };
      const value =
        spec.contents ?? (spec.config === undefined ? undefined : configValue(spec, config[spec.name] ?? {}));
      if (value !== undefined) map.set(Buffer.alloc(4), Buffer.from(value));
      if (spec.freeze === true) map.freeze();
    }
    for (const p of module.programs)
      programs[p.name] = Program.load({
        type: p.type,
        name: p.name.slice(0, 15),
        instructions: p,
        maps,
        // tp_btf programs: what they attach to, from the kernel's BTF
        ...(p.expectedAttachType === undefined ? {} : { expectedAttachType: p.expectedAttachType }),
        ...(p.attachBtfId === undefined ? {} : { attachBtfId: p.attachBtfId }),
      });
  } catch (e) {
    close();
    throw e;
  }
  return { maps, programs, [Symbol.dispose]: close };
}
