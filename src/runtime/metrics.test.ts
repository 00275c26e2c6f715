// The operator's own metrics: series that exist at 0 before anything happened (so rate() sees the
// first increment and no alert names an unknown metric), identity gauges computed from the cache at
// scrape time, and the provider kind as the only label of the reconciler's counters.

import { describe, expect, it } from 'vitest';
import { type IdentitySnapshot, RuntimeMetrics } from './metrics.ts';

const exposition = (metrics: RuntimeMetrics) => metrics.registry.metrics();

function identity(
  name: string,
  phase: string | undefined,
  ready?: { status: string; reason: string; lastTransitionTime: string },
): IdentitySnapshot {
  return {
    metadata: { namespace: 'agents', name, creationTimestamp: '2026-01-01T00:00:00Z' },
    status: {
      ...(phase && { phase }),
      conditions: [{ type: 'Provisioned', status: 'True' }, ...(ready ? [{ type: 'Ready', ...ready }] : [])],
    },
  };
}

describe('RuntimeMetrics', () => {
  it.each([
    'controller_runtime_reconcile_total{controller="agentidentity",result="error"} 0',
    'controller_runtime_reconcile_errors_total{controller="agentidentity"} 0',
    'controller_runtime_reconcile_time_seconds_count{controller="agentidentity"} 0',
    'workqueue_depth{name="agentidentity"} 0',
    'workqueue_retries_total{name="agentidentity"} 0',
    'workqueue_queue_duration_seconds_count{name="agentidentity"} 0',
    'nhi_watch_restarts_total{source="agentidentities",reason="stalled"} 0',
    'nhi_drift_corrections_total{provider="aws",result="restored"} 0',
    'nhi_drift_corrections_total{provider="vault",result="failed"} 0',
    'nhi_credentials_stranded_total{provider="kubernetes"} 0',
    'nhi_revocation_blocked_total{provider="vault"} 0',
    'nhi_offboarding_released_total{provider="aws"} 0',
  ])('exports %s before anything happened', async (line) => {
    const metrics = new RuntimeMetrics();
    metrics.registerController('agentidentity');
    metrics.queue('agentidentity');
    metrics.registerSource('agentidentities');
    expect((await exposition(metrics)).split('\n')).toContain(line);
  });

  it.each([
    [
      'driftCorrected',
      (m: RuntimeMetrics) => m.driftCorrected('vault/prod', 'restored'),
      'nhi_drift_corrections_total',
      { provider: 'vault', result: 'restored' },
    ],
    [
      'credentialsStranded',
      (m: RuntimeMetrics) => m.credentialsStranded('aws/gone'),
      'nhi_credentials_stranded_total',
      { provider: 'aws' },
    ],
    [
      'revocationBlocked',
      (m: RuntimeMetrics) => m.revocationBlocked('kubernetes'),
      'nhi_revocation_blocked_total',
      { provider: 'kubernetes' },
    ],
    [
      'offboardingReleased',
      (m: RuntimeMetrics) => m.offboardingReleased('vault/prod'),
      'nhi_offboarding_released_total',
      { provider: 'vault' },
    ],
  ] as const)(
    '%s counts under the provider kind, never the provider name',
    async (_fact, report, name, labels) => {
      const metrics = new RuntimeMetrics();
      report(metrics);
      expect(await metrics.value(name, labels)).toBe(1);
      expect(await exposition(metrics)).not.toMatch(/provider="[^"]*\//);
    },
  );

  it('counts the cached identities per phase and per condition status at each scrape', async () => {
    const metrics = new RuntimeMetrics();
    const cache = [
      identity('a', 'Active', {
        status: 'True',
        reason: 'Active',
        lastTransitionTime: '2026-01-01T00:01:00Z',
      }),
      identity('b', 'Active', {
        status: 'False',
        reason: 'Unbound',
        lastTransitionTime: '2026-01-01T00:02:00Z',
      }),
    ];
    metrics.observeIdentities(() => cache);
    expect(await metrics.value('nhi_agent_identities', { phase: 'Active' })).toBe(2);
    expect(
      await metrics.value('nhi_agent_identity_conditions', { condition: 'Ready', status: 'False' }),
    ).toBe(1);
    expect(
      await metrics.value('nhi_agent_identity_conditions', { condition: 'Provisioned', status: 'True' }),
    ).toBe(2);

    cache.pop(); // deleted: gone from the cache, gone from the gauges
    expect(
      await metrics.value('nhi_agent_identity_conditions', { condition: 'Ready', status: 'False' }),
    ).toBe(0);
  });

  it('exports when each identity that is not Ready stopped being Ready, with its phase and reason', async () => {
    const metrics = new RuntimeMetrics();
    metrics.observeIdentities(() => [
      identity('ready', 'Active', {
        status: 'True',
        reason: 'Active',
        lastTransitionTime: '2026-01-01T00:01:00Z',
      }),
      identity('stuck', 'Pending', {
        status: 'False',
        reason: 'Unavailable',
        lastTransitionTime: '2026-01-01T00:02:00Z',
      }),
      identity('new', undefined),
    ]);
    const lines = (await exposition(metrics))
      .split('\n')
      .filter((l) => l.startsWith('nhi_agent_identity_not_ready_since_timestamp_seconds{'));
    expect(lines).toEqual([
      'nhi_agent_identity_not_ready_since_timestamp_seconds{identity_namespace="agents",identity_name="stuck",phase="Pending",status="False",reason="Unavailable"} 1767225720',
      'nhi_agent_identity_not_ready_since_timestamp_seconds{identity_namespace="agents",identity_name="new",phase="Pending",status="Unknown",reason="NotReconciled"} 1767225600',
    ]);
  });
  it('counts identities per risk level and per risk factor, each factor once per identity', async () => {
    const metrics = new RuntimeMetrics();
    const withRisk = (level: string, ...factors: string[]) => ({
      metadata: { namespace: 'agents', name: level },
      status: { risk: { level, factors: factors.map((id) => ({ id })) } },
    });
    metrics.observeIdentities(() => [
      withRisk('High', 'likelihood.hard-coded-credentials', 'likelihood.hard-coded-credentials'),
      withRisk('Low'),
      withRisk('High', 'impact.production'),
      { metadata: { namespace: 'agents', name: 'unassessed' } },
    ]);
    expect(await metrics.value('nhi_agent_identities_by_risk_level', { level: 'High' })).toBe(2);
    expect(await metrics.value('nhi_agent_identities_by_risk_level', { level: 'Low' })).toBe(1);
    expect(
      await metrics.value('nhi_agent_identities_by_risk_factor', {
        factor: 'likelihood.hard-coded-credentials',
      }),
    ).toBe(1);
  });
  it('counts failed audit checkpoints, from zero', async () => {
    const metrics = new RuntimeMetrics();
    expect(await metrics.value('nhi_audit_checkpoint_failures_total')).toBe(0);
    metrics.auditCheckpointFailed();
    expect(await metrics.value('nhi_audit_checkpoint_failures_total')).toBe(1);
  });
});
