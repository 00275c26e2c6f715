// The ClusterCredentialProvider contract at the real apiserver: the fields that decide where
// credentials live (account, region, endpoint, role path and prefix, pod identity cluster, Vault
// address, namespace and mounts, and which backend at all) are refused on update with the field named
// and a pointer to creating a new provider; every other field, allowedNamespaces included, stays
// editable. The rules are CRD transition rules (x-kubernetes-validations on oldSelf).

import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterCredentialProviderSpec } from '../../../src/api/v1alpha1/types.ts';
import { applyObjects, readManifests } from '../../../src/dev/install.ts';
import { kubeConfig } from '../../support/env.ts';
import { eventually, uniqueName } from '../../support/wait.ts';

const kc = kubeConfig();
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const PROVIDERS = { group: 'nhi.dev', version: 'v1alpha1', plural: 'clustercredentialproviders' };
const created: string[] = [];

const irsa = {
  oidcProviderArn: 'arn:aws:iam::111122223333:oidc-provider/oidc.example/id/A',
  issuer: 'https://oidc.example/id/A',
};
const awsSpec = (extra: object = {}): ClusterCredentialProviderSpec => ({
  aws: {
    region: 'us-east-1',
    accountId: '111122223333',
    endpoint: 'http://127.0.0.1:5999',
    rolePath: '/team-a/',
    roleNamePrefix: 'nhi-',
    mode: 'irsa',
    irsa,
    ...extra,
  },
});
const podIdentitySpec = (): ClusterCredentialProviderSpec => ({
  aws: { region: 'us-east-1', mode: 'pod-identity', podIdentity: { clusterName: 'prod-1' } },
});
const vaultSpec = (extra: object = {}): ClusterCredentialProviderSpec => ({
  vault: {
    address: 'https://vault.example:8200',
    namespace: 'team-a',
    kubernetesAuthMount: 'kubernetes',
    kvMount: 'secret',
    auth: { tokenFile: { path: '/var/run/vault/token' } },
    ...extra,
  },
});
const bareVaultSpec = (): ClusterCredentialProviderSpec => ({
  vault: { address: 'https://vault.example:8200', auth: { tokenFile: { path: '/t' } } },
});

async function createProvider(spec: ClusterCredentialProviderSpec): Promise<string> {
  const name = uniqueName('ccp');
  await custom.createClusterCustomObject({
    ...PROVIDERS,
    body: { apiVersion: 'nhi.dev/v1alpha1', kind: 'ClusterCredentialProvider', metadata: { name }, spec },
  });
  created.push(name);
  return name;
}

