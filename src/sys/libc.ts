/**
 * The native edge: libc functions bound through koffi. Nothing outside src/sys imports this.
 *
 * Every pointer argument is declared as an integer address (`uintptr_t`) or a Buffer; Buffers
 * whose address is written into a bpf_attr must stay referenced until the call returns, which the
 * callers in src/sys guarantee by holding them in local variables across the call.
 */
import { createRequire } from "node:module";
import type { LibraryHandle } from "koffi";
import { NativeUnavailableError } from "./error.js";

type Koffi = typeof import("koffi");
/** A bound native function (koffi's type; its arguments and result are checked by koffi at the call). */
type NativeFn = ReturnType<LibraryHandle["func"]>;

let loaded: Koffi | undefined;
let libcHandle: LibraryHandle | undefined;

/**
 * koffi, loaded on the first native call rather than when rawbpf is imported: the memory back end
 * (backend: "memory") never calls native code, so it works where koffi's native part cannot load
 * (another OS, a platform koffi ships no binary for, a sandbox). A failure to load is a
 * {@link NativeUnavailableError} naming the cause, thrown at the first call that needs the kernel.
 */
export function koffi(): Koffi {
  // Stryker disable next-line ConditionalExpression: require() gives its cached module again: only slower
  if (loaded) return loaded;
  try {
    // the CommonJS bundle has `require`; the ES modules resolve koffi from this file
    const req = typeof require === "function" ? require : createRequire(import.meta.url);
    loaded = req("koffi") as Koffi;
  } catch (cause) {
    throw new NativeUnavailableError(cause);
  }
  return loaded;
}

/** libc's functions bound by their C declaration, once, at their first call. */
function bind(declaration: string): NativeFn {
  libcHandle ??= koffi().load("libc.so.6");
  return libcHandle.func(declaration);
}

/**
 * A stand-in for a native function that binds it at its first call and puts the bound function in
 * its place (`set` assigns the exported binding), so later calls go straight to koffi: the hot
 * paths pay nothing for the laziness.
 */
function lazy(declaration: string, set: (f: NativeFn) => void): NativeFn {
  let bound: NativeFn | undefined;
  const first = (...args: unknown[]): unknown => {
    bound ??= bind(declaration);
    set(bound);
    return bound(...args);
  };
  return first as unknown as NativeFn;
}

/** System call numbers of bpf(2) by architecture. */
const SYS_BPF: Partial<Record<NodeJS.Architecture, number>> = {
  x64: 321,
  arm64: 280,
  riscv64: 280,
  ia32: 357,
  arm: 386,
};

const sysBpf = SYS_BPF[process.arch];

/** The bpf(2) system call number on this architecture, or undefined where we do not know it. */
export const SYS_bpf = sysBpf;

// Each binding below replaces itself with the bound function at its first call. A mutant that
// empties that replacement keeps the stand-in, which binds once and calls the same function: only
// slower.
// Stryker disable BlockStatement: see above
/** `long syscall(SYS_bpf, cmd, attr, size)` with attr passed as a Buffer (koffi passes its address). */
export let syscallBuf: NativeFn = lazy(
  "long syscall(long nr, long cmd, _Inout_ uint8_t *attr, unsigned long size)",
  (f) => {
    syscallBuf = f;
  },
);

/**
 * `long syscall(SYS_bpf, cmd, attr, size)` with attr as an address (a plain number: user-space
 * addresses are below 2^53). The hot paths use this: koffi marshals no Buffer per call.
 */
export let syscallAddr: NativeFn = lazy(
  "long syscall(long nr, long cmd, intptr_t attr, unsigned long size)",
  (f) => {
    syscallAddr = f;
  },
);

/** `close(2)`. */
export let close: NativeFn = lazy("int close(int fd)", (f) => {
  close = f;
});

/** `socket(2)`. */
export let socket: NativeFn = lazy("int socket(int domain, int type, int protocol)", (f) => {
  socket = f;
});

