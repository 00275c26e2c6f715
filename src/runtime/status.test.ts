import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { Condition } from '../api/v1alpha1/types.ts';
import { ConflictError } from './errors.ts';
import { RuntimeMetrics } from './metrics.ts';
import {
  type StatusWriter,
  setCondition,
  statusEqual,
  type WithStatus,
  writeStatusIfChanged,
} from './status.ts';

interface Status {
  phase?: string;
  conditions?: Condition[];
}

const t0 = new Date('2025-03-01T10:00:00.123Z');
const t1 = new Date('2025-03-01T11:30:00.000Z');

const ready = (status: Condition['status'], at = '2025-03-01T10:00:00Z', generation = 1): Condition => ({
  type: 'Ready',
  status,
  reason: status === 'True' ? 'Provisioned' : 'Pending',
  message: '',
  lastTransitionTime: at,
  observedGeneration: generation,
});

function recordingWriter() {
  const written: KubernetesObject[] = [];
  const write: StatusWriter = async (obj) => {
    written.push(obj);
    return obj;
  };
  return { written, write };
}

const object = (status?: Status): WithStatus<Status> => ({
  kind: 'AgentIdentity',
  metadata: { name: 'bot', namespace: 'team', resourceVersion: '7', generation: 2 },
  ...(status && { status }),
});

describe('setCondition', () => {
  it('adds a missing condition with the current time and generation', () => {
    const next = setCondition(
      undefined,
      { type: 'Ready', status: 'Unknown', reason: 'Pending', message: 'm' },
      3,
      t0,
    );
    expect(next).toEqual([
      {
        type: 'Ready',
        status: 'Unknown',
        reason: 'Pending',
        message: 'm',
        lastTransitionTime: '2025-03-01T10:00:00Z',
        observedGeneration: 3,
      },
    ]);
  });

  it('keeps lastTransitionTime when the status is unchanged, but updates reason, message and generation', () => {
    const [next] = setCondition(
      [ready('False')],
      { type: 'Ready', status: 'False', reason: 'Other', message: 'x' },
      5,
      t1,
    );
    expect(next).toMatchObject({
      lastTransitionTime: '2025-03-01T10:00:00Z',
      reason: 'Other',
      observedGeneration: 5,
    });
  });

  it('moves lastTransitionTime when the status changes, leaving other conditions in place', () => {
    const other: Condition = { ...ready('True'), type: 'PolicyCompliant' };
    const next = setCondition(
      [other, ready('False')],
      { type: 'Ready', status: 'True', reason: 'Ok', message: '' },
      1,
      t1,
    );
    expect(next.map((c) => c.type)).toEqual(['PolicyCompliant', 'Ready']);
    expect(next[1]!.lastTransitionTime).toBe('2025-03-01T11:30:00Z');
    expect(next[0]).toBe(other);
  });

  it('does not modify its input', () => {
    const input = [ready('False')];
    setCondition(input, { type: 'Ready', status: 'True', reason: 'Ok', message: '' }, 1, t1);
    expect(input).toEqual([ready('False')]);
  });
});

describe('statusEqual', () => {
  it.each([
    ['identical', { phase: 'Ready' }, { phase: 'Ready' }, true],
    [
      'only lastTransitionTime differs',
      { conditions: [ready('True')] },
      { conditions: [ready('True', 'x')] },
      true,
    ],
    ['an undefined field vs a missing one', { phase: undefined }, {}, true],
    ['a changed status', { conditions: [ready('True')] }, { conditions: [ready('False')] }, false],
    ['a changed generation', { conditions: [ready('True')] }, { conditions: [ready('True', 'a', 2)] }, false],
    ['an extra field', { phase: 'Ready' }, { phase: 'Ready', risk: 1 }, false],
    ['reordered conditions', { c: [1, 2] }, { c: [2, 1] }, false],
    ['missing vs empty', undefined, {}, false],
  ])('%s → %s', (_name, a, b, equal) => {
    expect(statusEqual(a, b)).toBe(equal);
  });
});

describe('writeStatusIfChanged', () => {
  it('writes through the writer when the status changed, with the resourceVersion that was read', async () => {
    const { written, write } = recordingWriter();
    const metrics = new RuntimeMetrics();
    const result = await writeStatusIfChanged(
      write,
      object({ phase: 'Pending' }),
      { phase: 'Ready' },
      { metrics },
    );
    expect(result?.status).toEqual({ phase: 'Ready' });
    expect(written).toHaveLength(1);
    expect(written[0]!.metadata?.resourceVersion).toBe('7');
    expect(await metrics.value('nhi_status_writes_total', { result: 'written' })).toBe(1);
  });

  it('writes nothing when only lastTransitionTime would change', async () => {
    const { written, write } = recordingWriter();
    const metrics = new RuntimeMetrics();
    const current = object({ conditions: [ready('True')] });
    const result = await writeStatusIfChanged(
      write,
      current,
      { conditions: [ready('True', 'later')] },
      { metrics },
    );
    expect(result).toBeUndefined();
    expect(written).toHaveLength(0);
    expect(await metrics.value('nhi_status_writes_total', { result: 'unchanged' })).toBe(1);
  });

  it('lets a conflict through as ConflictError and counts it', async () => {
    const metrics = new RuntimeMetrics();
    const write: StatusWriter = async () => {
      throw new ConflictError('stale');
    };
    await expect(
      writeStatusIfChanged(write, object(), { phase: 'Ready' }, { metrics }),
    ).rejects.toBeInstanceOf(ConflictError);
    expect(await metrics.value('nhi_status_writes_total', { result: 'conflict' })).toBe(1);
  });
});
