// An identity never silently moves to another ClusterCredentialProvider: not when a second provider
// of its kind is added, not when its spec stops naming the provider its credentials are in; and a
// scope without providerRef is granted by the provider it resolves to only.

import { describe, expect, it } from 'vitest';
import type { SecretSpec } from '../../api/v1alpha1/types.ts';
import { FakeVaultPort } from '../../providers/vault/testing/fake-port.ts';
import { VaultServersHarness, vaultScope } from './testing/harness.ts';

const kvSecret = (providerRef?: string): SecretSpec => ({
  name: 'api-key',
  backend: 'vault-kv',
  ...(providerRef && { providerRef }),
  generator: { type: 'random', length: 32 },
  rotationInterval: '168h',
});

/** Two Vault servers behind the CCPs `vault` and `vault-b`; `onlyDefault` hides vault-b at first. */
function twoVaults(spec: ConstructorParameters<typeof VaultServersHarness>[1], onlyDefault = false) {
  const a = new FakeVaultPort();
  const b = new FakeVaultPort();
  const h = new VaultServersHarness({ vault: a, 'vault-b': b }, spec);
  // Two servers: vault-b's address differs, so moving between them is a move (backendOf differs).
  const all = h.configs.map((c) =>
    c.metadata.name === 'vault-b' && c.spec.vault
      ? { ...c, spec: { vault: { ...c.spec.vault, address: 'http://127.0.0.1:2' } } }
      : c,
  );
  h.configs = all;
  if (onlyDefault) h.configs = all.filter((c) => c.metadata.name === 'vault');
  const holds = (port: FakeVaultPort) => ({
    roles: port.roles.size,
    policies: port.policies.size,
    kv: [...port.kv.keys()].filter((k) => k.includes(h.names().kvFolder)).length,
  });
  return { a, b, h, addSecondProvider: () => (h.configs = all), holds };
}

describe('which provider an identity uses', () => {
  it('adding a second Vault provider moves nothing: the identity stays on the default, nothing is deleted', async () => {
    const { a, b, h, addSecondProvider, holds } = twoVaults(
      { scopes: [vaultScope()], secrets: [kvSecret()] },
      true,
    );
    await h.settle();
    expect(h.identity.status?.providers).toEqual(['kubernetes', 'vault/vault']);
    const before = holds(a);
    expect(before.roles).toBe(1);
    expect(before.kv).toBeGreaterThan(0);

    addSecondProvider();
    h.later(120_000);
    await h.settle();
    expect(h.identity.status?.providers).toEqual(['kubernetes', 'vault/vault']);
    expect(holds(a)).toEqual(before);
    expect(b.calls).toEqual([]);
    expect(h.audit.records.filter((r) => r.action === 'revoked')).toEqual([]);
  });

  it('a spec that stops naming the provider its credentials are in stays there until it names another', async () => {
    const { a, b, h, holds } = twoVaults({ scopes: [vaultScope('vault-b')] });
    await h.settle();
    const inB = holds(b);
    expect(inB.roles).toBe(1);

    h.changeSpec((spec) => {
      spec.scopes = [vaultScope()];
    });
    await h.settle();
    expect(h.condition('Provisioned')?.status).toBe('True');
    expect(h.identity.status?.providers).toEqual(['kubernetes', 'vault/vault-b']);
    expect(holds(b)).toEqual(inB);
    expect(a.roles.size).toBe(0);

    // Naming the default moves it: created there, revoked from vault-b.
    h.changeSpec((spec) => {
      spec.scopes = [vaultScope('vault')];
    });
    await h.settle();
    expect(h.identity.status?.providers).toEqual(['kubernetes', 'vault/vault']);
    expect(a.roles.size).toBe(1);
    expect(b.roles.size).toBe(0);
  });

  it('a scope without providerRef is granted by its own provider, not by every Vault the identity uses', async () => {
    const { a, b, h } = twoVaults({ scopes: [vaultScope()], secrets: [kvSecret('vault-b')] });
    await h.settle();
    expect(h.identity.status?.providers).toEqual(['kubernetes', 'vault/vault', 'vault/vault-b']);
    const policyOf = (port: typeof a) => [...port.policies.values()].join('\n');
    expect(policyOf(a)).toContain('secret/data/crm/*');
    // vault-b keeps the secret; the scope's grant is not written there too.
    expect(policyOf(b)).not.toContain('secret/data/crm/*');
  });

  it('credentials recorded in two providers the spec no longer names: provisioning stops and says so, nothing is deleted', async () => {
    const { a, b, h, holds } = twoVaults({ scopes: [vaultScope('vault')], secrets: [kvSecret('vault-b')] });
    await h.settle();
    const [inA, inB] = [holds(a), holds(b)];

    h.changeSpec((spec) => {
      spec.scopes = [vaultScope()];
      spec.secrets = [kvSecret()];
    });
    await h.settle();
    expect(h.condition('Provisioned')).toMatchObject({ status: 'False' });
    expect(h.condition('Provisioned')?.message).toMatch(
      /recorded in vault\/vault and vault\/vault-b; name the provider to use in providerRef/,
    );
    expect([holds(a), holds(b)]).toEqual([inA, inB]);
  });

  it('the provider its credentials are recorded in is deleted: provisioning stops and says so, nothing moves to the default', async () => {
    const { a, h } = twoVaults({ scopes: [vaultScope('vault-b')] });
    await h.settle();
    h.changeSpec((spec) => {
      spec.scopes = [vaultScope()];
    });
    await h.settle();

    h.configs = h.configs.filter((c) => c.metadata.name === 'vault'); // vault-b is deleted
    h.changeSpec((spec) => {
      spec.purpose = 'a spec change, so provisioning runs again';
    });
    for (let i = 0; i < 3; i++) {
      await h.reconcile();
      h.later(60_000);
    }
    expect(h.condition('Provisioned')?.status).toBe('False');
    expect(h.condition('Provisioned')?.message).toContain(
      'no ClusterCredentialProvider vault-b configures vault (named in providerRef, or recorded in status.providers',
    );
    expect(h.identity.status?.providers).toEqual(['kubernetes', 'vault/vault-b']);
    expect(a.calls).toEqual([]);
  });
});
