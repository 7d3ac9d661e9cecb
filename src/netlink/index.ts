/** Netlink messages as bytes (pure): the generic framing and the rtnetlink messages rawbpf speaks. */
export { NetlinkFormatError } from "./errors.js";
export * from "./message.js";
export * from "./route.js";
