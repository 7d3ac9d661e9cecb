/**
 * The native edge of BPF_MAP_TYPE_PERF_EVENT_ARRAY readers: the online CPUs, one
 * PERF_COUNT_SW_BPF_OUTPUT event per CPU (perf_event_open(2)), and the mapping of its ring.
 *
 * A perf event's ring (kernel/events/ring_buffer.c) is `1 + 2^k` pages of its descriptor:
 * - page 0 is struct perf_event_mmap_page: the kernel stores `data_head` (where it will write
 *   next), the reader stores `data_tail` (what it has consumed), so the mapping is read-write
 *   (a read-only mapping would put the ring in overwrite mode);
 * - then the data area of `2^k` pages, mapped once: a record that crosses its end continues at
 *   its start (unlike BPF_MAP_TYPE_RINGBUF, nothing is mapped twice).
 *
 * Closing retires the mapping as {@link retireRegions} does for ring buffers: zero pages at the
 * same addresses, so views kept past close read zeros instead of faulting.
 */
import { readFileSync } from "node:fs";
import { InputError } from "./error.js";
import { reclaimDescriptors } from "./fd.js";
import { PERF_EVENT_MMAP_PAGE } from "./layout.js";
import * as libc from "./libc.js";
import { perfEventOpen } from "./link.js";
import { mapShared, type Region, retireRegions } from "./ringbuf.js";

/** PERF_TYPE_SOFTWARE */
const PERF_TYPE_SOFTWARE = 1;
/** PERF_COUNT_SW_BPF_OUTPUT: the event bpf_perf_event_output writes samples into */
const PERF_COUNT_SW_BPF_OUTPUT = 10;
/** PERF_SAMPLE_RAW: a sample carries the program's bytes (u32 size, then the bytes) */
const PERF_SAMPLE_RAW = 1 << 10;

/** Reads `path`; out of descriptors, runs a collection (see reclaimDescriptors) and tries once more. */
function readOnce(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if ((code === "EMFILE" || code === "ENFILE") && reclaimDescriptors() > 0)
      return readFileSync(path, "utf8").trim();
    throw e;
  }
}

/**
 * The CPUs that are online now, from /sys/devices/system/cpu/online ("0-3,5,7-8"), in order.
 * @throws InputError when the file cannot be read or parsed
 */
export function onlineCpus(path = "/sys/devices/system/cpu/online"): number[] {
  let text: string;
  try {
    text = readOnce(path);
  } catch (e) {
    throw new InputError(`cannot read the online CPUs from ${path}`, { cause: e });
  }
  const cpus: number[] = [];
  for (const part of text.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (m === null) throw new InputError(`cannot parse the online CPUs in ${path}: '${text}'`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    for (let cpu = from; cpu <= to; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** How a BPF output event wakes its reader. */
export interface PerfWakeup {
  /** wake after this many samples (attr.wakeup_events), or after this many bytes with `watermark` */
  wakeup: number;
  /** `wakeup` counts bytes (attr.watermark) */
  watermark: boolean;
}

/**
 * perf_event_open(2) of the PERF_COUNT_SW_BPF_OUTPUT software event of every process on `cpu`,
 * sampling raw data at every output, enabled. Returns a descriptor the caller owns.
 */
export function openBpfOutputEvent(cpu: number, wakeup: PerfWakeup, what: string): number {
  return perfEventOpen(
    {
      type: PERF_TYPE_SOFTWARE,
      config: PERF_COUNT_SW_BPF_OUTPUT,
      sampleType: PERF_SAMPLE_RAW,
      wakeup: wakeup.wakeup,
      watermark: wakeup.watermark,
      pid: -1,
      cpu,
      kind: "a BPF output perf event",
    },
    what,
  );
}

/** A perf event's ring in this process. */
export interface PerfMapping {
  /** the whole mapping: the control page, then the data area */
  readonly memory: ArrayBuffer;
  /** where the data area starts in `memory` (data_offset: one page) */
  readonly dataOffset: number;
  /** the data area's length in bytes (data_size: a power of 2 pages) */
  readonly dataSize: number;
  /** offsets in `memory` of data_head and data_tail (u64 each) */
  readonly headOffset: number;
  readonly tailOffset: number;
  /** set by retirePerfRing */
  retired: boolean;
  readonly regions: readonly Region[];
}

/**
 * Maps the ring of perf event `fd`: one control page and `dataPages` (a power of 2) data pages,
 * read-write.
 * @throws BpfError ("mmap") when the kernel refuses (EINVAL for a page count that is not a power of 2)
 */
export function mapPerfRing(fd: number, dataPages: number, what: string): PerfMapping {
  const page = libc.pageSize();
  const length = (1 + dataPages) * page;
  const { memory, region } = mapShared(fd, length, 0, true, what);
  const o = PERF_EVENT_MMAP_PAGE.offset;
  // data_size follows data_offset: both u64, in the processor's byte order
  const area = new BigUint64Array(memory, o.data_offset, 2);
  // data_offset and data_size are set by the kernel since Linux 4.1; before that the data area
  // was the pages after the first
  const dataOffset = Number(area[0]) || page;
  const dataSize = Number(area[1]) || dataPages * page;
  return {
    memory,
    dataOffset,
    dataSize,
    headOffset: o.data_head,
    tailOffset: o.data_tail,
    retired: false,
    regions: [region],
  };
}

/** Gives the ring's pages back now, leaving zero pages at the same addresses; a second call does nothing. */
export function retirePerfRing(m: PerfMapping): void {
  if (m.retired) return;
  m.retired = true;
  retireRegions(m.regions);
}
