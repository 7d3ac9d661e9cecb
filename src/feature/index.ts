/** Feature probes: what the running kernel supports, found by asking it (like `bpftool feature probe`). */
export {
  type Availability,
  type FeatureReport,
  NOISY_HELPERS,
  type ProbeAllOptions,
  probeAll,
} from "./all.js";
export { type AttachPoint, type AttachPointReport, probeAttachPoints } from "./attach.js";
export { clearProbeCache } from "./cache.js";
export { InconclusiveProbeError } from "./errors.js";
export { probeHelper } from "./helper.js";
export { probeMapType } from "./map.js";
export { probeProgramType } from "./program.js";
