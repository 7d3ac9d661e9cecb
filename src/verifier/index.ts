/** Verifier logs a person can read: the parser, the explanation catalog, and the views. */
export { CATALOG, type CatalogEntry, catalogEntry } from "./catalog.js";
export {
  errorJson,
  VerifierError,
  type VerifierErrorJson,
  type VerifierErrorOptions,
  verifierErrorFromLog,
} from "./error.js";
export { type Explanation, explain, type RegisterNote } from "./explain.js";
export { type ListingRow, type ProgramText, programListing } from "./listing.js";
export { type LogError, parseVerifierLog, type StateAt, VerifierLog } from "./parse.js";
export * from "./records.js";
export { describeSlot, parseSlot, parseStates, type SlotState } from "./state.js";
export { escapeHtml, type HtmlOptions, renderHtml } from "./view-html.js";
export { renderTerminal, type TerminalOptions, useColor } from "./view-terminal.js";
