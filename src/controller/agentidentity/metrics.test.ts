// What the reconciler reports through its metrics port (IdentityMetrics): drift restored or still
// differing, credentials stranded in a backend whose provider is gone, revocation blocked. Each fact
// is reported by the step that establishes it, once per backend and pass; a quiet reconcile reports
// nothing.

import { describe, expect, it } from 'vitest';
import { FakeVaultPort } from '../../providers/vault/testing/fake-port.ts';
import {
  HARNESS_DRIFT_MS,
  ScriptedVaultHarness,
  VaultServersHarness,
  vaultScope,
} from './testing/harness.ts';

describe('the reconciler metrics', () => {
  it('report nothing for a steady identity', async () => {
    const h = new VaultServersHarness({ vault: new FakeVaultPort() }, { scopes: [vaultScope()] });
    await h.settle();
    h.later(HARNESS_DRIFT_MS + 1000);
    await h.reconcile();
    expect(h.metrics.reported).toEqual([]);
  });

  it('count a drift the steady provision restored once, under the backend that drifted', async () => {
    const vault = new FakeVaultPort();
    const h = new VaultServersHarness({ vault }, { scopes: [vaultScope()] });
    await h.settle();
    const key = `kubernetes/${h.names().base}`;
    vault.roles.set(key, { ...(vault.roles.get(key) as object), tokenTtlSeconds: 86_400 } as never);
    h.later(HARNESS_DRIFT_MS + 1000);
    await h.reconcile();
    expect(h.metrics.reported).toEqual(['driftCorrected vault/vault restored']);
  });

  it('count a drift the provider could not restore as failed', async () => {
    const h = new ScriptedVaultHarness(true);
    await h.settle();
    h.vault.drift = [{ resource: 'role', field: 'token_ttl', detail: 'widened' }];
    h.later(HARNESS_DRIFT_MS + 1000);
    await h.reconcile();
    expect(h.metrics.reported).toEqual(['driftCorrected vault/vault failed']);
  });

  it('count credentials stranded on every provisioning pass while their provider is gone', async () => {
    const h = new VaultServersHarness(
      { 'vault-a': new FakeVaultPort() },
      { scopes: [vaultScope('vault-a')] },
    );
    await h.settle();
    h.configs = [];
    h.changeSpec((spec) => {
      spec.scopes = [];
    });
    await h.reconcile();
    await h.reconcile();
    expect(h.metrics.reported).toEqual([
      'credentialsStranded vault/vault-a',
      'credentialsStranded vault/vault-a',
    ]);
  });

  it('count a blocked revocation for each failed attempt, under the backend that refused', async () => {
    const h = new VaultServersHarness(
      { 'vault-a': new FakeVaultPort() },
      { scopes: [vaultScope('vault-a')] },
    );
    await h.settle();
    h.configs = []; // offboarding cannot revoke in vault-a any more
    h.identity.metadata.deletionTimestamp = h.now.toISOString();
    for (let i = 0; i < 2; i++) {
      await expect(h.reconcile()).rejects.toThrow(/vault\/vault-a/);
      h.later(60_000);
    }
    expect(h.metrics.reported).toEqual([
      'revocationBlocked vault/vault-a',
      'revocationBlocked vault/vault-a',
    ]);
  });
});
