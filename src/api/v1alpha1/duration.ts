// Go-style durations ("90s", "15m", "2160h", "1h30m") as used in the spec, parsed to milliseconds.

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

// µ written as its escape: a bundle with one non-ASCII character is held by V8 as a two-byte string,
// twice the memory of its source (src/dev/bundle.ts).
const PART = /([0-9]+(?:\.[0-9]+)?)(ns|us|\u00b5s|ms|s|m|h)/gy;

/** Milliseconds of a Go duration string; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  PART.lastIndex = 0;
  let total = 0;
  let matched = 0;
  for (let match = PART.exec(text); match; match = PART.exec(text)) {
    total += Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? Number.NaN);
    matched = PART.lastIndex;
  }
  return matched === text.length && matched > 0 && Number.isFinite(total) ? total : undefined;
}

/** Like parseDuration, but throws a field-named error for an invalid value. */
export function durationMs(text: string, field: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`${field}: "${text}" is not a duration like 15m or 2160h`);
  return ms;
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
