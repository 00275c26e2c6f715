// The benchmark harness (bench/, `npm run bench`) at a tiny size against the suite's environment: it
// builds a population through the real operator process, reads its memory, counts its requests through
// the counting proxy, and writes BENCHMARKS.md rows from what it measured. No figure is judged here
// (benchmarks never gate a build); only that every figure the scenarios promise is there.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BenchEnv, closeBenchEnv, openBenchEnv } from '../../../bench/cluster.ts';
import { parseOptions } from '../../../bench/options.ts';
import { renderReport } from '../../../bench/report.ts';
import { Results } from '../../../bench/results.ts';
import { figureRows, runRepetition } from '../../../bench/run.ts';
import { testEnv } from '../../support/env.ts';

let env: BenchEnv;

beforeAll(async () => {
  env = await openBenchEnv(testEnv().dir, () => {});
});

afterAll(async () => {
  await closeBenchEnv(env);
});

describe('npm run bench at size 3', () => {
  it('measures the apply, memory and quarantine scenarios and writes their rows', {
    timeout: 300_000,
  }, async () => {
    const options = parseOptions(['--quick', '--sizes=3', '--only=apply,memory,quarantine', '--deletions=2']);
    const results = new Results();
    await runRepetition({ env, options, results, progress: () => {} }, 1);

    expect(results.get('a.ratio.3')).toHaveLength(1);
    expect(results.get('f.rss.3')[0]).toBeGreaterThan(0);
    expect(results.get('d.p99.2')).toHaveLength(1);
    const seen = env.kubeProxy.calls.filter((c) => c.what === 'agentidentities/status' && c.write);
    expect(seen.length).toBeGreaterThanOrEqual(3);

    const rows = figureRows(results, options);
    expect(new Set(rows.map((r) => r.scenario))).toEqual(new Set(['a', 'd', 'f']));
    const page = renderReport({
      facts: {
        date: 'now',
        cpu: 'cpu',
        cores: 2,
        memoryGiB: 1,
        node: process.version,
        components: [],
        load: '0',
      },
      command: 'npm run bench -- --quick',
      durationMin: 0,
      rows,
      sections: [],
    });
    expect(page).toContain('3 identities applied at once');
  });
});
