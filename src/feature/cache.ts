/** Per-process memory of probe results: each feature is asked of the kernel once. */

/** A cached outcome: the answer, or the error the probe threw (thrown again on each ask). */
type Outcome = { ok: boolean } | { error: unknown };

const results = new Map<string, Outcome>();

/** The cached answer for `key`, computing it with `probe` the first time (errors are cached too). */
export function cached(key: string, probe: () => boolean): boolean {
  let outcome = results.get(key);
  if (outcome === undefined) {
    try {
      outcome = { ok: probe() };
    } catch (error) {
      outcome = { error };
    }
    results.set(key, outcome);
  }
  if ("error" in outcome) throw outcome.error;
  return outcome.ok;
}

const values = new Map<string, unknown>();

/** A value made once per process by `make` (until {@link clearProbeCache}). */
export function memo<T>(key: string, make: () => T): T {
  if (values.has(key)) return values.get(key) as T;
  const value = make();
  values.set(key, value);
  return value;
}

/**
 * Forgets every cached probe result, so the next probe asks the kernel again (after loading a
 * kernel module, or changing capabilities).
 */
export function clearProbeCache(): void {
  results.clear();
  values.clear();
}
