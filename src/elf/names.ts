/** "Did you mean" for the ELF layer, kept here so src/elf imports nothing but itself. */

/** Levenshtein distance between two strings. */
function distance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] as number;
      prev[j] = Math.min(up + 1, (prev[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] as number;
}

/**
 * The name in `names` nearest to `input` (one containing the other counts as near, else by edit
 * distance), or `undefined` when none is near enough to suggest.
 */
export function nearestName(input: string, names: Iterable<string>): string | undefined {
  const s = input.toLowerCase();
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const n of names) {
    const d = n.includes(s) || s.includes(n) ? Math.abs(n.length - s.length) * 0.5 : distance(s, n);
    if (d < bestD) {
      bestD = d;
      best = n;
    }
  }
  return bestD <= Math.max(3, s.length / 2) ? best : undefined;
}
