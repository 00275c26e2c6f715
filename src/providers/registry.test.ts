// ProviderRegistry: its cache of built providers (a ClusterCredentialProvider deleted and created
// again under the same name, generation 1 again, must not be served by the provider built from the
// old object: the old address, account or auth), and which provider an identity's scopes resolve to.

import { describe, expect, it } from 'vitest';
import type { ClusterCredentialProvider } from '../api/v1alpha1/types.ts';
import { agentIdentity, withScopes } from '../testing/agent-identity.ts';
import { ProviderRegistry } from './registry.ts';
import type { CredentialProvider } from './types.ts';

function vaultConfig(uid: string, address: string, name = 'vault'): ClusterCredentialProvider {
  return {
    apiVersion: 'nhi.dev/v1alpha1',
    kind: 'ClusterCredentialProvider',
    metadata: { name, uid, generation: 1 },
    spec: { vault: { address, auth: { tokenFile: { path: '/var/run/vault/token' } } } },
  };
}

describe('ProviderRegistry', () => {
  it('a ClusterCredentialProvider re-created under the same name is served by a provider built from the new object', () => {
    let configs = [vaultConfig('uid-old', 'https://vault-staging.example:8200')];
    const builtFor: string[] = [];
    const registry = new ProviderRegistry({ kind: 'kubernetes' } as CredentialProvider, () => configs);
    registry.register('vault', (config) => {
      builtFor.push(config.spec.vault?.address ?? '');
      return { kind: 'vault', address: config.spec.vault?.address } as unknown as CredentialProvider;
    });
    registry.resolve('vault');

    // kubectl delete ccp vault && kubectl apply -f vault-production.yaml
    configs = [vaultConfig('uid-new', 'https://vault-production.example:8200')];
    const provider = registry.resolve('vault') as unknown as { address: string };
    expect(provider.address).toBe('https://vault-production.example:8200');
    expect(builtFor).toEqual(['https://vault-staging.example:8200', 'https://vault-production.example:8200']);
  });

  const unnamedVault = () =>
    agentIdentity(
      'bot',
      withScopes({ provider: 'vault', paths: [{ path: 'secret/data/x/*', capabilities: ['read'] }] }),
    );
  const keysFor = (registry: ProviderRegistry, identity = unnamedVault()) =>
    registry.forIdentity(identity).map((e) => e.key);
  const registryOver = (configs: () => ClusterCredentialProvider[]) =>
    new ProviderRegistry({ kind: 'kubernetes' } as CredentialProvider, configs).register(
      'vault',
      () => ({ kind: 'vault' }) as CredentialProvider,
    );

  it('a second ClusterCredentialProvider of a kind changes no resolution', () => {
    let configs = [vaultConfig('u1', 'https://a.example:8200')];
    const registry = registryOver(() => configs);
    expect(keysFor(registry)).toEqual(['kubernetes', 'vault/vault']);
    configs = [...configs, vaultConfig('u2', 'https://b.example:8200', 'team-b')];
    expect(keysFor(registry)).toEqual(['kubernetes', 'vault/vault']);
  });

  it('the only provider of a kind, named otherwise, is not a default: providerRef must name it', () => {
    const registry = registryOver(() => [vaultConfig('u1', 'https://a.example:8200', 'team-a')]);
    expect(() => keysFor(registry)).toThrow(
      'no ClusterCredentialProvider vault configures vault: scopes and secrets without providerRef use the provider named vault',
    );
  });

  it('an identity recorded in another provider resolves there, even once the default exists', () => {
    const registry = registryOver(() => [
      vaultConfig('u1', 'https://a.example:8200'),
      vaultConfig('u2', 'https://b.example:8200', 'team-a'),
    ]);
    const recorded = unnamedVault();
    recorded.status = { providers: ['kubernetes', 'vault/team-a'] };
    expect(keysFor(registry, recorded)).toEqual(['kubernetes', 'vault/team-a']);
  });
});
