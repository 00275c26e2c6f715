import { describe, expect, it, vi } from 'vitest';
import { collectInventory, gatherInventory } from './collect.ts';
import type {
  IamInventoryPort,
  InventorySources,
  KubernetesInventoryPort,
  VaultInventoryPort,
} from './types.ts';
import { InventorySourceError } from './types.ts';
import { vaultInventoryPort } from './vault-source.ts';

const ISSUER = 'https://127.0.0.1:6443';
const HOST = '127.0.0.1:6443';
const trust = (issuerHost: string, sub: string) => ({
  Statement: [
    {
      Effect: 'Allow',
      Principal: { Federated: `arn:aws:iam::1:oidc-provider/${issuerHost}` },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: { StringEquals: { [`${issuerHost}:sub`]: sub } },
    },
  ],
});

function kubernetes(overrides: Partial<KubernetesInventoryPort> = {}): KubernetesInventoryPort {
  return {
    listAgentIdentities: async () => [],
    listServiceAccounts: async () => [{ namespace: 'apps', name: 'web' }],
    listTokenSecrets: async () => [],
    listPods: async () => [],
    listWorkloads: async () => [],
    listConfigMaps: async () => [],
    serviceAccountIssuer: async () => ISSUER,
    providerIssuers: async () => [],
    ...overrides,
  };
}

function iam(): IamInventoryPort & { getRole: ReturnType<typeof vi.fn> } {
  return {
    listRoles: async () => [
      {
        name: 'ours',
        arn: 'arn:aws:iam::1:role/ours',
        path: '/',
        trustPolicy: trust(HOST, 'system:serviceaccount:apps:web'),
      },
      {
        name: 'theirs',
        arn: 'arn:aws:iam::1:role/theirs',
        path: '/',
        trustPolicy: trust('oidc.other/id/X', 'system:serviceaccount:apps:web'),
      },
      {
        name: 'ec2',
        arn: 'arn:aws:iam::1:role/ec2',
        path: '/',
        trustPolicy: {
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ],
        },
      },
    ],
    getRole: vi.fn(async () => ({ tags: { 'nhi.dev/owner': 'web-team' } })),
    listUsers: async () => [
      { name: 'ci', arn: 'arn:aws:iam::1:user/ci' },
      { name: 'human', arn: 'arn:aws:iam::1:user/human' },
    ],
    listAccessKeys: async (user) =>
      user === 'ci' ? [{ status: 'Active', createDate: '2025-01-01T00:00:00Z' }] : [],
    listUserTags: async () => ({}),
  };
}

describe('gatherInventory', () => {
  it('reads IAM details only for roles that trust the cluster issuer', async () => {
    const port = iam();
    const raw = await gatherInventory({
      kubernetes: kubernetes(),
      aws: { iam: port },
      now: () => new Date(0),
    });
    expect(raw.aws?.issuers).toEqual([ISSUER]);
    expect(raw.aws?.roles.map((r) => r.name)).toEqual(['ours']);
    expect(port.getRole).toHaveBeenCalledTimes(1);
    expect(raw.aws?.users.map((u) => u.name)).toEqual(['ci']);
  });

  it('adds the issuers of ClusterCredentialProviders, or takes them from the caller', async () => {
    const both = await gatherInventory({
      kubernetes: kubernetes({ providerIssuers: async () => ['https://oidc.other/id/X'] }),
      aws: { iam: iam() },
    });
    expect(both.aws?.roles.map((r) => r.name).sort()).toEqual(['ours', 'theirs']);
    const given = await gatherInventory({
      kubernetes: kubernetes(),
      aws: { iam: iam(), issuers: ['https://oidc.other/id/X'] },
    });
    expect(given.aws?.roles.map((r) => r.name)).toEqual(['theirs']);
  });

  it('refuses to guess when no issuer is known', async () => {
    const sources: InventorySources = {
      kubernetes: kubernetes({ serviceAccountIssuer: async () => undefined }),
      aws: { iam: iam() },
    };
    await expect(gatherInventory(sources)).rejects.toThrow(/no ServiceAccount issuer/);
  });

  it('fails when a source fails instead of reporting an empty inventory', async () => {
    const failing = kubernetes({
      listServiceAccounts: async () => {
        throw new InventorySourceError('kubernetes: list ServiceAccounts failed (HTTP 403)');
      },
    });
    await expect(collectInventory({ kubernetes: failing })).rejects.toThrow(/HTTP 403/);
  });

  it('joins Vault roles with the operator owner records', async () => {
    const vault: VaultInventoryPort = {
      listRoles: async () => ['a', 'b'],
      readRole: async (mount, name) => ({
        mount,
        name,
        boundServiceAccountNames: ['web'],
        boundServiceAccountNamespaces: ['apps'],
        policies: [],
      }),
      listOwnerRecords: async () => ({ a: { 'nhi.dev/owner': 'web-team' } }),
    };
    const items = await collectInventory({
      kubernetes: kubernetes(),
      vault: { port: vault, authMount: 'kubernetes', kvMount: 'secret' },
    });
    expect(items.filter((i) => i.type === 'VaultRole').map((i) => [i.name, i.owner ?? '-'])).toEqual([
      ['a', 'web-team'],
      ['b', '-'],
    ]);
  });
});

