/** USDT probes: reading them from a binary's notes, attaching uprobes to them, their arguments in BPF. */
export {
  parseUsdtArgs,
  USDT_MAX_ARGS,
  USDT_SPEC_SIZE,
  type UsdtArgKind,
  type UsdtArgSpec,
} from "./args.js";
export {
  type UsdtArgOptions,
  type UsdtFragment,
  usdtArg,
  usdtArgCount,
  usdtAsm,
  usdtCookie,
} from "./asm.js";
export {
  attachUsdt,
  listUsdtProbes,
  UsdtAttachment,
  type UsdtOptions,
  type UsdtSpecMap,
  type UsdtSpecMapOptions,
  usdtSpecMap,
} from "./attach.js";
export { UsdtArgError, UsdtProbeNotFoundError, UsdtSpecsFullError } from "./errors.js";
export type { UsdtProbe } from "./notes.js";
