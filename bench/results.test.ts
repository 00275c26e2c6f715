import { describe, expect, it } from 'vitest';
import { mergeScenarios, Results } from './results.ts';

describe('merging saved runs', () => {
  it("takes each figure from the last run that measured its scenario, with that run's details", () => {
    const full = new Results();
    full.add('a.ratio.1000', 1.4);
    full.add('f.rss.1000', 500);
    full.note('(a) applied at once', 'full run');
    full.note('(f) memory', 'old');
    const memory = new Results();
    memory.add('a.operator.1000', 70); // recorded on the way, but (a) was not asked for
    memory.add('f.rss.1000', 230);
    memory.note('(f) memory', 'new');
    const merged = mergeScenarios([
      { results: full, letters: new Set(['a', 'f']) },
      { results: memory, letters: new Set(['f']) },
    ]).toJSON();
    expect(merged.values).toEqual({ 'a.ratio.1000': [1.4], 'f.rss.1000': [230] });
    expect(merged.details).toEqual({ '(a) applied at once': ['full run'], '(f) memory': ['new'] });
  });

  it("keeps the sizes only an earlier run measured, and both runs' details", () => {
    const first = new Results();
    first.add('f.rss.1000', 250);
    first.add('f.rss.5000', 340);
    first.note('(f) memory', '1,000 and 5,000');
    const second = new Results();
    second.add('f.rss.10000', 440);
    second.note('(f) memory', '10,000');
    const merged = mergeScenarios([
      { results: first, letters: new Set(['f']) },
      { results: second, letters: new Set(['f']) },
    ]).toJSON();
    expect(merged.values).toEqual({ 'f.rss.1000': [250], 'f.rss.5000': [340], 'f.rss.10000': [440] });
    expect(merged.details).toEqual({ '(f) memory': ['1,000 and 5,000', '10,000'] });
  });
});
