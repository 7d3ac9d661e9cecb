import { readdirSync } from "node:fs";

/** The number of open descriptors of this process (/proc/self/fd). */
export function openFdCount(): number {
  return readdirSync("/proc/self/fd").length;
}
