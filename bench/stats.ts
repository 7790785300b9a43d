/** Summary statistics shared by the benchmarks (no imports: also transpiled for the GPU machine). */

/** Median; the mean of the two middle values for an even count; NaN for none. */
export function median(a: readonly number[]): number {
  if (!a.length) return NaN;
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Arithmetic mean (NaN for none). */
export function mean(a: readonly number[]): number {
  return a.reduce((x, y) => x + y, 0) / a.length;
}
