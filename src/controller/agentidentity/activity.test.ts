// status.activity through the reconciler: taken from the ActivityPort once per drift interval,
// written by observe.ts, and rewritten only when the counts change.

import { describe, expect, it } from 'vitest';
import type { ActivityBackendSummary, ActivityStatus, AgentIdentity } from '../../api/v1alpha1/types.ts';
import { ProviderRegistry } from '../../providers/registry.ts';
import { HARNESS_DRIFT_MS, ReconcilerHarness } from './testing/harness.ts';

class WithActivity extends ReconcilerHarness {
  backends: ActivityBackendSummary[] = [];
  readonly asked: string[] = [];

  constructor() {
    super({
      scopes: [
        { provider: 'kubernetes', rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }] },
      ],
    });
    this.start({
      providers: new ProviderRegistry(this.kubernetes, () => []),
      workloads: {
        resolveKind: async () => ({ namespaced: true }),
        get: async () => undefined,
        podsUsingServiceAccount: async () => [],
        annotatePodTemplate: async () => false,
      },
      activity: {
        summaryFor: (identity: AgentIdentity, now: Date): ActivityStatus => {
          this.asked.push(identity.metadata.name);
          return { window: '24h', observedAt: now.toISOString(), backends: structuredClone(this.backends) };
        },
      },
    });
  }
}

const kubernetes = (requests: number, denials: number): ActivityBackendSummary => ({
  backend: 'kubernetes',
  requests,
  denials,
  errors: 0,
  lastUsed: '2026-01-01T00:30:00.000Z',
});

describe('status.activity', () => {
  it('records the counts once per drift interval and rewrites them only when they change', async () => {
    const h = new WithActivity();
    h.backends = [kubernetes(2, 1)];
    await h.settle();
    const first = h.identity.status?.activity;
    expect(first?.backends).toEqual([kubernetes(2, 1)]);
    const askedAfterSettle = h.asked.length;

    h.later(1000);
    await h.reconcile();
    expect(h.asked.length).toBe(askedAfterSettle);

    h.later(HARNESS_DRIFT_MS);
    await h.reconcile();
    expect(h.asked.length).toBe(askedAfterSettle + 1);
    expect(h.identity.status?.activity?.observedAt).toBe(first?.observedAt);

    h.backends = [kubernetes(5, 1)];
    h.later(HARNESS_DRIFT_MS);
    await h.reconcile();
    expect(h.identity.status?.activity?.backends).toEqual([kubernetes(5, 1)]);
    expect(h.identity.status?.activity?.observedAt).toBe(h.now.toISOString());
  });

  it('counts the last allowed request in the audit logs as real use for inactivity, never a future time', async () => {
    const h = new WithActivity();
    h.backends = [
      kubernetes(1, 0),
      { ...kubernetes(1, 0), backend: 'vault', lastUsed: '2027-01-01T00:00:00.000Z' },
    ];
    await h.settle();
    expect(h.identity.status?.lastUsed).toBe('2026-01-01T00:30:00.000Z');
  });

  it('is absent when the operator follows no audit log', async () => {
    class Without extends ReconcilerHarness {
      constructor() {
        super({});
        this.start({
          providers: new ProviderRegistry(this.kubernetes, () => []),
          workloads: {
            resolveKind: async () => ({ namespaced: true }),
            get: async () => undefined,
            podsUsingServiceAccount: async () => [],
            annotatePodTemplate: async () => false,
          },
        });
      }
    }
    const h = new Without();
    await h.settle();
    expect(h.identity.status).toBeDefined();
    expect(h.identity.status?.activity).toBeUndefined();
  });
});
