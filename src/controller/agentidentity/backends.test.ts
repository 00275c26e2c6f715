// Which backends hold an identity's credentials (status.providers): renamed providers, secrets on a
// second provider of a kind, offboarding blocked by a deleted provider, and the abandon annotation
// (honoured only for a backend whose provider is gone).

import { describe, expect, it } from 'vitest';
import { abandonValue, Controls } from '../../api/v1alpha1/annotations.ts';
import { FakeVaultPort } from '../../providers/vault/testing/fake-port.ts';
import { readConfigMaps, VaultServersHarness, vaultScope } from './testing/harness.ts';

describe('the backends an identity holds credentials in', () => {
  it('renaming the ClusterCredentialProvider of a Vault (same server, new name) deletes nothing still in use', async () => {
    const vault = new FakeVaultPort();
    const h = new VaultServersHarness(
      { 'vault-old': vault, 'vault-new': vault },
      {
        scopes: [{ provider: 'kubernetes', rules: [readConfigMaps] }, vaultScope('vault-old')],
        secrets: [
          {
            name: 'api-key',
            backend: 'vault-kv',
            providerRef: 'vault-old',
            generator: { type: 'random', length: 32 },
            rotationInterval: '168h',
          },
        ],
      },
    );
    await h.settle();
    const { base, kvFolder } = h.names();
    const kvSecret = `secret/${kvFolder}/api-key`;
    expect(vault.kv.has(kvSecret)).toBe(true);
    expect(vault.roles.has(`kubernetes/${base}`)).toBe(true);

    // The platform team copies the CCP under a new name and the owner points the identity at it.
    h.changeSpec((spec) => {
      spec.scopes = [{ provider: 'kubernetes', rules: [readConfigMaps] }, vaultScope('vault-new')];
      for (const s of spec.secrets ?? []) s.providerRef = 'vault-new';
    });
    await h.settle();
    expect(h.condition('Provisioned')?.status).toBe('True');
    expect(h.identity.status?.providers).not.toContain('vault/vault-old');
    // vault-new adopted everything; the old key names the same server, so nothing is revoked there.
    expect(vault.kv.has(kvSecret)).toBe(true);
    expect(vault.roles.has(`kubernetes/${base}`)).toBe(true);
  });

  it('a vault-kv secret on another ClusterCredentialProvider than the vault scope is recorded and revoked at offboarding', async () => {
    const a = new FakeVaultPort();
    const b = new FakeVaultPort();
    const h = new VaultServersHarness(
      { 'vault-a': a, 'vault-b': b },
      {
        scopes: [vaultScope('vault-a')],
        secrets: [
          {
            name: 'api-key',
            backend: 'vault-kv',
            providerRef: 'vault-b',
            generator: { type: 'random', length: 32 },
            rotationInterval: '168h',
          },
        ],
      },
    );
    await h.settle();
    const secretsInB = () => [...b.kv.keys()].filter((k) => k.includes(h.names().kvFolder));
    expect(secretsInB().length).toBeGreaterThan(0); // rotation wrote the value through vault-b

    h.identity.metadata.deletionTimestamp = h.now.toISOString();
    await h.settle();
    expect(h.identity.metadata.finalizers ?? []).toEqual([]);
    // vault-b holds a credential too, so offboarding revokes there as well.
    expect(secretsInB()).toEqual([]);
  });

  it('offboarding blocked by a deleted ClusterCredentialProvider says so in status or an Event', async () => {
    const a = new FakeVaultPort();
    const h = new VaultServersHarness({ 'vault-a': a }, { scopes: [vaultScope('vault-a')] });
    await h.settle();
    expect(h.identity.status?.providers).toContain('vault/vault-a');

    h.configs = []; // the CCP is deleted (or renamed)
    h.identity.metadata.deletionTimestamp = h.now.toISOString();
    for (let i = 0; i < 3; i++) {
      await h.reconcile().catch(() => {});
      h.later(60_000);
    }
    // The owner is told where offboarding is blocked, not just the operator log.
    const told =
      h.events.some((e) => e.type === 'Warning' && e.message.includes('vault/vault-a')) ||
      (h.identity.status?.conditions ?? []).some((c) => c.message.includes('vault/vault-a'));
    expect(told).toBe(true);
  });
});

