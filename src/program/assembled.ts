/**
 * Loading an assembled program with everything its directives declare: each `.map` created,
 * read-only data filled and frozen, then the program loaded with them.
 */
import type { AsmProgram } from "../isa/asm/program.js";
import { BpfMap } from "../map/map.js";
import type { MapTypeName } from "../map/types.js";
import { Program, type ProgramSpec } from "./program.js";

/** A loaded assembled program and the maps made for it (close them all, or `using` it). */
export interface LoadedAssembly extends Disposable {
  program: Program;
  maps: Record<string, BpfMap>;
  /** Closes the program and every map made for it. */
  close(): void;
}

/** Creates the maps an assembled program declares (filled and frozen as declared). */
export function createAsmMaps(asm: AsmProgram, backend?: "kernel" | "memory"): Record<string, BpfMap> {
  const maps: Record<string, BpfMap> = {};
  try {
    for (const m of asm.maps) {
      const map = BpfMap.create<MapTypeName>({
        type: m.type as MapTypeName,
        keySize: m.keySize,
        valueSize: m.valueSize,
        maxEntries: m.maxEntries,
        flags: m.flags,
        ...(/^[A-Za-z0-9_.]{1,15}$/.test(m.name) ? { name: m.name } : {}),
        ...(backend === undefined ? {} : { backend }),
      });
      maps[m.name] = map as BpfMap;
      if (m.initialValue) map.set(Buffer.alloc(m.keySize), Buffer.from(m.initialValue));
      if (m.freeze) map.freeze();
    }
  } catch (e) {
    for (const m of Object.values(maps)) m.close();
    throw e;
  }
  return maps;
}

/**
 * Creates the program's maps and loads it. `spec` may override the type (else the source's
 * `.type`), license (else `.license`, else GPL) and any other load option.
 */
export function loadAssembled(
  asm: AsmProgram,
  spec: Partial<Omit<ProgramSpec, "instructions">> = {},
): LoadedAssembly {
  const maps = createAsmMaps(asm);
  const close = () => {
    for (const m of Object.values(maps)) m.close();
  };
  try {
    const type = spec.type ?? asm.programType ?? "";
    const program = Program.load({
      ...spec,
      type,
      license: spec.license ?? asm.license ?? "GPL",
      instructions: asm,
      maps: { ...maps, ...spec.maps },
    });
    return {
      program,
      maps,
      close: () => {
        program.close();
        close();
      },
      [Symbol.dispose]: () => {
        program.close();
        close();
      },
    };
  } catch (e) {
    close();
    throw e;
  }
}
