import { describe, expect, it } from 'vitest';
import type { AgentIdentity, Condition } from '../../api/v1alpha1/types.ts';
import type { LifecycleInput } from './decision.ts';
import { decideLifecycle, nextDeadline } from './lifecycle.ts';

const T0 = new Date('2026-01-01T00:00:00Z');
const minutes = (n: number) => new Date(T0.getTime() + n * 60_000);

function identity(
  overrides: Partial<AgentIdentity['spec']> = {},
  status: AgentIdentity['status'] = {},
): AgentIdentity {
  return {
    apiVersion: 'nhi.dev/v1alpha1',
    kind: 'AgentIdentity',
    metadata: {
      name: 'bot',
      namespace: 'agents',
      uid: 'u1',
      creationTimestamp: T0.toISOString(),
      generation: 1,
    },
    spec: {
      owner: { team: 'support' },
      purpose: 'answer support tickets',
      environment: 'development',
      workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'bot' },
      ttl: '24h',
      inactivityTimeout: '720h',
      orphanGracePeriod: '5m',
      quarantinePeriod: '10m',
      ...overrides,
    },
    status,
  };
}

const cond = (type: string, status: Condition['status'] = 'True'): Condition => ({
  type,
  status,
  reason: 'Test',
  message: '',
  lastTransitionTime: T0.toISOString(),
});

function input(overrides: Partial<LifecycleInput>): LifecycleInput {
  return {
    identity: identity(),
    now: minutes(1),
    workload: { kind: 'present', usesServiceAccount: true, boundPods: 1 },
    policyViolations: [],
    ...overrides,
  };
}

describe('decideLifecycle', () => {
  it.each<[string, Partial<LifecycleInput>, string, string?]>([
    ['a healthy identity is provisioned', {}, 'provision'],
    [
      'a deleted identity is offboarded',
      {
        identity: {
          ...identity(),
          metadata: { ...identity().metadata, deletionTimestamp: T0.toISOString() },
        },
      },
      'offboard',
    ],
    ['a policy violation holds', { policyViolations: ['spec.ttl: exceeds 720h'] }, 'hold', 'PolicyViolation'],
    [
      'an unresolvable workload kind holds',
      { workload: { kind: 'unresolvable', message: 'no kind Frobnicator in apps/v1' } },
      'hold',
      'WorkloadUnresolvable',
    ],
    [
      'a missing workload inside its grace period stays provisioned',
      { workload: { kind: 'missing' } },
      'provision',
    ],
    [
      'a workload missing past its grace period is quarantined',
      {
        identity: identity({}, { orphanedSince: minutes(0).toISOString() }),
        workload: { kind: 'missing' },
        now: minutes(6),
      },
      'quarantine',
      'Orphaned',
    ],
    [
      'quarantine past its period is revoked',
      {
        identity: identity(
          {},
          {
            orphanedSince: minutes(0).toISOString(),
            quarantineUntil: minutes(16).toISOString(),
            conditions: [cond('Quarantined')],
          },
        ),
        workload: { kind: 'missing' },
        now: minutes(17),
      },
      'revoke',
      'Orphaned',
    ],
    ['ttl elapsed expires', { now: minutes(24 * 60 + 1) }, 'quarantine', 'Expired'],
    ['a locked identity is quarantined', { identity: identity({ locked: true }) }, 'quarantine', 'Locked'],
    [
      'a locked identity is never revoked automatically',
      {
        identity: identity(
          { locked: true },
          { quarantineUntil: minutes(0).toISOString(), conditions: [cond('Quarantined')] },
        ),
      },
      'quarantine',
      'Locked',
    ],
    [
      'an attestation past its grace quarantines when the policy says quarantine',
      {
        attestation: { dueAt: minutes(0), overdueAt: minutes(1), rules: { action: 'quarantine' } },
        now: minutes(2),
      },
      'quarantine',
      'AttestationOverdue',
    ],
    [
      'an attestation past its grace only notifies when the policy says notify',
      {
        attestation: { dueAt: minutes(0), overdueAt: minutes(1), rules: { action: 'notify' } },
        now: minutes(2),
      },
      'provision',
    ],
    [
      'an attestation due but within its grace does not quarantine',
      {
        attestation: { dueAt: minutes(0), overdueAt: minutes(5), rules: { action: 'quarantine' } },
        now: minutes(2),
      },
      'provision',
    ],
    [
      'an overdue attestation is never revoked automatically',
      {
        identity: identity(
          {},
          { quarantineUntil: minutes(0).toISOString(), conditions: [cond('Quarantined')] },
        ),
        attestation: { dueAt: minutes(0), overdueAt: minutes(1), rules: { action: 'quarantine' } },
        now: minutes(2),
      },
      'quarantine',
      'AttestationOverdue',
    ],
    [
      'an unused identity expires',
      { identity: identity({ inactivityTimeout: '1h', ttl: '2160h' }), now: minutes(61) },
      'quarantine',
      'Inactive',
    ],
    [
      'recent use keeps an identity alive',
      {
        identity: identity({ inactivityTimeout: '1h', ttl: '2160h' }),
        now: minutes(61),
        lastUsed: minutes(30),
      },
      'provision',
    ],
    [
      'a revoked identity stays revoked',
      { identity: identity({}, { conditions: [cond('Revoked')] }) },
      'hold',
      'Revoked',
    ],
  ])('%s', (_title, overrides, action, reason) => {
    const { decision } = decideLifecycle(input(overrides));
    expect(decision.action).toBe(action);
    if (reason) expect(decision).toMatchObject({ reason });
  });

  it('restores when the workload comes back during quarantine', () => {
    const { decision, orphanedSince } = decideLifecycle(
      input({
        identity: identity(
          {},
          { orphanedSince: minutes(0).toISOString(), conditions: [cond('Quarantined')] },
        ),
      }),
    );
    expect(decision).toEqual({ action: 'provision', restore: true });
    expect(orphanedSince).toBeUndefined();
  });

  it('records when the workload was first seen missing', () => {
    const result = decideLifecycle(input({ workload: { kind: 'missing' }, now: minutes(2) }));
    expect(result.orphanedSince).toBe(minutes(2).toISOString());
    expect(result.deadlines.orphanedAt).toEqual(minutes(7));
  });

  it('picks the earliest future deadline', () => {
    expect(nextDeadline(minutes(5), minutes(3), minutes(9), undefined, minutes(7))).toEqual(minutes(7));
  });
});
