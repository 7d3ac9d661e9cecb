/** Linux errno numbers, their names, and what they usually mean for bpf(). */

const NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  5: "EIO",
  7: "E2BIG",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  17: "EEXIST",
  19: "ENODEV",
  20: "ENOTDIR",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  28: "ENOSPC",
  34: "ERANGE",
  38: "ENOSYS",
  40: "ELOOP",
  61: "ENODATA",
  75: "EOVERFLOW",
  88: "ENOTSOCK",
  92: "ENOPROTOOPT",
  95: "EOPNOTSUPP",
  97: "EAFNOSUPPORT",
  524: "ENOTSUPP",
};

/** errno constants used in code. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOSPC: 28,
  ENOTSUPP: 524,
  EOPNOTSUPP: 95,
} as const;

/** The symbolic name of an errno value (`EINVAL`), or `E<number>` when unknown. */
export function errnoName(errno: number): string {
  return NAMES[errno] ?? `E${errno}`;
}

const HINTS: Record<string, string> = {
  EPERM:
    "the kernel refused for lack of privilege: run as root, or grant the missing capability (CAP_BPF, plus CAP_PERFMON, CAP_NET_ADMIN or CAP_SYS_ADMIN by program type); with every capability, a security policy refused (kernel lockdown, an LSM)",
  EACCES: "the verifier or a permission check refused the request",
  EINVAL:
    "the kernel found an argument it does not accept (a size, a flag, a type, or a field this kernel does not know)",
  E2BIG:
    "something is larger than the kernel allows, or an attribute carries non-zero bytes this kernel does not understand",
  ENOSPC: "no room: the verifier log buffer was too small, or the map is full",
  ENOENT: "no such element, object or path",
  EEXIST: "the element or object already exists (BPF_NOEXIST was asked)",
  EBADF: "a descriptor is not open or not of the expected kind",
  EFAULT: "the kernel could not read or write a buffer we passed",
  ENOMEM: "the kernel could not allocate memory (check RLIMIT_MEMLOCK on old kernels, or the map size)",
  EBUSY: "the object is busy (frozen map with a writable mapping, or already attached)",
  ENOTSUPP: "this kernel or this map/program type does not support the operation",
  EOPNOTSUPP: "this kernel or this map/program type does not support the operation",
  ENOTSOCK: "the descriptor is not a socket",
  ENOPROTOOPT: "the socket option is not supported on this socket",
  EMFILE:
    "this process ran out of file descriptors (its limit is `ulimit -n`): close objects you no longer need (close() or `using`), or raise the limit",
  ENFILE: "the system ran out of file descriptors (its limit is /proc/sys/fs/file-max)",
};

/** A plain-words hint for an errno, for a person reading the error at 2 a.m. */
export function errnoHint(errno: number): string {
  return HINTS[errnoName(errno)] ?? "the kernel refused the request";
}
