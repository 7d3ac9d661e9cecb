/**
 * The owner of one kernel descriptor, what a descriptor number refers to, and what to do when the
 * process runs out of descriptors.
 */
import { readdirSync, readlinkSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Errno } from "./errno.js";
import { BpfError, ClosedError, InputError } from "./error.js";
import * as libc from "./libc.js";

/** Descriptors owned by an {@link Fd} that is not closed yet (the garbage collector may hold some). */
let open = 0;

const registry = new FinalizationRegistry<number>((fd) => {
  open--;
  libc.close(fd);
});

/**
 * Owns one file descriptor. `close()` is idempotent; `[Symbol.dispose]` makes `using` work; a
 * FinalizationRegistry closes descriptors that only the garbage collector still sees; any use
 * after close throws {@link ClosedError}.
 */
export class Fd {
  #fd: number;
  readonly #what: string;

  /** Takes ownership of `fd`. `what` names the object in errors ("map 'counts'"). */
  constructor(fd: number, what: string) {
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`invalid descriptor ${fd} for ${what}`);
    this.#fd = fd;
    this.#what = what;
    registry.register(this, fd, this);
    open++;
  }

  /** The descriptor number; throws ClosedError after close(). */
  get value(): number {
    if (this.#fd < 0) throw new ClosedError(this.#what);
    return this.#fd;
  }

  /** Whether close() has been called. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Closes the descriptor; a second call does nothing. */
  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    registry.unregister(this);
    open--;
    libc.close(fd);
  }

  /** Gives up ownership without closing (the caller now owns the number). */
  release(): number {
    const fd = this.value;
    this.#fd = -1;
    registry.unregister(this);
    open--;
    return fd;
  }

  /** The same as `close()`, for `using`: released when the block that declared it ends. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Closes a raw descriptor number we own but never wrapped (error paths). */
export function closeRaw(fd: number): void {
  if (fd >= 0) libc.close(fd);
}

// ---- what a descriptor number refers to -------------------------------------------------------

/** Kinds of BPF object a descriptor can refer to. */
export type BpfFdKind = "map" | "prog" | "link" | "btf";

/**
 * What /proc/self/fd/N reads for each kind: the anonymous inode's name, as the kernel spells it (a
 * link made by BPF_LINK_CREATE reads `bpf_link`, one opened from a pin `bpf-link`).
 */
const ANON_INODE: Readonly<Record<BpfFdKind, readonly string[]>> = {
  map: ["anon_inode:bpf-map"],
  prog: ["anon_inode:bpf-prog"],
  link: ["anon_inode:bpf_link", "anon_inode:bpf-link"],
  btf: ["anon_inode:btf"],
};

const NOUN: Readonly<Record<BpfFdKind, string>> = {
  map: "a BPF map",
  prog: "a BPF program",
  link: "a BPF link",
  btf: "a BTF object",
};

/**
 * What descriptor `fd` of this process refers to, as /proc/self/fd shows it (`anon_inode:bpf-map`,
 * `/etc/hostname`, `socket:[1234]`); null when it is not open; undefined when /proc cannot tell
 * (not mounted).
 */
export function describeFd(fd: number): string | null | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "EBADF") return existsProcFd() ? null : undefined;
    return undefined;
  }
}

function existsProcFd(): boolean {
  try {
    readlinkSync("/proc/self/fd/0");
    return true;
  } catch {
    try {
      readdirSync("/proc/self/fd");
      return true;
    } catch {
      return false;
    }
  }
}

/** Words for what a descriptor refers to: "/etc/hostname", "a BPF program", "an epoll instance". */
function plainWords(target: string): string {
  for (const [kind, inodes] of Object.entries(ANON_INODE))
    if (inodes.includes(target)) return NOUN[kind as BpfFdKind];
  if (target === "anon_inode:[eventpoll]") return "an epoll instance (anon_inode:[eventpoll])";
  if (target.startsWith("socket:")) return `a socket (${target})`;
  if (target.startsWith("pipe:")) return `a pipe (${target})`;
  return target;
}

/**
 * Checks, without touching it, that descriptor `fd` refers to an object of `kind`; throws an
 * {@link InputError} saying what it is instead ("fd 18 is /etc/hostname, not a BPF map"). Where
 * /proc is not mounted, or the descriptor is a BPF anonymous inode of a name we do not know (a
 * later kernel's), nothing is checked here: the kernel's answer decides.
 */
export function expectFdKind(fd: number, kind: BpfFdKind): void {
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff)
    throw new InputError(`a descriptor is a non-negative integer, got ${fd}`);
  const target = describeFd(fd);
  if (target === undefined) return;
  if (target === null)
    throw new InputError(`fd ${fd} is not open in this process, so it is not ${NOUN[kind]}`);
  if (ANON_INODE[kind].includes(target)) return;
  const known = Object.values(ANON_INODE).some((inodes) => inodes.includes(target));
  if (!known && /^anon_inode:.*\b(bpf|btf)/.test(target)) return;
  throw new InputError(`fd ${fd} is ${plainWords(target)}, not ${NOUN[kind]}`);
}

const F_DUPFD_CLOEXEC = 1030;

