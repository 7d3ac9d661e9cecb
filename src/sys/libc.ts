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

/** errno of the last native call on this thread, read straight after the call. */
export function errno(): number {
  return koffi.errno();
}

/** The address of a Buffer's first byte (stable: Node never moves an ArrayBuffer's backing store). */
export function addressOf(buf: ArrayBufferView): bigint {
  return koffi.address(buf);
}
