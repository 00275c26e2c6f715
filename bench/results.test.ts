import { describe, expect, it } from 'vitest';
import { mergeScenarios, Results } from './results.ts';

describe('merging saved runs', () => {
  it('takes each scenario whole from the last run that measured it', () => {
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
});
