import { describe, expect, it } from 'vitest';
import { type FigureRow, renderReport, table, verdict } from './report.ts';
import { extrapolate } from './scenarios/memory.ts';
import { summarize } from './stats.ts';

const row = (values: number[], le?: number): FigureRow => ({
  scenario: 'x',
  figure: 'a figure',
  unit: 's',
  measured: summarize(values),
  target: le === undefined ? { text: '—' } : { text: `≤ ${le}`, met: (v) => v <= le },
});

describe('verdicts', () => {
  it.each([
    [[1, 2, 3], 5, 'met'],
    [[1, 2, 9], 5, 'met (median; not in every run)'],
    [[6, 7], 5, 'not met'],
  ])('%j against ≤ %d is %s', (values, le, expected) => {
    expect(verdict(row(values, le))).toBe(expected);
  });

  it('has none without a numeric target or a measurement', () => {
    expect(verdict(row([1]))).toBe('—');
    expect(verdict(row([], 5))).toBe('—');
  });
});

describe('BENCHMARKS.md', () => {
  it('escapes pipes inside table cells', () => {
    expect(table(['a'], [['x | y']])).toEqual(['| a |', '|---|', '| x \\| y |']);
  });

  it('states the machine, the figures with baseline and target, and the sections', () => {
    const page = renderReport({
      facts: {
        date: '2026-12-01 21:00 UTC',
        cpu: 'Test CPU',
        cores: 2,
        memoryGiB: 8,
        node: 'v24',
        components: ['etcd v3'],
        load: '1',
      },
      command: 'npm run bench -- --quick',
      durationMin: 3,
      rows: [{ ...row([1, 2, 3], 5), baselineText: 'plain 1 s' }],
      sections: [{ heading: 'details', lines: ['- one line'] }],
      shortened: '--quick',
    });
    expect(page).toContain('| CPU | 2 × Test CPU |');
    expect(page).toContain('| x | a figure | plain 1 s | 1 / 2 / 3 s | ≤ 5 | met |');
    expect(page).toContain('**Shortened run:** --quick');
    expect(page).toContain('## details\n\n- one line');
  });
});

describe('memory projection', () => {
  it('draws a straight line through the smallest and largest sizes', () => {
    expect(
      extrapolate(
        [
          [1000, 300],
          [5000, 500],
        ],
        10_000,
      ),
    ).toBe(750);
  });

  it('needs two sizes', () => {
    expect(extrapolate([[1000, 300]], 10_000)).toBeUndefined();
  });
});
