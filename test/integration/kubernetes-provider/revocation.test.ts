// Two-phase revocation against the real apiserver: quarantine cuts access and removes values but
// keeps the ServiceAccount (same UID, so the same identity comes back on restore); revoke deletes
// what carries our marks and nothing else.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SecretSpec } from '../../../src/api/v1alpha1/types.ts';
import type { IdentityRef } from '../../../src/providers/types.ts';
import { eventually, uniqueName } from '../../support/wait.ts';
import {
  core,
  coreAs,
  createNamespace,
  decode,
  deleteNamespace,
  exists,
  identityIn,
  newProvider,
  rbac,
  readConfigMaps,
  statusOf,
  tokenFor,
} from './support.ts';

const namespace = uniqueName('k8srev');
const provider = newProvider();
const spec: SecretSpec = {
  name: 'api-key',
  generator: { type: 'random', length: 40 },
  target: { secretName: 'agent-api-key' },
};
let ref: IdentityRef;
let saUid: string | undefined;
let token: string;

const canReadConfigMap = async () =>
  (await statusOf(() => coreAs(token).readNamespacedConfigMap({ namespace, name: 'crm' }))) === 200;
const readTarget = () => core.readNamespacedSecret({ namespace, name: 'agent-api-key' });
const timed = async <T>(what: string, step: () => Promise<T>): Promise<T> => {
  const started = performance.now();
  const result = await step();
  console.log(`[k8s-provider] ${what}: ${(performance.now() - started).toFixed(0)} ms`);
  return result;
};

beforeAll(async () => {
  await createNamespace(namespace);
  await core.createNamespacedConfigMap({
    namespace,
    body: { metadata: { name: 'crm' }, data: { url: 'x' } },
  });
  ref = await identityIn(namespace, 'agent', { rules: [readConfigMaps], secrets: [spec] });
  await provider.provision(ref);
  saUid = (await core.readNamespacedServiceAccount({ namespace, name: 'agent' })).metadata?.uid;
  token = await tokenFor(namespace, 'agent');
  await eventually('access through the RoleBinding', async () => (await canReadConfigMap()) || undefined);
});

afterAll(async () => {
  await deleteNamespace(namespace);
});

describe('quarantine and restore', () => {
  it('quarantine removes the access and the values, keeps the ServiceAccount', async () => {
    const before = await readTarget();
    await timed('quarantine', () => provider.quarantine(ref));
    await timed('access revoked (RBAC cache)', () =>
      eventually('the token to lose access', async () => ((await canReadConfigMap()) ? undefined : true)),
    );
    // The token still authenticates (403, not 401): it only lost what we granted.
    expect(await statusOf(() => coreAs(token).readNamespacedConfigMap({ namespace, name: 'crm' }))).toBe(403);
    expect(await exists(() => rbac.readNamespacedRoleBinding({ namespace, name: 'nhi-agent' }))).toBe(false);

    const secret = await readTarget();
    expect(secret.data ?? {}).toEqual({});
    expect(secret.metadata?.annotations).toMatchObject({
      'nhi.dev/quarantined': 'true',
      'nhi.dev/current-version': before.metadata?.annotations?.['nhi.dev/current-version'],
    });
    const sa = await core.readNamespacedServiceAccount({ namespace, name: 'agent' });
    expect(sa.metadata?.uid).toBe(saUid);
    expect(sa.metadata?.annotations?.['nhi.dev/quarantined']).toBe('true');
    expect(await provider.quarantineWithChanges(ref)).toEqual([]);
  });

  it('restore gives a fresh value and the access back, on the same ServiceAccount', async () => {
    await timed('restore', () => provider.restore(ref));
    await timed('access restored (RBAC cache)', () =>
      eventually('the same token to regain access', async () => (await canReadConfigMap()) || undefined),
    );
    const secret = await readTarget();
    expect(decode(secret, 'api-key')).toHaveLength(40);
    expect(secret.metadata?.annotations?.['nhi.dev/current-version']).toBe('2');
    expect(secret.metadata?.annotations?.['nhi.dev/quarantined']).toBeUndefined();
    const sa = await core.readNamespacedServiceAccount({ namespace, name: 'agent' });
    expect(sa.metadata?.uid).toBe(saUid);
    expect(sa.metadata?.annotations?.['nhi.dev/quarantined']).toBeUndefined();
  });
});

describe('revoke', () => {
  it('deletes our objects, while unmanaged ones with similar names are untouched', async () => {
    const unmanagedSa = await core.createNamespacedServiceAccount({
      namespace,
      body: { metadata: { name: 'agent-legacy', labels: { app: 'agent' } } },
    });
    const unmanagedSecret = await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'agent-api-key-copy' }, stringData: { 'api-key': 'not ours' } },
    });

    await timed('revoke', () => provider.revoke(ref));

    expect(await exists(() => core.readNamespacedServiceAccount({ namespace, name: 'agent' }))).toBe(false);
    expect(await exists(() => rbac.readNamespacedRole({ namespace, name: 'nhi-agent' }))).toBe(false);
    expect(await exists(() => rbac.readNamespacedRoleBinding({ namespace, name: 'nhi-agent' }))).toBe(false);
    expect(await exists(readTarget)).toBe(false);

    const sa = await core.readNamespacedServiceAccount({ namespace, name: 'agent-legacy' });
    expect(sa.metadata?.resourceVersion).toBe(unmanagedSa.metadata?.resourceVersion);
    const secret = await core.readNamespacedSecret({ namespace, name: 'agent-api-key-copy' });
    expect(secret.metadata?.resourceVersion).toBe(unmanagedSecret.metadata?.resourceVersion);
    expect(decode(secret, 'api-key')).toBe('not ours');

    await timed('token refused after revoke', () =>
      eventually('the token of the deleted ServiceAccount to be refused', async () => {
        const status = await statusOf(() =>
          coreAs(token).readNamespacedConfigMap({ namespace, name: 'crm' }),
        );
        return status === 401 ? true : undefined;
      }),
    );
    expect(await provider.revokeWithChanges(ref)).toEqual([]);
  });
});
