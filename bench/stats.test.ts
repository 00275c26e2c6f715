import { describe, expect, it } from 'vitest';
import { formatNumber, formatSummary, percentile, summarize } from './stats.ts';

describe('percentile (nearest rank)', () => {
  it.each([
    [50, 50],
    [99, 99],
    [100, 100],
    [1, 1],
    [0, 1],
  ])('p%d of 1..100 is %d', (p, expected) => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, p)).toBe(expected);
  });

  it('p99 of fewer than 100 values is the largest', () => {
    expect(percentile([3, 1, 2], 99)).toBe(3);
  });

  it('is NaN with no values', () => {
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('summarize', () => {
  it('gives min, median and max of an odd count', () => {
    expect(summarize([5, 1, 3])).toEqual({ n: 3, min: 1, median: 3, max: 5 });
  });

  it('takes the mean of the middle two for an even count', () => {
    expect(summarize([4, 1, 2, 3]).median).toBe(2.5);
  });

  it('reports nothing measured as n 0', () => {
    expect(summarize([]).n).toBe(0);
  });
});

describe('formatting', () => {
  it.each([
    [1234.5, '1,235'],
    [42.25, '42.3'],
    [1.234, '1.23'],
    [0.0123, '0.012'],
    [0, '0'],
    [Number.NaN, '—'],
  ])('formats %d as %s', (value, text) => {
    expect(formatNumber(value)).toBe(text);
  });

  it('writes min / median / max when runs differ, one value when they agree', () => {
    expect(formatSummary(summarize([1, 2, 3]), 's')).toBe('1 / 2 / 3 s');
    expect(formatSummary(summarize([2, 2]), 's')).toBe('2 s');
    expect(formatSummary(summarize([]), 's')).toBe('—');
  });
});
