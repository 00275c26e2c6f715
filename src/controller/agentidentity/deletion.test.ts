// What deleting an AgentIdentity does to its credentials: revoke (the default), keep them
// (deletionPolicy Retain; the AgentIdentity CRD being deleted: the operator steps aside), and the bound
// on offboarding in a namespace being deleted when revocation keeps failing.

import { describe, expect, it } from 'vitest';
import { Marks, ObjectMarks } from '../../api/v1alpha1/annotations.ts';
import { TerminatingNamespaceOffboarding } from '../../api/v1alpha1/defaults.ts';
import { HARNESS_NAMESPACE, ScriptedVaultHarness } from './testing/harness.ts';

const NS = HARNESS_NAMESPACE;

async function provisioned(options: { retain?: boolean } = {}) {
  const h = new ScriptedVaultHarness(true);
  if (options.retain) h.identity.spec.deletionPolicy = 'Retain';
  await h.settle();
  expect(h.condition('Ready')?.status).toBe('True');
  return h;
}

function deleteIdentity(h: ScriptedVaultHarness) {
  h.identity.metadata.deletionTimestamp = h.now.toISOString();
}

const serviceAccount = (h: ScriptedVaultHarness) => h.port.peek('ServiceAccount', NS, 'bot');
const finalizers = (h: ScriptedVaultHarness) => h.identity.metadata.finalizers ?? [];

describe('deleting an AgentIdentity', () => {
  it('revokes everywhere by default (deletionPolicy Delete) and releases the finalizer', async () => {
    const h = await provisioned();
    deleteIdentity(h);
    await h.reconcile();
    expect(h.vault.calls).toContain('revoke');
    expect(serviceAccount(h)).toBeUndefined();
    expect(finalizers(h)).toEqual([]);
    expect(h.audit.records.map((r) => r.action)).toContain('offboarded');
  });

  it.each([
    ['revoked', {}],
    ['retained', { retain: true }],
  ])(
    'offboards once (%s): a stale cache still showing the finalizer records nothing more',
    async (_, options) => {
      const h = await provisioned(options);
      deleteIdentity(h);
      await h.reconcile();
      expect(finalizers(h)).toEqual([]);
      const records = h.audit.records.length;
      const events = h.events.length;
      // The informer has not delivered the deletion yet: the cache shows the object as it was.
      h.identity.metadata.finalizers = [Marks.finalizer];
      await h.reconcile();
      expect(h.audit.records.length).toBe(records);
      expect(h.events.length).toBe(events);
    },
  );

  it('with deletionPolicy Retain keeps every credential, marks them retained, and says so', async () => {
    const h = await provisioned({ retain: true });
    const before = serviceAccount(h)?.metadata?.uid;
    deleteIdentity(h);
    await h.reconcile();
    expect(h.vault.calls).not.toContain('revoke');
    expect(serviceAccount(h)?.metadata?.uid).toBe(before);
    expect(serviceAccount(h)?.metadata?.annotations?.[ObjectMarks.retained]).toMatch(
      /^spec\.deletionPolicy Retain at /,
    );
    expect(h.roleBinding()).toBeDefined();
    expect(finalizers(h)).toEqual([]);
    const record = h.audit.records.find((r) => r.action === 'retained');
    expect(record).toMatchObject({ outcome: 'success', origin: 'finalizer: deletionPolicy Retain' });
    expect(record?.detail).toContain('kubernetes');
    expect(record?.detail).toContain('vault/vault');
    expect(h.audit.records.map((r) => r.action)).not.toContain('offboarded');
    expect(h.events.map((e) => e.reason)).toContain('CredentialsRetained');
  });

  it('steps aside when the AgentIdentity CRD is being deleted: nothing revoked, a warning Event and audit record', async () => {
    const h = await provisioned();
    deleteIdentity(h);
    h.apiBeingRemoved = true;
    await h.reconcile();
    expect(h.vault.calls).not.toContain('revoke');
    expect(serviceAccount(h)).toBeDefined();
    expect(h.roleBinding()).toBeDefined();
    expect(serviceAccount(h)?.metadata?.annotations?.[ObjectMarks.retained]).toMatch(
      /^the AgentIdentity CRD is being deleted at /,
    );
    expect(finalizers(h)).toEqual([]);
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'SteppedAside' }));
    expect(h.audit.records.find((r) => r.action === 'retained')).toMatchObject({
      severity: 'warning',
      origin: 'finalizer: CustomResourceDefinition deleted',
    });
  });

  it('reports a retention once while releasing the finalizer is refused and retried', async () => {
    const h = await provisioned();
    deleteIdentity(h);
    h.apiBeingRemoved = true;
    const release = h.store.removeFinalizer.bind(h.store);
    let refusals = 2;
    h.store.removeFinalizer = async (identity, finalizer) => {
      if (refusals-- > 0) throw new Error('denied: no params found for policy binding');
      await release(identity, finalizer);
    };
    for (let i = 0; i < 2; i++) await expect(h.reconcile()).rejects.toThrow(/no params found/);
    await h.reconcile();
    expect(finalizers(h)).toEqual([]);
    expect(h.audit.records.filter((r) => r.action === 'retained')).toHaveLength(1);
    expect(h.events.filter((e) => e.reason === 'SteppedAside')).toHaveLength(1);
    expect(h.vault.calls).not.toContain('revoke');
  });

  it('revokes nothing and keeps the finalizer while it cannot tell whether the CRD is being deleted', async () => {
    const h = await provisioned();
    deleteIdentity(h);
    h.apiBeingRemoved = new Error('customresourcedefinitions is forbidden');
    await expect(h.reconcile()).rejects.toThrow(/forbidden/);
    expect(h.vault.calls).not.toContain('revoke');
    expect(serviceAccount(h)).toBeDefined();
    expect(finalizers(h)).toContain(Marks.finalizer);
  });
});