/**
 * A new descriptor (close-on-exec) for the same object as `fd`, owned by the caller. Runs a
 * collection and tries again once when the process is out of descriptors.
 */
export function duplicateFd(fd: number, what: string): number {
  let dup = libc.fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) {
    let errno = libc.errno();
    if (isDescriptorPressure(errno) && reclaimDescriptors() > 0) {
      dup = libc.fcntl(fd, F_DUPFD_CLOEXEC, 0);
      if (dup < 0) errno = libc.errno();
    }
    if (dup < 0) {
      throw new BpfError("fcntl(F_DUPFD_CLOEXEC)", errno, descriptorPressureDetails(errno), `of ${what}`);
    }
  }
  return dup;
}

// ---- running out of descriptors -----------------------------------------------------------------

/** Whether errno says the process (EMFILE) or the system (ENFILE) has no descriptor left. */
export function isDescriptorPressure(errno: number): boolean {
  return errno === Errno.EMFILE || errno === Errno.ENFILE;
}

type Gc = () => void;
type CleanupSome = (this: FinalizationRegistry<number>) => void;
let gcTools: { gc: Gc | undefined; cleanupSome: CleanupSome | undefined } | undefined;

/**
 * V8's `gc()` and `FinalizationRegistry.prototype.cleanupSome`, taken from a fresh context after
 * turning on the flags that define them (they apply to contexts created afterwards). Either may be
 * missing where this V8 no longer has the flag.
 */
function tools(): NonNullable<typeof gcTools> {
  if (gcTools) return gcTools;
  let gc: Gc | undefined;
  let cleanupSome: CleanupSome | undefined;
  try {
    setFlagsFromString("--expose-gc");
    setFlagsFromString("--harmony-weak-refs-with-cleanup-some");
    const found = runInNewContext(
      "({ gc: typeof gc === 'function' ? gc : undefined, cleanupSome: FinalizationRegistry.prototype.cleanupSome })",
    ) as { gc?: Gc; cleanupSome?: CleanupSome };
    gc = typeof found.gc === "function" ? found.gc : undefined;
    cleanupSome = typeof found.cleanupSome === "function" ? found.cleanupSome : undefined;
  } catch {
    // leave them undefined: the error then says what happened instead
  }
  gcTools = { gc, cleanupSome };
  return gcTools;
}

/**
 * Closes, now, the descriptors of rawbpf objects that are garbage but not yet finalized: runs a full
 * collection and the FinalizationRegistry's pending callbacks synchronously. Returns how many
 * descriptors it closed (0 where this V8 cannot run finalizers synchronously). Called when a call
 * that makes a descriptor fails with EMFILE or ENFILE, before trying that call once more.
 */
export function reclaimDescriptors(): number {
  if (open === 0) return 0;
  const { gc, cleanupSome } = tools();
  if (!gc || !cleanupSome) return 0;
  const before = open;
  gc();
  // owners first: their callbacks close the Fds they hold, which no collection could reach before
  for (const owner of owners) cleanupSome.call(owner as FinalizationRegistry<number>);
  cleanupSome.call(registry);
  return before - open;
}

/** FinalizationRegistries of objects that hold {@link Fd}s (readers): swept by {@link reclaimDescriptors}. */
const owners = new Set<FinalizationRegistry<never>>();

/**
 * Lets {@link reclaimDescriptors} run `owner`'s pending callbacks too. An object that holds its
 * {@link Fd}s in the held value of a registry of its own (a reader closing a poll handle before
 * its descriptor) keeps those Fds reachable until that registry's callback runs, so a collection
 * alone frees none of them.
 */
export function reclaimThrough<T>(owner: FinalizationRegistry<T>): void {
  owners.add(owner as unknown as FinalizationRegistry<never>);
}

/** How many descriptors rawbpf objects hold that were not closed (some may be garbage). */
export function openDescriptorCount(): number {
  return open;
}

const RLIMIT_NOFILE = 7;
const RLIM_INFINITY = 0xffffffffffffffffn;

/** RLIMIT_NOFILE's soft limit (what `ulimit -n` says); read without opening a file. */
function descriptorLimit(): string | undefined {
  const limits = new BigUint64Array(2);
  if (libc.getrlimit(RLIMIT_NOFILE, limits) !== 0) return undefined;
  const soft = limits[0]!;
  return soft === RLIM_INFINITY ? "unlimited" : String(soft);
}

/**
 * The hint of an EMFILE or ENFILE: that the process (or the system) ran out of descriptors, the
 * limit, and how many rawbpf objects still hold one.
 */
export function descriptorPressureDetails(errno: number): { hint?: string } {
  if (!isDescriptorPressure(errno)) return {};
  const held =
    open > 0
      ? `; rawbpf objects hold ${open} of them (objects dropped without close() keep theirs until the garbage collector runs: call close() or declare them with \`using\`)`
      : "";
  if (errno === Errno.ENFILE) {
    return { hint: `the system ran out of file descriptors (the limit is /proc/sys/fs/file-max)${held}` };
  }
  const limit = descriptorLimit();
  return {
    hint:
      `this process ran out of file descriptors${limit === undefined ? "" : ` (limit ${limit}: ulimit -n)`}` +
      `${held}; close what you no longer need, or raise the limit (ulimit -n)`,
  };
}
