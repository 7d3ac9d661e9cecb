/**
 * CO-RE ("compile once, run everywhere") relocation, pure: parse the relocations of a clang
 * object's .BTF.ext, find each local type's counterpart in a target BTF (vmlinux, a module's split
 * BTF, a btfhub file), and patch the instructions as libbpf and the kernel do.
 */
export { CoreRelocationError, type CoreWhere } from "./errors.js";
export {
  type BtfExtBlock,
  type BtfExtHeader,
  btfExtBlocks,
  CORE_RELO_SIZE,
  type CoreRelocation,
  encodeCoreRelocations,
  parseCoreRelocations,
  readBtfExtHeader,
} from "./ext.js";
export { CORE_KIND_MAX, CORE_KIND_NAMES, CoreKind, coreKindName } from "./kinds.js";
export { essentialName, findCandidates, typesCompat, typesMatch } from "./match.js";
export { explainPoisonedRejection, poisonedInstructionOf } from "./poison.js";
export {
  applyCoreRelocations,
  type CoreCandidateCache,
  type CoreRelocationResult,
  POISON_IMM,
} from "./relocate.js";
export { type AccessSpec, formatAccessSpec, parseAccessSpec, typeName } from "./spec.js";
