import { describe, expect, it } from 'vitest';
import { anomalyLimits } from '../../api/v1alpha1/defaults.ts';
import type { ActivityBaseline } from '../../api/v1alpha1/types.ts';
import { type AnomalyInput, actionOf, detectAnomalies } from './anomalies.ts';
import type { Use } from './rightsize.ts';

const now = new Date('2026-12-01T12:00:00Z');
const at = (msAgo: number) => new Date(now.getTime() - msAgo).toISOString();
const limits = anomalyLimits({ baselinePeriod: '1h', denialBurst: 3, denialBurstWindow: '1m' });
const use = (verb: string, resource: string, lastSeen = at(1000)): Use => ({
  backend: 'kubernetes',
  verb,
  resource,
  apiGroup: '',
  lastSeen,
});
const learnt: ActivityBaseline = {
  since: at(2 * 3_600_000),
  actions: ['kubernetes get configmaps'],
  sources: ['10.0.0.7'],
};

function input(change: Partial<AnomalyInput>): AnomalyInput {
  return { now, limits, uses: [], sources: new Map(), requests: [], denials: [], ...change };
}

describe('activity anomalies', () => {
  it('learn new actions and sources silently during the baseline period', () => {
    const result = detectAnomalies(
      input({
        uses: [use('get', 'configmaps'), use('list', 'secrets')],
        sources: new Map([['10.0.0.7', at(1)]]),
      }),
    );
    expect(result.found).toEqual([]);
    expect(result.baseline).toEqual({
      since: now.toISOString(),
      actions: ['kubernetes get configmaps', 'kubernetes list secrets'],
      sources: ['10.0.0.7'],
    });
  });

  it('report an action first seen after the baseline period, once', () => {
    const first = detectAnomalies(
      input({
        recorded: { baseline: learnt },
        uses: [use('get', 'configmaps'), use('list', 'secrets', at(5000))],
      }),
    );
    expect(first.found).toEqual([
      {
        kind: 'first-use',
        time: at(5000),
        message: `first use of kubernetes list secrets: never seen since the baseline began at ${learnt.since}`,
      },
    ]);
    const again = detectAnomalies(
      input({ recorded: first, uses: [use('get', 'configmaps'), use('list', 'secrets')] }),
    );
    expect(again.found).toEqual([]);
    expect(again.anomalies).toHaveLength(1);
  });

  it('find nothing in normal repeated use', () => {
    const result = detectAnomalies(
      input({
        recorded: { baseline: learnt },
        uses: [use('get', 'configmaps')],
        sources: new Map([['10.0.0.7', at(1)]]),
        requests: [at(3000), at(2000), at(1000)],
        denials: [at(50 * 60_000), at(30 * 60_000)],
      }),
    );
    expect(result.found).toEqual([]);
  });

  it('report a source address never seen', () => {
    const result = detectAnomalies(
      input({ recorded: { baseline: learnt }, sources: new Map([['10.9.9.9', at(1000)]]) }),
    );
    expect(result.found.map((a) => [a.kind, a.message.split(',')[0]])).toEqual([
      ['unexpected-source', 'request from 10.9.9.9'],
    ]);
  });

  it('report a burst of denials once, at the request that crossed the threshold', () => {
    const denials = [at(50_000), at(40_000), at(30_000), at(20_000), at(10_000)];
    const result = detectAnomalies(input({ denials }));
    expect(result.found).toEqual([
      { kind: 'denial-burst', time: at(30_000), message: '3 requests denied within 60s (threshold 3)' },
    ]);
    expect(detectAnomalies(input({ recorded: result, denials })).found).toEqual([]);
    const spread = [at(300_000), at(200_000), at(100_000)];
    expect(detectAnomalies(input({ denials: spread })).found).toEqual([]);
  });

  it('report requests made after the identity was quarantined, each new one once', () => {
    const quarantinedSince = at(60_000);
    const result = detectAnomalies(
      input({ requests: [at(120_000), at(30_000), at(10_000)], quarantinedSince }),
    );
    expect(result.found).toEqual([
      {
        kind: 'after-quarantine',
        time: at(10_000),
        message: `2 requests after the identity was quarantined at ${quarantinedSince}: its credentials are still being presented`,
      },
    ]);
    expect(
      detectAnomalies(input({ recorded: result, requests: [at(30_000), at(10_000)], quarantinedSince }))
        .found,
    ).toEqual([]);
  });

  it.each<[Use, string]>([
    [{ ...use('get', 'deployments/scale'), apiGroup: 'apps' }, 'kubernetes get apps/deployments/scale'],
    [
      { backend: 'vault', verb: 'read', resource: 'secret/data/a/b', lastSeen: '' },
      'vault read secret/data/a/b',
    ],
  ])('name the action of %o as %s', (u, action) => {
    expect(actionOf(u)).toBe(action);
  });
});
