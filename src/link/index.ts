/** Links: programs attached to kernel hooks, each a {@link Link} owning its descriptor. */
export { attachCgroup, type Cgroup, type CgroupAttachType } from "./cgroup.js";
export type { CookieOptions } from "./cookie.js";
export {
  AmbiguousSymbolError,
  ElfFormatError,
  KprobesUnsupportedError,
  NotACgroupError,
  SymbolNotFoundError,
  TracefsNotMountedError,
  TracepointRecordError,
  UnknownInterfaceError,
  UnknownTracepointError,
  UnreadableBinaryError,
  UnsupportedLinkOperationError,
  UprobeUnsupportedError,
  WrongProgramTypeError,
} from "./errors.js";
export type { Interface } from "./iface.js";
export type { LinkInfo } from "./info.js";
export {
  attachKprobe,
  attachKprobeMulti,
  KprobeEventError,
  type KprobeMultiOptions,
  type KprobeOptions,
  type KprobeSupport,
  kprobeSupport,
} from "./kprobe.js";
export { Link, type LinkUpdateOptions } from "./link.js";
export {
  attachTcx,
  attachXdp,
  type TcxDirection,
  type TcxOptions,
  type XdpMode,
  type XdpOptions,
} from "./net.js";
export {
  attachPerfEvent,
  HARDWARE_EVENTS,
  PerfEventLink,
  type PerfEventLinkInfo,
  type PerfEventOptions,
  type PerfEventType,
  SOFTWARE_EVENTS,
} from "./perf-event.js";
export { attachTracepoint, tracepointId } from "./tracepoint.js";
export {
  attachRawTracepoint,
  attachTracing,
  kernelFunctionBtfId,
  rawTracepointBtfId,
  type TracingAttachType,
  type TracingOptions,
} from "./tracing.js";
export { type LinkType, linkTypeName, linkTypes } from "./types.js";
export {
  attachUprobe,
  attachUprobeMulti,
  type UprobeMultiOptions,
  type UprobeOptions,
  uprobeOffset,
} from "./uprobe.js";
