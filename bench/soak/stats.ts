/** Pure helpers for the soak and the benchmarks: percentiles and summaries. No I/O. */

/**
 * The p-th percentile (0..100) of `values` by the nearest-rank method: the smallest value such
 * that at least p% of the values are ≤ it. `sorted` says the input is already ascending.
 * NaN for an empty list.
 */
export function percentile(values: readonly number[], p: number, sorted = false): number {
  if (values.length === 0) return Number.NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  const list = sorted ? values : [...values].sort((a, b) => a - b);
  if (p === 0) return list[0] as number;
  const rank = Math.ceil((p / 100) * list.length);
  return list[Math.min(list.length, Math.max(1, rank)) - 1] as number;
}

export interface Summary {
  count: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** count/min/p50/p90/p99/max/mean of a list (NaN fields when it is empty). */
export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  let total = 0;
  for (const v of sorted) total += v;
  const n = sorted.length;
  return {
    count: n,
    min: n ? (sorted[0] as number) : Number.NaN,
    p50: percentile(sorted, 50, true),
    p90: percentile(sorted, 90, true),
    p99: percentile(sorted, 99, true),
    max: n ? (sorted[n - 1] as number) : Number.NaN,
    mean: n ? total / n : Number.NaN,
  };
}

/**
 * Splits samples (time, value) into those within ±windowMs of any of the given moments and the
 * rest. `moments` need not be sorted. O((n + m) log m).
 */
export function splitByWindows(
  samples: ReadonlyArray<{ at: number; value: number }>,
  moments: readonly number[],
  windowMs: number,
): { near: number[]; rest: number[] } {
  const sortedMoments = [...moments].sort((a, b) => a - b);
  const near: number[] = [];
  const rest: number[] = [];
  for (const s of samples) {
    (nearAny(sortedMoments, s.at, windowMs) ? near : rest).push(s.value);
  }
  return { near, rest };
}

/** True when some moment m satisfies |m - at| ≤ windowMs (moments ascending). */
export function nearAny(sortedMoments: readonly number[], at: number, windowMs: number): boolean {
  // First moment ≥ at - windowMs, by binary search.
  let lo = 0;
  let hi = sortedMoments.length;
  const from = at - windowMs;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sortedMoments[mid] as number) < from) lo = mid + 1;
    else hi = mid;
  }
  return lo < sortedMoments.length && (sortedMoments[lo] as number) <= at + windowMs;
}

/** A number for a table cell: fixed decimals, '–' for NaN. */
export function fmt(value: number, decimals = 1): string {
  if (!Number.isFinite(value)) return '–';
  return value.toFixed(decimals);
}

/** Plain-text table with right-aligned columns after the first. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
