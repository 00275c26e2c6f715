import type { EventsV1Event, KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { fakeVaultToken } from '../../test/support/fake-credentials.ts';
import { EventRecorder, type EventSink } from './events.ts';
import { FakeClock } from './testing/fake-clock.ts';

const bot: KubernetesObject = {
  apiVersion: 'nhi.dev/v1alpha1',
  kind: 'AgentIdentity',
  metadata: { name: 'bot', namespace: 'team', uid: 'u-1', resourceVersion: '9' },
};

function setup(options: { failWith?: unknown } = {}) {
  const clock = new FakeClock();
  const created: Array<{ namespace: string; event: EventsV1Event }> = [];
  const patched: Array<{ namespace: string; name: string; patch: object }> = [];
  const sink: EventSink = {
    create: async (namespace, event) => {
      if (options.failWith) throw options.failWith;
      created.push({ namespace, event: JSON.parse(JSON.stringify(event)) });
      return event;
    },
    patch: async (namespace, name, patch) => {
      patched.push({ namespace, name, patch: JSON.parse(JSON.stringify(patch)) });
    },
  };
  const recorder = new EventRecorder({
    sink,
    clock,
    controller: 'nhi.dev/nhi-operator',
    instance: 'pod-1_ab',
  });
  return { clock, created, patched, recorder };
}

describe('EventRecorder', () => {
  it('creates an events.k8s.io/v1 Event about the object, with microsecond eventTime', async () => {
    const { created, recorder } = setup();
    await recorder.record(bot, 'Warning', 'PolicyViolation', 'ttl exceeds the production limit');
    expect(created).toHaveLength(1);
    const { namespace, event } = created[0]!;
    expect(namespace).toBe('team');
    expect(event).toMatchObject({
      reason: 'PolicyViolation',
      action: 'PolicyViolation',
      type: 'Warning',
      note: 'ttl exceeds the production limit',
      reportingController: 'nhi.dev/nhi-operator',
      reportingInstance: 'pod-1_ab',
      regarding: { kind: 'AgentIdentity', name: 'bot', namespace: 'team', uid: 'u-1' },
    });
    expect(event.metadata?.name).toMatch(/^bot\.[0-9a-f]+$/);
    expect(event.eventTime as unknown as string).toMatch(/\.\d{6}Z$/);
  });

  it('aggregates repeats into a series, patched at most every 30s', async () => {
    const { clock, created, patched, recorder } = setup();
    for (let i = 0; i < 10; i++) {
      await recorder.record(bot, 'Warning', 'ProviderError', 'AWS throttled');
      await clock.advance(10_000);
    }
    expect(created).toHaveLength(1);
    expect(patched.map((p) => (p.patch as { series: { count: number } }).series.count)).toEqual([4, 7, 10]);
    expect(patched[0]!.name).toBe(created[0]!.event.metadata?.name);
  });

  it('starts a new event when the note differs or the repeat comes after the series window', async () => {
    const { clock, created, recorder } = setup();
    await recorder.record(bot, 'Normal', 'Rotated', 'version 1');
    await recorder.record(bot, 'Normal', 'Rotated', 'version 2');
    await clock.advance(7 * 60_000);
    await recorder.record(bot, 'Normal', 'Rotated', 'version 2');
    expect(created).toHaveLength(3);
  });

  it('masks secrets in notes and truncates long ones', async () => {
    const { created, recorder } = setup();
    await recorder.record(bot, 'Warning', 'LoginFailed', `vault rejected ${fakeVaultToken()}`);
    await recorder.record(bot, 'Warning', 'Huge', 'x'.repeat(5000));
    expect(created[0]!.event.note).not.toContain('CAESIJ3x9Q2');
    expect(Buffer.byteLength(created[1]!.event.note!)).toBeLessThanOrEqual(1000);
  });

  it('never throws when the apiserver refuses', async () => {
    const { recorder } = setup({ failWith: new Error('forbidden') });
    await expect(recorder.record(bot, 'Normal', 'X', 'y')).resolves.toBeUndefined();
  });
});
