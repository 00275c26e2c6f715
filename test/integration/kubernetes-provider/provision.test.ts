// provision() against the real apiserver: the objects and their marks, real RBAC for a real
// ServiceAccount token, and refusal of a same-named ServiceAccount we do not own.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Marks } from '../../../src/api/v1alpha1/annotations.ts';
import type { SecretSpec } from '../../../src/api/v1alpha1/types.ts';
import { type IdentityRef, NotOwnedError } from '../../../src/providers/types.ts';
import { NEVER_SCHEDULED } from '../../support/fixtures.ts';
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

const namespace = uniqueName('k8sprov');
const provider = newProvider();
const apiKey: SecretSpec = {
  name: 'api-key',
  generator: { type: 'random', length: 32 },
  target: { secretName: 'bot-api-key' },
};
let bot: IdentityRef;

beforeAll(async () => {
  await createNamespace(namespace);
  await core.createNamespacedConfigMap({
    namespace,
    body: { metadata: { name: 'crm' }, data: { url: 'x' } },
  });
});

afterAll(async () => {
  await deleteNamespace(namespace);
});

describe('KubernetesProvider.provision against the apiserver', () => {
  it('creates the ServiceAccount, Role, RoleBinding and Secret with our marks, then converges with no changes', async () => {
    const ref = await identityIn(namespace, 'bot', { rules: [readConfigMaps], secrets: [apiKey] });
    bot = ref;
    const started = performance.now();
    const result = await provider.provision(ref);
    console.log(`[k8s-provider] provision: ${(performance.now() - started).toFixed(0)} ms`);
    expect(result.changes.map((c) => c.action)).toEqual(['create', 'create', 'create', 'create']);

    const sa = await core.readNamespacedServiceAccount({ namespace, name: 'bot' });
    const role = await rbac.readNamespacedRole({ namespace, name: 'nhi-bot' });
    const binding = await rbac.readNamespacedRoleBinding({ namespace, name: 'nhi-bot' });
    const secret = await core.readNamespacedSecret({ namespace, name: 'bot-api-key' });
    for (const object of [sa, role, binding, secret]) {
      expect(object.metadata?.labels).toMatchObject({
        [Marks.managedBy]: 'nhi-operator',
        [Marks.identityUid]: ref.identity.metadata.uid,
        [Marks.environment]: 'development',
      });
      // No ownerReference: the garbage collector must never delete a credential with its identity.
      expect(object.metadata?.ownerReferences).toBeUndefined();
    }
    expect(sa.automountServiceAccountToken).toBe(false);
    expect(role.rules).toEqual([readConfigMaps]);
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'bot', namespace }]);
    expect(decode(secret, 'api-key')).toHaveLength(32);
    expect(secret.metadata?.annotations?.['nhi.dev/current-version']).toBe('1');

    expect((await provider.provision(ref)).changes).toEqual([]);
    expect(await provider.plan(ref)).toEqual([]);
  });

  it('gives a token of the ServiceAccount exactly what the scope grants', async () => {
    const token = await tokenFor(namespace, 'bot');
    const asBot = coreAs(token);
    await eventually('RBAC to grant get on the configmap', async () => {
      return (await statusOf(() => asBot.readNamespacedConfigMap({ namespace, name: 'crm' }))) === 200;
    });
    expect(await statusOf(() => asBot.listNamespacedConfigMap({ namespace }))).toBe(403);
    expect(await statusOf(() => asBot.readNamespacedSecret({ namespace, name: 'bot-api-key' }))).toBe(403);
    expect(
      await statusOf(() =>
        asBot.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'nope' } } }),
      ),
    ).toBe(403);
    expect(await statusOf(() => asBot.readNamespacedConfigMap({ namespace: 'default', name: 'crm' }))).toBe(
      403,
    );
  });

  it('refuses a pre-existing ServiceAccount without our marks, and leaves it and the namespace untouched', async () => {
    const existing = await core.createNamespacedServiceAccount({
      namespace,
      body: { metadata: { name: 'legacy-bot', labels: { app: 'legacy' } } },
    });
    const ref = await identityIn(namespace, 'legacy-bot', { rules: [readConfigMaps] });
    await expect(provider.provision(ref)).rejects.toThrow(NotOwnedError);
    await expect(provider.plan(ref)).rejects.toThrow(NotOwnedError);

    const after = await core.readNamespacedServiceAccount({ namespace, name: 'legacy-bot' });
    expect(after.metadata?.resourceVersion).toBe(existing.metadata?.resourceVersion);
    expect(after.metadata?.labels).toEqual({ app: 'legacy' });
    expect(await exists(() => rbac.readNamespacedRole({ namespace, name: 'nhi-legacy-bot' }))).toBe(false);
    expect(await exists(() => rbac.readNamespacedRoleBinding({ namespace, name: 'nhi-legacy-bot' }))).toBe(
      false,
    );
  });

  it('observes the pods bound to the ServiceAccount, and restores Role rules changed behind its back', async () => {
    const ref = bot;
    const pod = await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'bot-0' },
        spec: {
          serviceAccountName: 'bot',
          nodeSelector: NEVER_SCHEDULED,
          containers: [{ name: 'agent', image: 'registry.example/agent:1' }],
        },
      },
    });
    await rbac.patchNamespacedRole({
      namespace,
      name: 'nhi-bot',
      body: [
        { op: 'replace', path: '/rules', value: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] },
      ],
    });

    const seen = await provider.observe(ref, { correctDrift: false });
    expect(seen.boundPods).toBe(1);
    expect(seen.lastUsed?.getTime()).toBe(pod.metadata?.creationTimestamp?.getTime());
    expect(seen.drift).toEqual([
      expect.objectContaining({ resource: `Role/${namespace}/nhi-bot`, field: 'rules' }),
    ]);

    const fixed = await provider.observe(ref, { correctDrift: true });
    expect(fixed.corrected).toBe(true);
    expect((await rbac.readNamespacedRole({ namespace, name: 'nhi-bot' })).rules).toEqual([readConfigMaps]);
    expect((await provider.observe(ref, { correctDrift: false })).drift).toEqual([]);
  });
});