describe('offboarding in a namespace being deleted', () => {
  it('retries at a bounded interval, then releases the finalizer with a high-severity record and a metric', async () => {
    const h = await provisioned();
    h.vault.failRevoke = true;
    h.namespaceDeletedAt = h.now;
    deleteIdentity(h);
    const { releaseAfterMs, retryEveryMs } = TerminatingNamespaceOffboarding;
    let attempts = 0;
    let outcome = await h.reconcile();
    for (; finalizers(h).length > 0 && attempts < 1000; attempts++) {
      expect(outcome?.requeueAfterMs).toBeLessThanOrEqual(retryEveryMs);
      h.later(outcome?.requeueAfterMs ?? 0);
      outcome = await h.reconcile();
    }
    expect(finalizers(h)).toEqual([]);
    // Every attempt but the last came before the bound; the namespace waited at most one retry more.
    expect(attempts).toBeLessThanOrEqual(Math.ceil(releaseAfterMs / retryEveryMs));
    expect(h.metrics.reported).toContain('offboardingReleased vault/vault');
    const released = h.audit.records.filter((r) => r.action === 'released');
    expect(released).toEqual([
      expect.objectContaining({
        severity: 'high',
        outcome: 'failure',
        resource: expect.stringMatching(/^vault\/vault:/),
      }),
    ]);
    expect(released[0]?.detail).toMatch(/NOT revoked/);
    // What could be revoked was: the Kubernetes backend went.
    expect(serviceAccount(h)).toBeUndefined();
  });

  it('an identity deleted on its own (namespace not terminating) keeps retrying, never released', async () => {
    const h = await provisioned();
    h.vault.failRevoke = true;
    deleteIdentity(h);
    for (let i = 0; i < 5; i++) {
      await expect(h.reconcile()).rejects.toThrow(/revoke failed/);
      h.later(TerminatingNamespaceOffboarding.releaseAfterMs);
    }
    expect(finalizers(h)).toContain(Marks.finalizer);
    expect(h.audit.records.map((r) => r.action)).not.toContain('released');
  });
});
