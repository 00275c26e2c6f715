// Quarantine through the reconciler (condition Quarantined): the kill switch, a failing backend, and
// quarantine re-asserted at each drift interval.

import type * as k8s from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';
import { Marks } from '../../api/v1alpha1/annotations.ts';
import { HARNESS_DRIFT_MS, ScriptedVaultHarness } from './testing/harness.ts';

const DRIFT_MS = HARNESS_DRIFT_MS;

describe('the kill switch', () => {
  let h: ScriptedVaultHarness;
  beforeEach(async () => {
    h = new ScriptedVaultHarness(true);
    await h.settle();
    expect(h.condition('Ready')?.status).toBe('True');
    expect(h.roleBinding()).toBeDefined();
  });

  it('a lock is audited with the Kubernetes user who locked as its actor', async () => {
    h.lock();
    h.later(1000);
    await h.reconcile();
    expect(h.audit.records.filter((r) => r.action === 'locked')).toEqual([
      expect.objectContaining({
        actor: 'alice',
        severity: 'high',
        origin: expect.stringContaining('alice at 10:00'),
      }),
    ]);
    h.later(1000);
    await h.reconcile();
    expect(h.audit.records.filter((r) => r.action === 'locked')).toHaveLength(1);
  });

  it('a locked identity whose quarantine failed is not reported Ready=True', async () => {
    h.vault.failQuarantine = true;
    h.lock();
    h.later(1000);
    await h.reconcile();
    // The lock was not carried out (vault refused): the identity must not read as healthy.
    expect(h.condition('Ready')?.status).not.toBe('True');
  });

  it('one unreachable backend does not stop the other backends from being quarantined', async () => {
    h.vault.failQuarantine = true;
    h.lock();
    h.later(1000);
    await h.reconcile();
    // The kubernetes backend is quarantined even though vault refused.
    expect(h.roleBinding()).toBeUndefined();
  });

  it('the kill switch is not delayed by the backoff of an earlier, unrelated provisioning failure', async () => {
    h.vault.failProvision = true;
    for (let i = 0; i < 7; i++) {
      h.later(10 * 60_000);
      await h.reconcile();
    }
    expect(h.identity.status?.failedAttempts).toBe(7);
    h.vault.failProvision = false;
    h.lock();
    h.later(1000);
    h.vault.calls.length = 0;
    await h.reconcile();
    // Quarantine must not wait out the provisioning backoff (up to 5 minutes).
    expect(h.vault.calls).toContain('quarantine');
    expect(h.condition('Quarantined')?.status).toBe('True');
    expect(h.roleBinding()).toBeUndefined();
  });
});

describe('quarantine held', () => {
  it('a quarantined identity is still drift-checked: a RoleBinding put back is removed again', async () => {
    const h = new ScriptedVaultHarness(false);
    await h.settle();
    const binding = h.roleBinding();
    h.lock();
    h.later(1000);
    await h.reconcile();
    expect(h.condition('Quarantined')?.status).toBe('True');
    expect(h.roleBinding()).toBeUndefined();

    // Someone restores the binding (a backup restore, a GitOps re-sync of exported manifests).
    const { uid: _u, resourceVersion: _rv, ...metadata } = binding?.metadata ?? {};
    h.port.seed('RoleBinding', { ...(binding as k8s.V1RoleBinding), metadata });
    expect(h.roleBinding()?.metadata?.labels?.[Marks.identityUid]).toBe('uid-bot');
    for (let i = 0; i < 3; i++) {
      h.later(DRIFT_MS + 1000);
      await h.reconcile();
    }
    expect(h.roleBinding()).toBeUndefined();
  });
});

describe('unlocking while another quarantine reason holds', () => {
  it('starts the quarantine period, so an orphan locked and then unlocked is still revoked', async () => {
    const h = new ScriptedVaultHarness(false);
    await h.settle();
    h.lock();
    h.later(1000);
    await h.reconcile();
    expect(h.condition('Quarantined')?.reason).toBe('Locked');
    expect(h.identity.status?.quarantineUntil).toBeUndefined();

    h.workloadGone = true; // the workload goes while the identity is locked, past its grace period
    for (const step of [1000, 10 * 60_000]) {
      h.later(step);
      await h.reconcile();
    }
    h.identity.metadata.annotations = {}; // unlocked: the orphan reason remains
    h.later(1000);
    await h.reconcile();
    expect(h.condition('Quarantined')?.reason).toBe('Orphaned');
    expect(h.identity.status?.quarantineUntil).toBeDefined();

    for (const step of [25 * 3_600_000, 1000, 1000]) {
      h.later(step);
      await h.reconcile();
    }
    expect(h.condition('Revoked')?.status).toBe('True');
  });
});

describe('transition records and a crash right after the status write', () => {
  it.each([['locked', async (h: ScriptedVaultHarness) => h.lock()]] as const)(
    'the %s record is not lost when the process dies after writing status',
    async (action, cause) => {
      const h = new ScriptedVaultHarness(true);
      await h.settle();
      cause(h);
      h.later(10 * 60_000);
      // The process dies right after the status write lands, before anything after it runs.
      const write = h.store.writeStatus.bind(h.store);
      let killed = false;
      h.store.writeStatus = async (identity, status) => {
        const written = await write(identity, status);
        if (!killed && status.conditions?.some((c) => c.type === 'Quarantined' && c.status === 'True')) {
          killed = true;
          throw new Error('SIGKILL');
        }
        return written;
      };
      await h.reconcile().catch(() => undefined);
      expect(killed).toBe(true);
      h.later(1000);
      await h.settle();
      expect(h.audit.records.filter((r) => r.action === action).length).toBeGreaterThanOrEqual(1);
    },
  );
});

describe('what a quarantine announces', () => {
  it('a workload deleted with no grace period is one Warning Event naming its causes, and the orphan is still audited', async () => {
    const h = new ScriptedVaultHarness(false);
    h.identity.spec.orphanGracePeriod = '0s';
    await h.settle();
    h.events.length = 0;
    h.workloadGone = true;
    h.later(1000);
    await h.reconcile();
    expect(h.condition('Quarantined')?.status).toBe('True');
    expect(h.events.filter((e) => e.type === 'Warning').map((e) => e.reason)).toEqual(['Quarantined']);
    const [event] = h.events;
    expect(event?.message).toContain('Orphaned=True');
    expect(h.audit.records.some((r) => r.action === 'orphaned')).toBe(true);
    expect(h.audit.records.some((r) => r.action === 'quarantined' && r.outcome === 'success')).toBe(true);
  });
});