describe('vault source over fetch', () => {
  const TOKEN = 'hvs.not-a-real-token';

  function fakeFetch(routes: Record<string, { status: number; body?: unknown }>) {
    return vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
      expect(((init?.headers ?? {}) as Record<string, string>)['X-Vault-Token']).toBe(TOKEN);
      const path = String(url).replace('http://vault:8200', '');
      const route = routes[path] ?? { status: 404 };
      return new Response(route.body ? JSON.stringify(route.body) : null, { status: route.status });
    }) as unknown as typeof fetch;
  }

  it('lists and reads kubernetes-auth roles and owner records', async () => {
    const port = vaultInventoryPort({
      address: 'http://vault:8200/',
      token: TOKEN,
      fetch: fakeFetch({
        '/v1/auth/kubernetes/role?list=true': { status: 200, body: { data: { keys: ['app'] } } },
        '/v1/auth/kubernetes/role/app': {
          status: 200,
          body: {
            data: {
              bound_service_account_names: ['web'],
              bound_service_account_namespaces: ['apps'],
              token_policies: ['p'],
            },
          },
        },
        '/v1/secret/metadata/nhi/_owners/?list=true': {
          status: 200,
          body: { data: { keys: ['app', 'sub/'] } },
        },
        '/v1/secret/metadata/nhi/_owners/app': {
          status: 200,
          body: { data: { custom_metadata: { 'nhi.dev/owner': 't' } } },
        },
      }),
    });
    expect(await port.listRoles('kubernetes')).toEqual(['app']);
    expect(await port.readRole('kubernetes', 'app')).toEqual({
      mount: 'kubernetes',
      name: 'app',
      boundServiceAccountNames: ['web'],
      boundServiceAccountNamespaces: ['apps'],
      policies: ['p'],
    });
    expect(await port.listOwnerRecords('secret')).toEqual({ app: { 'nhi.dev/owner': 't' } });
  });

  it('reads 404 as absent and any other failure as an error that does not carry the token', async () => {
    const port = vaultInventoryPort({
      address: 'http://vault:8200',
      token: TOKEN,
      fetch: fakeFetch({
        '/v1/auth/locked/role?list=true': { status: 403, body: { errors: ['permission denied'] } },
      }),
    });
    expect(await port.listRoles('missing')).toEqual([]);
    expect(await port.readRole('missing', 'x')).toBeUndefined();
    const error = await port.listRoles('locked').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InventorySourceError);
    expect(String((error as Error).message)).toContain('HTTP 403');
    expect(String((error as Error).message)).not.toContain(TOKEN);
  });
});
