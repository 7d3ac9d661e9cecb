/**
 * The native edge: libc functions bound through koffi. Nothing outside src/sys imports this.
 *
 * Every pointer argument is declared as an integer address (`uintptr_t`) or a Buffer; Buffers
 * whose address is written into a bpf_attr must stay referenced until the call returns, which the
 * callers in src/sys guarantee by holding them in local variables across the call.
 */
import koffi from "koffi";

const libc = koffi.load("libc.so.6");

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

/** `long syscall(SYS_bpf, cmd, attr, size)` with attr passed as a Buffer (koffi passes its address). */
export const syscallBuf = libc.func(
  "long syscall(long nr, long cmd, _Inout_ uint8_t *attr, unsigned long size)",
);

/**
 * `long syscall(SYS_bpf, cmd, attr, size)` with attr as an address (a plain number: user-space
 * addresses are below 2^53). The hot paths use this: koffi marshals no Buffer per call.
 */
export const syscallAddr = libc.func("long syscall(long nr, long cmd, intptr_t attr, unsigned long size)");

/** `close(2)`. */
export const close = libc.func("int close(int fd)");

/** `socketpair(2)`; sv receives two ints. */
export const socketpair = libc.func("int socketpair(int domain, int type, int protocol, _Out_ int *sv)");

/** `setsockopt(2)` with an int option value. */
export const setsockopt = libc.func(
  "int setsockopt(int fd, int level, int name, uint8_t *value, unsigned int len)",
);

/** `send(2)`. */
export const send = libc.func("long send(int fd, uint8_t *buf, unsigned long len, int flags)");

/** `recv(2)`. */
export const recv = libc.func("long recv(int fd, _Out_ uint8_t *buf, unsigned long len, int flags)");

/** `fcntl(2)` with an int argument. */
export const fcntl = libc.func("int fcntl(int fd, int cmd, int arg)");

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
export const syscallPerfEventOpen = libc.func(
  "long syscall(long nr, uint8_t *attr, long pid, long cpu, long group_fd, unsigned long flags)",
);

/** `ioctl(2)` with an integer argument. */
export const ioctl = libc.func("int ioctl(int fd, unsigned long request, long arg)");

/** `mmap(2)`; returns the address as a number, or -1 (MAP_FAILED) with errno set. */
export const mmap = libc.func(
  "intptr_t mmap(intptr_t addr, unsigned long length, int prot, int flags, int fd, long offset)",
);

/** `munmap(2)`. */
export const munmap = libc.func("int munmap(intptr_t addr, unsigned long length)");

/** `if_nametoindex(3)`: 0 when there is no such interface. */
export const ifNameToIndex = libc.func("unsigned int if_nametoindex(const char *name)");

/** `getrlimit(2)`; `limits` receives the soft and the hard limit. */
export const getrlimit = libc.func("int getrlimit(int resource, _Out_ uint64_t *limits)");

/** `sysconf(_SC_PAGESIZE)`. */
export const pageSize = Number(libc.func("long sysconf(int name)")(30));

/**
 * A view of `length` bytes of native memory at `address` (an mmap'd region, say), without a copy.
 * The caller keeps the mapping alive as long as the view is used.
 */
export function viewOf(address: number, length: number): ArrayBuffer {
  return koffi.view(address, length);
}

/** errno of the last native call on this thread, read straight after the call. */
export function errno(): number {
  return koffi.errno();
}

/** The address of a Buffer's first byte (stable: Node never moves an ArrayBuffer's backing store). */
export function addressOf(buf: ArrayBufferView): bigint {
  return koffi.address(buf);
}
