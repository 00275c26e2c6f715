import { describe, expect, it } from 'vitest';
import type { VaultProviderSpec } from '../../api/v1alpha1/types.ts';
import { FakeClock } from '../../runtime/testing/fake-clock.ts';
import { InvalidConfigError } from '../types.ts';
import { KubernetesLoginSource } from './auth.ts';
import { vaultProviderOptions } from './factory.ts';
import { createVaultProvider, VaultProvider } from './provider.ts';
import { FakeVaultPort } from './testing/fake-port.ts';

const base: VaultProviderSpec = {
  address: 'https://vault.example:8200',
  auth: { kubernetes: { role: 'nhi_operator' } },
};

describe('vaultProviderOptions', () => {
  it('fills the defaults', () => {
    expect(vaultProviderOptions(base)).toEqual({
      kvMount: 'secret',
      kubernetesAuthMount: 'kubernetes',
      audience: '',
      tokenMaxTtlSeconds: 3600,
    });
  });

  it('takes mounts, audience, max TTL and the provider name', () => {
    const spec = {
      ...base,
      kvMount: '/team-kv/',
      kubernetesAuthMount: 'k8s/prod',
      audience: 'vault',
      tokenMaxTTL: '2h',
    };
    expect(vaultProviderOptions(spec, { name: 'corp-vault' })).toEqual({
      name: 'corp-vault',
      kvMount: 'team-kv',
      kubernetesAuthMount: 'k8s/prod',
      audience: 'vault',
      tokenMaxTtlSeconds: 7200,
    });
  });

  it.each([
    [{ address: 'not a url' }],
    [{ address: 'ftp://vault' }],
    [{ tokenMaxTTL: 'soon' }],
    [{ kvMount: 'a b' }],
    [{ audience: 'two words' }],
  ])('refuses %o', (override) => {
    expect(() => vaultProviderOptions({ ...base, ...override })).toThrow(InvalidConfigError);
  });
});

describe('VaultProvider.fromSpec', () => {
  it.each([
    ['no auth', {}],
    ['two auth methods', { kubernetes: { role: 'r' }, tokenFile: { path: '/t' } }],
    ['a static token outside dev', { tokenSecretRef: { name: 's', namespace: 'n', key: 'k' } }],
  ])('refuses %s', (_, auth) => {
    expect(() => VaultProvider.fromSpec({ ...base, auth })).toThrow(InvalidConfigError);
  });

  it('accepts a static token in dev, and a port override', () => {
    const provider = VaultProvider.fromSpec(
      { ...base, auth: { tokenSecretRef: { name: 's', namespace: 'n', key: 'k' } } },
      { allowStaticToken: true, resolveSecretRef: async () => 'dev-root', port: new FakeVaultPort() },
    );
    expect(provider.kind).toBe('vault');
  });

  it('is what createVaultProvider builds from a ClusterCredentialProvider, named after it', () => {
    const provider = createVaultProvider({ metadata: { name: 'corp' }, spec: { vault: base } });
    expect(provider.options.name).toBe('corp');
    expect(() => createVaultProvider({ metadata: { name: 'aws-only' }, spec: {} })).toThrow(
      InvalidConfigError,
    );
  });
});

describe('KubernetesLoginSource', () => {
  it('logs in once, again at 80 % of the lease, and after an invalidation; reads the JWT each time', async () => {
    const clock = new FakeClock();
    let logins = 0;
    let reads = 0;
    const source = new KubernetesLoginSource(
      async (jwt) => ({ token: `t${++logins}:${jwt}`, leaseSeconds: 100 }),
      async () => `jwt${++reads}\n`,
      clock,
    );
    expect(await Promise.all([source.token(), source.token()])).toEqual(['t1:jwt1', 't1:jwt1']);
    await clock.advance(79_000);
    expect(await source.token()).toBe('t1:jwt1');
    await clock.advance(2_000);
    expect(await source.token()).toBe('t2:jwt2');
    expect(source.invalidate()).toBe(true);
    expect(await source.token()).toBe('t3:jwt3');
  });
});
