import { describe, expect, it } from 'vitest';
import { OPERATOR_SCAN_MAX_VALUES } from '../../governance/secrets/detect.ts';
import { awsAccessKeyId } from '../../governance/secrets/testing/generated.ts';
import { Observer } from './gather.ts';
import type { ReconcilerDeps } from './ports.ts';

const quiet = { logger: { warn: () => {}, info: () => {}, debug: () => {}, error: () => {} } };
const observer = () => new Observer(quiet as unknown as ReconcilerDeps);

function workload(generation: number, env: Array<{ name: string; value: string }>) {
  const podSpec = { serviceAccountName: 'bot', containers: [{ name: 'agent', env }] };
  return {
    object: { kind: 'Deployment', metadata: { name: 'web', namespace: 'agents', uid: 'u1', generation } },
    podSpec,
  };
}

describe('the workload secret scan behind status.risk', () => {
  it('names the rule and the container field of a literal credential, never the value', async () => {
    const value = awsAccessKeyId();
    const w = workload(1, [{ name: 'AWS_ACCESS_KEY_ID', value }]);
    const found = await observer().scanner('agents/bot')(w.object, w.podSpec);
    expect(found?.map((s) => s.where)).toEqual(['container agent env[AWS_ACCESS_KEY_ID]']);
    expect(JSON.stringify(found)).not.toContain(value);
  });

  it('scans a pod template once per workload generation, again when the template changes', async () => {
    const o = observer();
    const scan = o.scanner('agents/bot');
    const first = workload(1, [{ name: 'AWS_ACCESS_KEY_ID', value: awsAccessKeyId() }]);
    const found = await scan(first.object, first.podSpec);
    expect(await scan(first.object, first.podSpec)).toBe(found);
    const cleaned = workload(2, [{ name: 'LOG_LEVEL', value: 'info' }]);
    expect(await scan(cleaned.object, cleaned.podSpec)).toEqual([]);
  });
});

describe('what a tenant can make the scan cost', () => {
  it('keeps no profiling marks behind (secretlint profiles every rule by default)', async () => {
    const w = workload(1, [{ name: 'AWS_ACCESS_KEY_ID', value: awsAccessKeyId() }]);
    await observer().scanner('agents/bot')(w.object, w.podSpec);
    expect(performance.getEntriesByType('mark')).toEqual([]);
  });

  it('scans at most OPERATOR_SCAN_MAX_VALUES values of one pod spec', async () => {
    const many = Array.from({ length: OPERATOR_SCAN_MAX_VALUES }, (_, i) => ({
      name: `V${i}`,
      value: 'info',
    }));
    const w = workload(1, [...many, { name: 'AWS_ACCESS_KEY_ID', value: awsAccessKeyId() }]);
    expect(await observer().scanner('agents/bot')(w.object, w.podSpec)).toEqual([]);
  });
});
