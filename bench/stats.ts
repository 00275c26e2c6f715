// Summaries of measured values: percentiles within one run (nearest rank), and min/median/max over
// repeated runs. Pure.

export interface Summary {
  n: number;
  min: number;
  median: number;
  max: number;
}

/** Nearest-rank percentile (p in 0..100) of `values`; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { n: 0, min: Number.NaN, median: Number.NaN, max: Number.NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 === 1
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { n: sorted.length, min: sorted[0] as number, median, max: sorted.at(-1) as number };
}

/** A number for a table: at most three significant digits below 100, whole above. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  if (abs >= 100 || Number.isInteger(value)) return Math.round(value).toLocaleString('en-US');
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(2);
}

/** `min / median / max unit`, or one value when all runs agree or there was one run. */
export function formatSummary(summary: Summary, unit = ''): string {
  const u = unit ? ` ${unit}` : '';
  if (summary.n === 0) return '—';
  if (summary.n === 1 || summary.min === summary.max) return `${formatNumber(summary.median)}${u}`;
  return `${formatNumber(summary.min)} / ${formatNumber(summary.median)} / ${formatNumber(summary.max)}${u}`;
}
