/** Tracing conveniences bpftrace users know: histograms, count tables, trace_pipe, library paths, stopped children. */
export { histogramCounts, linearBucketAsm, log2BucketAsm } from "./buckets.js";
export {
  type CountTableOptions,
  countTable,
  formatHist,
  formatLinearHist,
  type HistEntry,
  type LinearBounds,
  linearBucket,
  log2Bucket,
  printCounts,
  printHistMap,
} from "./hist.js";
export {
  LibraryNotFoundError,
  ldSoCache,
  libraryMatches,
  type ResolveLibraryOptions,
  resolveLibrary,
} from "./libs.js";
export { parseTraceLine, type TraceLine, type TracePipe, type TracePipeOptions, tracePipe } from "./pipe.js";
export { type StoppedChild, spawnStopped } from "./spawn.js";