/** `socketpair(2)`; sv receives two ints. */
export let socketpair: NativeFn = lazy(
  "int socketpair(int domain, int type, int protocol, _Out_ int *sv)",
  (f) => {
    socketpair = f;
  },
);

/** `setsockopt(2)` with an int option value. */
export let setsockopt: NativeFn = lazy(
  "int setsockopt(int fd, int level, int name, uint8_t *value, unsigned int len)",
  (f) => {
    setsockopt = f;
  },
);

/** `getsockopt(2)`; `len` is a one-element array: the value's room in, its length out. */
export let getsockopt: NativeFn = lazy(
  "int getsockopt(int fd, int level, int name, _Out_ uint8_t *value, _Inout_ uint32_t *len)",
  (f) => {
    getsockopt = f;
  },
);

/** `send(2)`. */
export let send: NativeFn = lazy("long send(int fd, uint8_t *buf, unsigned long len, int flags)", (f) => {
  send = f;
});

/** `recv(2)`. */
export let recv: NativeFn = lazy(
  "long recv(int fd, _Out_ uint8_t *buf, unsigned long len, int flags)",
  (f) => {
    recv = f;
  },
);

/** `fcntl(2)` with an int argument. */
export let fcntl: NativeFn = lazy("int fcntl(int fd, int cmd, int arg)", (f) => {
  fcntl = f;
});

/** System call numbers of perf_event_open(2) by architecture. */
const SYS_PERF_EVENT_OPEN: Partial<Record<NodeJS.Architecture, number>> = {
  x64: 298,
  arm64: 241,
  riscv64: 241,
  ia32: 336,
  arm: 364,
};

/** The perf_event_open(2) system call number on this architecture, or undefined where we do not know it. */
export const SYS_perf_event_open = SYS_PERF_EVENT_OPEN[process.arch];

/** `long syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags)`. */
export let syscallPerfEventOpen: NativeFn = lazy(
  "long syscall(long nr, uint8_t *attr, long pid, long cpu, long group_fd, unsigned long flags)",
  (f) => {
    syscallPerfEventOpen = f;
  },
);

/** `ioctl(2)` with an integer argument. */
export let ioctl: NativeFn = lazy("int ioctl(int fd, unsigned long request, long arg)", (f) => {
  ioctl = f;
});

/** `mmap(2)`; returns the address as a number, or -1 (MAP_FAILED) with errno set. */
export let mmap: NativeFn = lazy(
  "intptr_t mmap(intptr_t addr, unsigned long length, int prot, int flags, int fd, long offset)",
  (f) => {
    mmap = f;
  },
);

/** `munmap(2)`. */
export let munmap: NativeFn = lazy("int munmap(intptr_t addr, unsigned long length)", (f) => {
  munmap = f;
});

/** `if_nametoindex(3)`: 0 when there is no such interface. */
export let ifNameToIndex: NativeFn = lazy("unsigned int if_nametoindex(const char *name)", (f) => {
  ifNameToIndex = f;
});

/** `getrlimit(2)`; `limits` receives the soft and the hard limit. */
export let getrlimit: NativeFn = lazy("int getrlimit(int resource, _Out_ uint64_t *limits)", (f) => {
  getrlimit = f;
});
// Stryker restore BlockStatement

let page = 0;
/** `sysconf(_SC_PAGESIZE)`, asked once. */
export function pageSize(): number {
  // Stryker disable next-line ConditionalExpression: asking sysconf again gives the same size: only slower
  if (page === 0) page = Number(bind("long sysconf(int name)")(30));
  return page;
}

/**
 * A view of `length` bytes of native memory at `address` (an mmap'd region, say), without a copy.
 * The caller keeps the mapping alive as long as the view is used.
 */
export function viewOf(address: number, length: number): ArrayBuffer {
  return koffi().view(address, length);
}

/** errno of the last native call on this thread, read straight after the call. */
export function errno(): number {
  return koffi().errno();
}

/** The address of a Buffer's first byte (stable: Node never moves an ArrayBuffer's backing store). */
export function addressOf(buf: ArrayBufferView): bigint {
  return koffi().address(buf);
}
