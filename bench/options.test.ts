import { describe, expect, it } from 'vitest';
import { FULL, nearestSize, OptionError, parseOptions, QUICK, SCENARIOS } from './options.ts';

describe('bench options', () => {
  it('runs every scenario at the issue sizes by default', () => {
    const options = parseOptions([]);
    expect(options.sizes).toEqual(FULL.sizes);
    expect(options.only).toEqual(Object.keys(SCENARIOS));
    expect(options.idleMs).toBe(10 * 60_000);
    expect(options.out).toBe('BENCHMARKS.md');
  });

  it('takes the small sizes and the short idle window in quick mode', () => {
    const options = parseOptions(['--quick']);
    expect(options.sizes).toEqual(QUICK.sizes);
    expect(options.idleMs).toBe(QUICK.idleMs);
    expect(options.quick).toBe(true);
  });

  it('lets explicit flags override quick mode', () => {
    const options = parseOptions(['--quick', '--sizes=50,5', '--idle=30s', '--repeat=3']);
    expect(options.sizes).toEqual([5, 50]);
    expect(options.idleMs).toBe(30_000);
    expect(options.repeat).toBe(3);
  });

  it('accepts scenarios by name or by the letter of the issue table', () => {
    expect(parseOptions(['--only=a,idle,g']).only).toEqual(['apply', 'idle', 'aws']);
  });

  it('ignores the -- npm puts before forwarded arguments', () => {
    expect(parseOptions(['--', '--sizes=7']).sizes).toEqual([7]);
  });

  it.each([
    [['--only=z'], /unknown scenario "z"/],
    [['--sizes=10,x'], /--sizes: expected a positive whole number/],
    [['--repeat=0'], /--repeat/],
    [['--idle=soon'], /--idle: expected a duration/],
    [['--colour'], /unknown option --colour/],
    [['stray'], /unexpected argument "stray"/],
  ])('refuses %j naming the option', (argv, message) => {
    expect(() => parseOptions(argv)).toThrow(OptionError);
    expect(() => parseOptions(argv)).toThrow(message);
  });

  it('idles on the size asked for, or the nearest measured one', () => {
    expect(nearestSize([1000, 5000], 1000)).toBe(1000);
    expect(nearestSize([20], 1000)).toBe(20);
    expect(nearestSize([500, 2000], 1000)).toBe(500);
  });
});
