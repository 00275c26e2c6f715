// ProviderRegistry's cache of built providers: a ClusterCredentialProvider deleted and created again
// under the same name (generation 1 again) must not be served by the provider built from the old
// object (the old address, account or auth).

import { describe, expect, it } from 'vitest';
import type { ClusterCredentialProvider } from '../api/v1alpha1/types.ts';
import { ProviderRegistry } from './registry.ts';
import type { CredentialProvider } from './types.ts';

function vaultConfig(uid: string, address: string): ClusterCredentialProvider {
  return {
    apiVersion: 'nhi.dev/v1alpha1',
    kind: 'ClusterCredentialProvider',
    metadata: { name: 'vault', uid, generation: 1 },
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
});
