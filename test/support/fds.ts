import { readdirSync, readlinkSync } from "node:fs";
import { reclaimDescriptors } from "../../src/sys/fd.js";

/**
 * The number of open descriptors of this process (/proc/self/fd), or only those whose target
 * starts with `target` (`"anon_inode:bpf-map"`, say): a test about BPF objects counts those, so a
 * descriptor that Node, tsx or libuv opens or closes meanwhile on a busy machine cannot move it.
 */
export function openFdCount(target?: string): number {
  const fds = readdirSync("/proc/self/fd");
  if (target === undefined) return fds.length;
  let n = 0;
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(target)) n++;
    } catch {
      // closed between the listing and the look (the listing's own descriptor, say)
    }
  }
  return n;
}

/**
 * {@link openFdCount} after the pending finalizers of rawbpf objects that earlier tests dropped
 * have run (a collection and their callbacks, synchronously), so none of them closes a descriptor
 * in the middle of a test that counts. Not for tests about what the collector does alone.
 */
export function settledFdCount(target?: string): number {
  reclaimDescriptors();
  return openFdCount(target);
}
