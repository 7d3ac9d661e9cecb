/** Clang-compiled BPF objects: ELF → specs (pure), and `BpfObject`, the live part. */

export type { ObjectAttachOptions } from "./attach.js";
export {
  CorePoisonRejectedError,
  ObjectFormatError,
  ObjectUnsupportedError,
  UnknownObjectNameError,
} from "./errors.js";
export {
  ExternError,
  type ExternReference,
  fillKconfig,
  type KconfigKind,
  type KconfigSlot,
  type ObjectExtern,
  POISON_CALL_KFUNC_BASE,
  parseKconfig,
} from "./externs.js";
export { codecOf, type GenerateOptions, generateTypes } from "./gen.js";
export {
  BpfObject,
  type ObjectLoadOptions,
  type ObjectOptions,
  type ObjectPhaseTiming,
  ObjectVariableHandle,
} from "./object.js";
export {
  KNOWN_SECTIONS,
  matchSection,
  type SectionDef,
  sectionDef,
  UnknownSectionError,
  UnsupportedSectionError,
} from "./sections.js";
export {
  dataMapName,
  type MapReference,
  type ObjectMap,
  type ObjectProgram,
  type ObjectSpec,
  type ObjectVariable,
  parseObject,
} from "./spec.js";
