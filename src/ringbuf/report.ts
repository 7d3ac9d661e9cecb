/** How the event readers report an error from their event-loop delivery. */

/**
 * Hands `error` to `onError`; without one (or when it throws), throws it from a task of its own,
 * where Node makes it an uncaught exception (as an unhandled 'error' event). Thrown back into
 * koffi's poll callback, an exception would be lost.
 */
export function reportListenerError(error: unknown, onError: ((error: unknown) => void) | undefined): void {
  try {
    if (onError === undefined) throw error;
    onError(error);
  } catch (unhandled) {
    setImmediate(() => {
      throw unhandled;
    });
  }
}