/** A JSON merge patch of spec; the apiserver's refusal as code and message, or undefined when accepted. */
async function patchSpec(name: string, spec: object): Promise<{ code: number; message: string } | undefined> {
  try {
    await custom.patchClusterCustomObject(
      { ...PROVIDERS, name, body: { spec } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    return undefined;
  } catch (error) {
    if (!(error instanceof k8s.ApiException)) throw error;
    const status = JSON.parse(String(error.body)) as { message?: string };
    return { code: error.code, message: status.message ?? String(error.body) };
  }
}

beforeAll(async () => {
  // The CRDs only: these rules are the CRD's own, no admission policy takes part.
  const crds = readManifests('crds');
  await applyObjects(kc, crds);
  const extensions = kc.makeApiClient(k8s.ApiextensionsV1Api);
  for (const crd of crds) {
    await eventually(`CRD ${crd.metadata?.name} established`, async () => {
      const live = await extensions.readCustomResourceDefinition({ name: crd.metadata?.name ?? '' });
      return live.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    });
  }
});

afterAll(async () => {
  for (const name of created) await custom.deleteClusterCustomObject({ ...PROVIDERS, name }).catch(() => {});
});

describe('ClusterCredentialProvider fields that decide where credentials live', () => {
  it.each<[string, () => ClusterCredentialProviderSpec, object, string]>([
    ['aws.region', awsSpec, { aws: { region: 'eu-west-1' } }, 'spec.aws.region'],
    ['aws.accountId', awsSpec, { aws: { accountId: '444455556666' } }, 'spec.aws.accountId'],
    ['aws.accountId removed', awsSpec, { aws: { accountId: null } }, 'spec.aws.accountId'],
    ['aws.endpoint', awsSpec, { aws: { endpoint: 'http://127.0.0.1:6000' } }, 'spec.aws.endpoint'],
    ['aws.endpoint removed', awsSpec, { aws: { endpoint: null } }, 'spec.aws.endpoint'],
    [
      'aws.endpoint added',
      podIdentitySpec,
      { aws: { endpoint: 'http://127.0.0.1:6000' } },
      'spec.aws.endpoint',
    ],
    ['aws.rolePath', awsSpec, { aws: { rolePath: '/team-b/' } }, 'spec.aws.rolePath'],
    ['aws.rolePath removed (back to the default)', awsSpec, { aws: { rolePath: null } }, 'spec.aws.rolePath'],
    ['aws.roleNamePrefix', awsSpec, { aws: { roleNamePrefix: 'team-a-' } }, 'spec.aws.roleNamePrefix'],
    [
      'aws.mode',
      awsSpec,
      { aws: { mode: 'pod-identity', podIdentity: { clusterName: 'prod-1' } } },
      'spec.aws.mode',
    ],
    [
      'aws.podIdentity.clusterName',
      podIdentitySpec,
      { aws: { podIdentity: { clusterName: 'prod-2' } } },
      'spec.aws.podIdentity.clusterName',
    ],
    [
      'vault.address',
      vaultSpec,
      { vault: { address: 'https://vault-2.example:8200' } },
      'spec.vault.address',
    ],
    ['vault.namespace', vaultSpec, { vault: { namespace: 'team-b' } }, 'spec.vault.namespace'],
    ['vault.namespace removed', vaultSpec, { vault: { namespace: null } }, 'spec.vault.namespace'],
    ['vault.namespace added', bareVaultSpec, { vault: { namespace: 'team-a' } }, 'spec.vault.namespace'],
    [
      'vault.kubernetesAuthMount',
      vaultSpec,
      { vault: { kubernetesAuthMount: 'kubernetes-b' } },
      'spec.vault.kubernetesAuthMount',
    ],
    ['vault.kvMount', vaultSpec, { vault: { kvMount: 'kv-b' } }, 'spec.vault.kvMount'],
    [
      'the backend (aws to vault)',
      awsSpec,
      { aws: null, vault: { address: 'https://vault.example:8200', auth: { tokenFile: { path: '/t' } } } },
      'spec',
    ],
  ])('%s is refused, naming the field', async (_case, initial, change, field) => {
    const name = await createProvider(initial());
    const refusal = await patchSpec(name, change);
    expect(refusal?.code).toBe(422);
    expect(refusal?.message).toContain(`${field}:`);
    expect(refusal?.message).toMatch(/immutable|cannot be added or removed/);
    expect(refusal?.message).toMatch(/create a new ClusterCredentialProvider/i);
  });
});

describe('ClusterCredentialProvider fields that may change', () => {
  it.each<[string, () => ClusterCredentialProviderSpec, object]>([
    [
      'aws.permissionsBoundaryArn (existing roles get the new boundary)',
      awsSpec,
      { aws: { permissionsBoundaryArn: 'arn:aws:iam::111122223333:policy/nhi-boundary' } },
    ],
    [
      'aws.irsa (the trust policies follow)',
      awsSpec,
      { aws: { irsa: { ...irsa, issuer: 'https://oidc.example/id/B' } } },
    ],
    [
      'aws.secretsManager and maxWritesPerSecond',
      awsSpec,
      { aws: { secretsManager: { recoveryWindowDays: 30 }, maxWritesPerSecond: 20 } },
    ],
    ['aws.accountId added when it was unset', podIdentitySpec, { aws: { accountId: '111122223333' } }],
    ['aws.rolePath written out as the value it already had', podIdentitySpec, { aws: { rolePath: '/nhi/' } }],
    [
      'vault.tokenMaxTTL, audience and caBundle',
      vaultSpec,
      { vault: { tokenMaxTTL: '30m', audience: 'vault', caBundle: 'x' } },
    ],
    ['vault.auth', vaultSpec, { vault: { auth: { tokenFile: null, kubernetes: { role: 'nhi-operator' } } } }],
    ['allowedNamespaces set', vaultSpec, { allowedNamespaces: { names: ['team-a', 'team-a-*'] } }],
    [
      'allowedNamespaces by label',
      awsSpec,
      {
        allowedNamespaces: {
          selector: {
            matchLabels: { 'example.com/tenant': 'team-a' },
            matchExpressions: [{ key: 'example.com/tier', operator: 'In', values: ['gold'] }],
          },
        },
      },
    ],
  ])('%s is accepted', async (_case, initial, change) => {
    const name = await createProvider(initial());
    expect(await patchSpec(name, change)).toBeUndefined();
  });

  it('allowedNamespaces may be tightened and lifted again', async () => {
    const name = await createProvider({ ...vaultSpec(), allowedNamespaces: { names: ['team-a'] } });
    expect(await patchSpec(name, { allowedNamespaces: { names: ['team-b'] } })).toBeUndefined();
    expect(await patchSpec(name, { allowedNamespaces: null })).toBeUndefined();
  });
});

describe('ClusterCredentialProvider allowedNamespaces schema', () => {
  it.each<[string, object, string]>([
    ['empty', {}, 'spec.allowedNamespaces'],
    ['an empty names list', { names: [] }, 'spec.allowedNamespaces.names'],
    ['a glob anywhere but the end', { names: ['team-*-prod'] }, 'spec.allowedNamespaces.names[0]'],
    [
      'In without values',
      { selector: { matchExpressions: [{ key: 'tier', operator: 'In' }] } },
      'spec.allowedNamespaces.selector.matchExpressions[0].values',
    ],
    [
      'Exists with values',
      { selector: { matchExpressions: [{ key: 'tier', operator: 'Exists', values: ['x'] }] } },
      'spec.allowedNamespaces.selector.matchExpressions[0].values',
    ],
  ])('%s is refused, naming the field', async (_case, allowedNamespaces, field) => {
    const refusal = await createProvider({ ...bareVaultSpec(), allowedNamespaces } as never).then(
      () => undefined,
      (error: unknown) => error as k8s.ApiException<unknown>,
    );
    expect(refusal?.code).toBe(422);
    expect(String(refusal?.body)).toContain(field);
  });
});
