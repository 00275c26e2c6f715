// Provisioning through the reconciler (condition Provisioned) and drift: a non-compliant spec is
// never applied, and one drift is recorded once.

import { describe, expect, it } from 'vitest';
import { UnavailableError, withCompletedChanges } from '../../providers/types.ts';
import { FakeVaultPort } from '../../providers/vault/testing/fake-port.ts';
import {
  HARNESS_DRIFT_MS,
  HARNESS_NAMESPACE,
  readSecrets,
  ScriptedVaultHarness,
  VaultServersHarness,
  vaultScope,
} from './testing/harness.ts';

const NS = HARNESS_NAMESPACE;
const DRIFT_MS = HARNESS_DRIFT_MS;

describe('drift correction', () => {
  it('drift correction never applies a spec the operator itself judged non-compliant', async () => {
    const h = new ScriptedVaultHarness(false);
    h.violation = (identity) =>
      JSON.stringify(identity.spec.scopes).includes('"secrets"')
        ? ['spec.scopes[0].rules[0].resources: secrets are forbidden in production']
        : [];
    await h.settle();
    expect(h.port.peek('Role', NS, 'nhi-bot')?.rules?.[0]?.resources).toEqual(['configmaps']);

    // Admission was bypassed: the spec now asks for a forbidden grant.
    h.identity.spec.scopes = [{ provider: 'kubernetes', rules: [readSecrets] }];
    h.identity.metadata.generation = 2;
    h.later(DRIFT_MS + 1000);
    await h.reconcile();
    expect(h.condition('PolicyCompliant')?.status).toBe('False');
    // Nothing is provisioned while the policy is violated, not even by a drift correction.
    expect(h.port.peek('Role', NS, 'nhi-bot')?.rules?.[0]?.resources).toEqual(['configmaps']);
  });
});

describe('drift records', () => {
  it('one drift found by the drift check is recorded once, not twice', async () => {
    const vault = new FakeVaultPort();
    const h = new VaultServersHarness({ vault }, { scopes: [vaultScope()] });
    await h.settle();
    const key = `kubernetes/${h.names().base}`;
    const role = vault.roles.get(key);
    expect(role).toBeDefined();
    // Someone widens the role's token TTL behind the operator's back.
    vault.roles.set(key, { ...(role as object), tokenTtlSeconds: 86_400 } as never);
    h.later(DRIFT_MS + 1000);
    const before = h.audit.records.length;
    await h.reconcile();
    const drift = h.audit.records.slice(before).filter((r) => r.action === 'drift-corrected');
    expect(drift.length).toBeGreaterThan(0);
    // The steady provision records the restore; correctDrift must not record the same drift again.
    expect(drift).toHaveLength(1);
    expect(h.events.filter((e) => e.reason === 'DriftCorrected')).toHaveLength(1);
  });
});

describe('nothing provisioned goes unrecorded', () => {
  it('a write that landed before a later one failed is recorded, with the intent and the failure', async () => {
    const h = new ScriptedVaultHarness(true);
    h.vault.provisionError = withCompletedChanges(new UnavailableError('vault: policy write refused'), [
      { action: 'create-role', resource: 'role/bot', reason: 'not present' },
    ]);
    await h.settle();
    const vault = h.audit.records.filter((r) => r.resource.startsWith('vault/'));
    expect(vault.slice(0, 3)).toEqual([
      expect.objectContaining({
        action: 'provisioned',
        outcome: 'intent',
        resource: 'vault/vault:identity/agents/bot',
      }),
      expect.objectContaining({
        action: 'provisioned',
        outcome: 'success',
        resource: 'vault/vault:role/bot',
        detail: 'create-role: not present (before a later write failed)',
      }),
      expect.objectContaining({
        action: 'provisioned',
        outcome: 'failure',
        resource: 'vault/vault:identity/agents/bot',
        detail: 'ProviderUnavailable: vault: policy write refused',
      }),
    ]);
  });
});

describe('provision records after an interrupted reconcile', () => {
  it('records every backend provisioned even when the process died between the writes and their records', async () => {
    const vault = new FakeVaultPort();
    const h = new VaultServersHarness({ vault }, { scopes: [vaultScope()] });
    // The first reconcile records the intent (status.providers) and goes on to provision; the process
    // dies right after the backends were written, before any 'provisioned' record.
    const record = h.audit.record.bind(h.audit);
    let killed = false;
    h.audit.record = async (entry) => {
      if (!killed && entry.action === 'provisioned' && entry.outcome !== 'intent') {
        killed = true;
        throw new Error('SIGKILL');
      }
      return record(entry);
    };
    await h.reconcile().catch(() => undefined);
    expect(vault.roles.size).toBe(1);
    expect(h.audit.records.filter((r) => r.action === 'provisioned' && r.outcome !== 'intent')).toHaveLength(
      0,
    );

    h.later(600_000);
    await h.settle();
    const provisioned = h.audit.records.filter((r) => r.action === 'provisioned' && r.outcome === 'success');
    for (const backend of ['vault', 'kubernetes'])
      expect(provisioned.some((r) => r.resource.startsWith(backend))).toBe(true);
    // Once status records the backends, a steady reconcile writes no further record.
    const count = h.audit.records.length;
    await h.reconcile();
    expect(h.audit.records.length).toBe(count);
  });
});

describe('round trips of a new identity', () => {
  it('one with Kubernetes credentials only is provisioned by its first reconcile, with one status write', async () => {
    const h = new ScriptedVaultHarness(false);
    await h.reconcile();
    expect(h.condition('Provisioned')?.status).toBe('True');
    expect(h.store.statusWrites).toBe(1);
    expect(h.identity.status?.providers).toEqual(['kubernetes']);
  });

  it('a cached version this process has already written over is not acted on: the reconcile waits for the watch', async () => {
    const h = new ScriptedVaultHarness(false);
    h.store.isStale = () => true;
    const outcome = await h.reconcile();
    expect(outcome?.requeueAfterMs).toBeLessThanOrEqual(1000);
    expect(h.store.statusWrites).toBe(0);
    expect(h.port.peek('ServiceAccount', HARNESS_NAMESPACE, 'bot')).toBeUndefined();
    h.store.isStale = () => false;
    await h.reconcile();
    expect(h.condition('Provisioned')?.status).toBe('True');
  });

  it('one with a Vault scope records the intent, then provisions in the same reconcile', async () => {
    const vault = new FakeVaultPort();
    const h = new VaultServersHarness({ vault }, { scopes: [vaultScope()] });
    await h.reconcile();
    expect(h.store.statusWrites).toBe(2);
    expect(vault.roles.size).toBe(1);
    expect(h.condition('Provisioned')?.status).toBe('True');
  });
});
