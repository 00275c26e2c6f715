// Grants only ever bound to the identity's own ServiceAccount, scope removal and offboarding that leave
// no Vault grant behind, and an idle identity that does not rewrite its status: the real operator
// process against the real apiserver and OpenBao.

import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentIdentity } from '../../src/api/v1alpha1/types.ts';
import { installOperatorManifests } from '../../src/dev/install.ts';
import { agentIdentity, withScopes, withSpec } from '../../src/testing/agent-identity.ts';
import { bao, installVaultProvider, removeProvider } from '../support/cluster.ts';
import { kubeConfig, testEnv } from '../support/env.ts';
import { deployment, onTestCluster, readConfigMaps } from '../support/fixtures.ts';
import { namespaceBody } from '../support/namespaces.ts';
import { type OperatorProcess, startOperatorProcess } from '../support/operator.ts';
import { eventually, uniqueName } from '../support/wait.ts';

const env = testEnv();
const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const ref = { group: 'nhi.dev', version: 'v1alpha1', plural: 'agentidentities' };
let operator: OperatorProcess;

async function get(ns: string, name: string): Promise<AgentIdentity> {
  return (await custom.getNamespacedCustomObject({ ...ref, namespace: ns, name })) as AgentIdentity;
}

async function namespace(): Promise<string> {
  const ns = uniqueName('review');
  await core.createNamespace({ body: namespaceBody(ns) });
  return ns;
}

beforeAll(async () => {
  await installOperatorManifests(kc);
  await installVaultProvider();
  operator = startOperatorProcess();
});

afterAll(async () => {
  await operator.stop();
  await removeProvider('vault');
});

describe('grants, scope removal and idle status', () => {
  it('an identity naming a ServiceAccount it does not own gets no grants bound to that ServiceAccount', async () => {
    const ns = await namespace();
    // A ServiceAccount that belongs to someone else (no nhi.dev marks), used by their workload.
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'payments' } } });
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('intruder', 'payments') });
    await custom.createNamespacedCustomObject({
      ...ref,
      namespace: ns,
      body: agentIdentity(
        'intruder',
        onTestCluster(ns),
        withSpec({ serviceAccountName: 'payments' }),
        withScopes({
          provider: 'vault',
          paths: [{ path: `secret/data/${ns}/crm/*`, capabilities: ['read'] }],
        }),
      ),
    });
    // The operator refuses the ServiceAccount (NotOwned) ...
    const refused = await eventually('Provisioned=False NotOwned', async () => {
      const identity = await get(ns, 'intruder');
      const c = identity.status?.conditions?.find((x) => x.type === 'Provisioned');
      return c?.status === 'False' && c.reason === 'NotOwned' ? identity : undefined;
    });
    expect(refused.status?.vault).toBeUndefined();
    const uid = refused.metadata.uid ?? '';
    const role = `nhi-${ns}-intruder-${createHash('sha256').update(uid).digest('hex').slice(0, 8)}`;

    // ... but the Vault role was created first, bound to the foreign ServiceAccount: its token logs in.
    const jwt =
      (
        await core.createNamespacedServiceAccountToken({
          namespace: ns,
          name: 'payments',
          body: { spec: { audiences: [] } },
        })
      ).status?.token ?? '';
    const login = await bao('POST', 'auth/kubernetes/login', '', { role, jwt });
    expect(login.status).not.toBe(200);
  });

  it('removing the vault scope from the spec removes the Vault grant, and offboarding leaves no Vault role behind', async () => {
    const ns = await namespace();
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('shrink', 'shrink') });
    await custom.createNamespacedCustomObject({
      ...ref,
      namespace: ns,
      body: agentIdentity(
        'shrink',
        onTestCluster(ns),
        withScopes(readConfigMaps, {
          provider: 'vault',
          paths: [{ path: `secret/data/${ns}/crm/*`, capabilities: ['read'] }],
        }),
      ),
    });
    const ready = await eventually('Ready', async () => {
      const identity = await get(ns, 'shrink');
      return identity.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
        ? identity
        : undefined;
    });
    const role = ready.status?.vault?.role ?? '';
    expect(role).toMatch(/^nhi-/);

    // The team drops the Vault grant from Git.
    await custom.patchNamespacedCustomObject(
      { ...ref, namespace: ns, name: 'shrink', body: { spec: { scopes: [readConfigMaps] } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await eventually('generation 2 reconciled', async () => {
      const identity = await get(ns, 'shrink');
      const ready = identity.status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.status === 'True' && ready.observedGeneration === 2 ? identity : undefined;
    });
    const jwt =
      (
        await core.createNamespacedServiceAccountToken({
          namespace: ns,
          name: 'shrink',
          body: { spec: { audiences: [] } },
        })
      ).status?.token ?? '';
    const login = await bao('POST', 'auth/kubernetes/login', '', { role, jwt });

    // Offboarding: the identity goes, its finalizer revokes "everything".
    await custom.deleteNamespacedCustomObject({ ...ref, namespace: ns, name: 'shrink' });
    await eventually('the identity gone', async () => {
      try {
        await get(ns, 'shrink');
        return undefined;
      } catch {
        return true;
      }
    });
    const left = await bao('GET', `auth/kubernetes/role/${role}`, env.bao.token);
    expect({
      loginAfterScopeRemoved: login.status === 200 ? 'logged in' : 'refused',
      vaultRoleAfterOffboarding: left.status,
    }).toEqual({ loginAfterScopeRemoved: 'refused', vaultRoleAfterOffboarding: 404 });
  });

  it('an idle, Ready identity with a running workload does not rewrite its status on every reconcile', async () => {
    const ns = await namespace();
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('steady', 'steady') });
    await custom.createNamespacedCustomObject({
      ...ref,
      namespace: ns,
      body: agentIdentity('steady', onTestCluster(ns), withScopes(readConfigMaps)),
    });
    await eventually(
      'Ready with a bound pod',
      async () => {
        const identity = await get(ns, 'steady');
        const ready = identity.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        return ready && (identity.status?.boundPods ?? 0) > 0 ? identity : undefined;
      },
      { timeoutMs: 60_000 },
    );
    await sleep(1000);
    // Count the updates of this one object over 3 s with a watch.
    let updates = 0;
    const watcher = new k8s.Watch(kc);
    const request = await watcher.watch(
      `/apis/nhi.dev/v1alpha1/namespaces/${ns}/agentidentities`,
      { fieldSelector: 'metadata.name=steady' },
      (type) => {
        if (type === 'MODIFIED') updates++;
      },
      () => {},
    );
    await sleep(3000);
    request.abort();
    // Nothing changed in those 3 s; a write per resync (2 s here) would be tolerable. A hot loop
    // (write -> watch event -> reconcile -> lastUsed=now -> write ...) gives dozens.
    expect(updates).toBeLessThanOrEqual(2);
  });
});
