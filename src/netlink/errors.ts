/**
 * Typed errors of reading netlink messages. The netlink layer is pure and imports nothing of
 * rawbpf's but itself, so its errors have their own base with rawbpf's bad-input code.
 */

/** Bytes that are not a well-formed netlink message: a length past the end, a truncated header. */
export class NetlinkFormatError extends Error {
  /** stable, machine-readable: "EINPUT", as rawbpf's InputError */
  readonly code = "EINPUT";
  /** where in the bytes the problem is */
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} (at byte ${offset})`);
    this.name = new.target.name;
    this.offset = offset;
  }
}
