/** The interpreter and in-memory maps: the second back end. Pure: no native calls. */

export { MemoryElemOps, MemoryHandle } from "./elemops.js";
export * from "./env.js";
export * from "./errors.js";
export { emulatedKfuncs, registerKfunc } from "./helpers.js";
export { MemoryMap, type MemoryMapSpec, objectByFd, RingState } from "./maps.js";
export * from "./program.js";
