// "Did you mean …?" for mistyped commands and options. No edit-distance library is a dependency, and
// Levenshtein alone scores a swapped pair ("trian") as two edits, so this is the small optimal-string-alignment
// (restricted Damerau–Levenshtein) distance: insert, delete, substitute, or swap two neighbours, each 1.

/** Edits turning `a` into `b`, a swap of two neighbouring characters counting as one. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = best;
    }
  }
  return rows[a.length]![b.length]!;
}

/**
 * The candidate `input` most likely meant: the closest within a third of its length (at least 1 edit, at
 * most 3), else the only candidate it is a prefix of (`--budget` → `--budget-tokens`); undefined when unsure.
 */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  const limit = Math.min(3, Math.max(1, Math.floor(input.length / 3)));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(input.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  if (best !== undefined && bestDistance <= limit) return best;
  const extending = candidates.filter((c) => input.length >= 2 && c.startsWith(input));
  return extending.length === 1 ? extending[0] : undefined;
}