describe('abandoning a backend (nhi.dev/abandon-backends)', () => {
  const abandon = (h: VaultServersHarness, keys: string[]) => {
    h.identity.metadata.annotations = { [Controls.abandonBackends]: abandonValue(keys, 'alice@example.com') };
  };
  const offboard = async (h: VaultServersHarness) => {
    h.identity.metadata.deletionTimestamp = h.now.toISOString();
    for (let i = 0; i < 3; i++) {
      await h.reconcile().catch(() => {});
      h.later(60_000);
    }
  };

  it('is ignored for a backend whose provider exists: its credentials are still revoked, and the owner is told', async () => {
    const vault = new FakeVaultPort();
    const h = new VaultServersHarness({ 'vault-a': vault }, { scopes: [vaultScope('vault-a')] });
    await h.settle();
    expect(vault.roles.size).toBe(1);

    abandon(h, ['vault/vault-a']);
    await offboard(h);
    expect(h.identity.metadata.finalizers ?? []).toEqual([]);
    expect(vault.roles.size).toBe(0);
    expect(h.audit.records.filter((r) => r.action === 'abandoned')).toEqual([]);
    expect(h.events).toContainEqual(
      expect.objectContaining({
        type: 'Warning',
        reason: 'AbandonIgnored',
        message: expect.stringContaining('vault/vault-a'),
      }),
    );
  });

  it('a live backend listed is still quarantined by a lock', async () => {
    const vault = new FakeVaultPort();
    const h = new VaultServersHarness({ 'vault-a': vault }, { scopes: [vaultScope('vault-a')] });
    await h.settle();
    h.identity.metadata.annotations = {
      [Controls.abandonBackends]: abandonValue(['vault/vault-a'], 'mallory'),
      [Controls.lock]: 'oncall at 10:00',
    };
    await h.settle();
    expect(h.condition('Quarantined')?.status).toBe('True');
    expect(h.audit.records).toContainEqual(
      expect.objectContaining({ action: 'quarantined', resource: expect.stringMatching(/^vault\/vault-a:/) }),
    );
  });

  it('is honoured for a backend whose provider is gone: offboarding finishes, with a high-severity audit record naming who asked', async () => {
    const vault = new FakeVaultPort();
    const h = new VaultServersHarness({ 'vault-a': vault }, { scopes: [vaultScope('vault-a')] });
    await h.settle();
    h.configs = []; // the ClusterCredentialProvider is deleted
    abandon(h, ['vault/vault-a']);
    await offboard(h);
    expect(h.identity.metadata.finalizers ?? []).toEqual([]);
    const records = h.audit.records.filter((r) => r.action === 'abandoned');
    expect(records).toEqual([
      expect.objectContaining({
        actor: 'alice@example.com',
        resource: 'vault/vault-a:identity/agents/bot',
        severity: 'high',
        outcome: 'success',
      }),
    ]);
    expect(records[0]?.origin).toContain(`${Controls.abandonBackends}=vault/vault-a by alice@example.com`);
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'BackendAbandoned' }));
  });

  it('drops a stranded backend from the record once abandoned, and records that once', async () => {
    const vault = new FakeVaultPort();
    const h = new VaultServersHarness({ 'vault-a': vault }, { scopes: [vaultScope('vault-a')] });
    await h.settle();
    h.configs = [];
    h.changeSpec((spec) => {
      spec.scopes = [];
    });
    await h.settle();
    expect(h.identity.status?.providers).toContain('vault/vault-a'); // stranded: nothing can revoke there
    abandon(h, ['vault/vault-a']);
    await h.settle();
    expect(h.identity.status?.providers).toEqual(['kubernetes']);
    expect(h.audit.records.filter((r) => r.action === 'abandoned')).toHaveLength(1);
  });
});
