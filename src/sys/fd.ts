/** The owner of one kernel descriptor. */
import { ClosedError } from "./error.js";
import * as libc from "./libc.js";

const registry = new FinalizationRegistry<number>((fd) => {
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
    libc.close(fd);
  }

  /** Gives up ownership without closing (the caller now owns the number). */
  release(): number {
    const fd = this.value;
    this.#fd = -1;
    registry.unregister(this);
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
