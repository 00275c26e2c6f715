// status.activity through the reconciler: taken from the ActivityPort once per drift interval,
// written by observe.ts, and rewritten only when the counts change.

import { describe, expect, it } from 'vitest';
import { type AnomalyLimits, anomalyLimits } from '../../api/v1alpha1/defaults.ts';
import type {
  ActivityAnomaly,
  ActivityBackendSummary,
  ActivityStatus,
  AgentIdentity,
} from '../../api/v1alpha1/types.ts';
import { ProviderRegistry } from '../../providers/registry.ts';
import { HARNESS_DRIFT_MS, ReconcilerHarness } from './testing/harness.ts';

class WithActivity extends ReconcilerHarness {
  backends: ActivityBackendSummary[] = [];
  anomalies: ActivityAnomaly[] | undefined;
  readonly asked: string[] = [];
  readonly limits: Array<AnomalyLimits | undefined> = [];

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
        summaryFor: (identity: AgentIdentity, now: Date, limits?: AnomalyLimits): ActivityStatus => {
          this.asked.push(identity.metadata.name);
          this.limits.push(limits);
          return {
            window: '24h',
            observedAt: now.toISOString(),
            backends: structuredClone(this.backends),
            ...(this.anomalies ? { anomalies: structuredClone(this.anomalies) } : {}),
          };
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

  it("makes each new anomaly one Warning Event and one audit record, with the policy's thresholds", async () => {
    const h = new WithActivity();
    h.policy = {
      apiVersion: 'nhi.dev/v1alpha1',
      kind: 'IdentityPolicy',
      metadata: { name: 'default' },
      spec: { environments: { production: { anomalies: { denialBurst: 3, baselinePeriod: '1h' } } } },
    };
    const burst: ActivityAnomaly = {
      kind: 'denial-burst',
      time: '2026-01-01T00:40:00.000Z',
      message: '3 requests denied within 300s (threshold 3)',
    };
    h.anomalies = [burst];
    await h.settle();
    expect(h.limits.at(-1)).toEqual(anomalyLimits({ denialBurst: 3, baselinePeriod: '1h' }));
    expect(h.identity.status?.activity?.anomalies).toEqual([burst]);
    const reported = () => h.events.filter((e) => e.reason === 'DenialBurst');
    expect(reported()).toEqual([{ type: 'Warning', reason: 'DenialBurst', message: burst.message }]);
    expect(h.audit.records.filter((e) => e.action === 'anomaly')).toEqual([
      expect.objectContaining({
        resource: 'activity:denial-burst',
        severity: 'warning',
        detail: burst.message,
      }),
    ]);

    // Seen again at the next observations: already recorded, not reported again.
    h.later(HARNESS_DRIFT_MS);
    await h.reconcile();
    const first: ActivityAnomaly = {
      kind: 'first-use',
      time: '2026-01-01T01:50:00.000Z',
      message: 'first use of x',
    };
    h.anomalies = [burst, first];
    h.later(HARNESS_DRIFT_MS);
    await h.reconcile();
    expect(reported()).toHaveLength(1);
    expect(h.events.filter((e) => e.reason === 'FirstSeenAction')).toHaveLength(1);
    expect(h.audit.records.filter((e) => e.action === 'anomaly')).toHaveLength(2);
  });
});
