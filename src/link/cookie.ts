/** The BPF cookie of a link: a 64-bit value the program reads with bpf_get_attach_cookie. */
import { InputError } from "../sys/error.js";

/** Options of the tracing attaches. */
export interface CookieOptions {
  /** a 64-bit value the program reads with bpf_get_attach_cookie (default 0) */
  cookie?: bigint | number;
}

/** The cookie of `options` as a bigint, checked. */
export function cookieOf(options: CookieOptions | undefined): bigint {
  const c = options?.cookie ?? 0n;
  if (typeof c === "number" && Number.isInteger(c) && c >= 0) return BigInt(c);
  if (typeof c === "bigint" && c >= 0n && c <= 0xffffffffffffffffn) return c;
  throw new InputError(`a cookie must be an integer from 0 to 2^64-1, got ${String(c)}`);
}
