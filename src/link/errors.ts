/** Typed errors of attaching: what was wrong, caught before the kernel was asked, and what to do. */
import { InputError, RawbpfError } from "../sys/error.js";

/** The program's type does not fit the hook (a `socket_filter` given to `attachXdp`, say). */
export class WrongProgramTypeError extends InputError {
  /** the program's type */
  readonly programType: string;
  /** the types the hook takes */
  readonly expected: readonly string[];
  constructor(attach: string, programType: string, expected: readonly string[], extra = "") {
    const list = expected.map((t) => `'${t}'`).join(" or ");
    super(
      `${attach} needs a ${list} program, got a '${programType}' program: load it with type ${list}${extra}`,
    );
    this.programType = programType;
    this.expected = expected;
  }
}

/** No network interface by that name or index in this network namespace. */
export class UnknownInterfaceError extends InputError {
  constructor(iface: string | number, known: readonly string[]) {
    super(
      `there is no network interface ${typeof iface === "number" ? `with index ${iface}` : `'${iface}'`} ` +
        `in this network namespace (interfaces: ${known.length ? known.join(", ") : "none found"}): ` +
        "pick one of these (`ip link` lists them)",
    );
  }
}

/** The tracepoint does not exist: tracefs has no `events/CATEGORY/NAME/id`. */
export class UnknownTracepointError extends InputError {
  /** the path that was looked for */
  readonly path: string;
  constructor(category: string, name: string, path: string, suggestion: string | undefined) {
    super(
      `there is no tracepoint ${category}/${name}: ${path} does not exist` +
        (suggestion ? ` — did you mean ${suggestion}?` : "") +
        ` (${path.slice(0, path.indexOf("/events/") + 8)} lists the categories and their tracepoints)`,
    );
    this.path = path;
  }
}

/**
 * A tracepoint program reads past the end of the tracepoint's record: the kernel refuses the attach
 * (EACCES) when the furthest context byte the verifier saw the program read lies beyond the
 * record's last field (the tracepoint's `format` file in tracefs).
 */
export class TracepointRecordError extends InputError {
  /** the tracepoint, `category/name` */
  readonly tracepoint: string;
  /** where the read starts in the record, and its width in bytes */
  readonly offset: number;
  readonly size: number;
  /** the record's size in bytes: the largest offset + size of its fields */
  readonly recordSize: number;
  /** the instruction that reads it (its slot), or undefined when it is not known */
  readonly insn: number | undefined;
  constructor(
    tracepoint: string,
    read: { offset: number; size: number; insn?: number; text?: string; translated?: boolean },
    recordSize: number,
    formatPath: string,
  ) {
    const where =
      read.insn === undefined
        ? ""
        : ` at instruction ${read.insn}${read.translated ? " of the program as the kernel translated it" : ""}` +
          (read.text ? ` (${read.text})` : "");
    super(
      `the program reads ${read.size} byte${read.size === 1 ? "" : "s"} at offset ${read.offset} of tracepoint ` +
        `${tracepoint}'s record${where}, but the record is ${recordSize} bytes (${formatPath} lists its fields): ` +
        "the kernel refuses such an attach with EACCES. Read only the fields the format file lists, " +
        "or attach to a tracepoint whose record has them",
    );
    this.tracepoint = tracepoint;
    this.offset = read.offset;
    this.size = read.size;
    this.recordSize = recordSize;
    this.insn = read.insn;
  }
}

/** tracefs is not mounted where we look, so tracepoint ids cannot be read. */
export class TracefsNotMountedError extends RawbpfError {
  /** the paths that were tried */
  readonly paths: readonly string[];
  constructor(paths: readonly string[]) {
    super(
      "ENOTRACEFS",
      `tracefs is not mounted (no events directory under ${paths.join(" or ")}), so tracepoint ids cannot be read: ` +
        "mount it as root with `mount -t tracefs nodev /sys/kernel/tracing`",
    );
    this.paths = paths;
  }
}

/** The cgroup path is not a cgroup v2 directory. */
export class NotACgroupError extends InputError {}

/** An operation this kind of link does not have (updating a tracepoint link, say). */
export class UnsupportedLinkOperationError extends InputError {}

/** The binary to probe cannot be used: it is missing, unreadable, or not a regular file. */
export class UnreadableBinaryError extends InputError {
  /** the path that was given */
  readonly file: string;
  constructor(file: string, why: string) {
    super(
      `cannot probe ${file}: ${why} (give the path of an executable or shared library, e.g. ` +
        "/usr/lib/x86_64-linux-gnu/libc.so.6 or the output of `which NAME`)",
    );
    this.file = file;
  }
}

export { AmbiguousSymbolError, ElfFormatError, SymbolNotFoundError } from "../elf/errors.js";

/** The kernel has no uprobe PMU (/sys/bus/event_source/devices/uprobe), so uprobes cannot be opened. */
export class UprobeUnsupportedError extends RawbpfError {
  constructor(path: string, why: string) {
    super(
      "ENOUPROBE",
      `this kernel offers no uprobe PMU: ${path} ${why} ` +
        "(uprobes need a kernel built with CONFIG_UPROBE_EVENTS, and sysfs mounted at /sys)",
    );
  }
}

/**
 * The kernel cannot make kprobes: there is no kprobe PMU (/sys/bus/event_source/devices/kprobe)
 * and no kprobe_events in tracefs. Thrown before any system call.
 */
export class KprobesUnsupportedError extends RawbpfError {
  /** whether tracefs has kprobe_events (then kprobes go through it, and this error is not thrown) */
  readonly kprobeEvents: boolean;
  constructor(kprobeEvents: boolean) {
    super(
      "ENOKPROBE",
      kprobeEvents
        ? "no kprobe PMU in /sys/bus/event_source/devices/kprobe: this kernel is too old for perf-event kprobes (Linux 4.17 added the PMU)"
        : "no kprobe PMU (/sys/bus/event_source/devices/kprobe) and no /sys/kernel/tracing/kprobe_events: this kernel was built without CONFIG_KPROBES",
    );
    this.kprobeEvents = kprobeEvents;
  }
}
