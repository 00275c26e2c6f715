// A real pod on the dev node uses its Kubernetes grants: from inside the pod, with its own mounted
// ServiceAccount token, SelfSubjectAccessReviews answer exactly what the identity's Role grants and
// real requests succeed or fail accordingly; once the identity is locked (quarantine) the same
// running pod can do none of it.

import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { installOperatorManifests } from '../../src/dev/install.ts';
import { agentIdentity, withScopes } from '../../src/testing/agent-identity.ts';
import { AGENT_IDENTITIES, createIdentity, untilCondition } from '../support/cluster.ts';
import { kubeConfig } from '../support/env.ts';
import { onTestCluster, readConfigMaps } from '../support/fixtures.ts';
import {
  describeOnNode,
  probe,
  probeDeployment,
  query,
  readyPod,
  stopWorkloads,
  useNode,
  workloadNamespace,
} from '../support/node.ts';
import { type OperatorProcess, startOperatorProcess } from '../support/operator.ts';
import { eventually } from '../support/wait.ts';

const kc = kubeConfig();
const apps = kc.makeApiClient(k8s.AppsV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
let operator: OperatorProcess;

beforeAll(async () => {
  await useNode();
  await installOperatorManifests(kc);
  operator = startOperatorProcess();
  await operator.ready();
});

afterAll(async () => {
  await stopWorkloads();
  await operator?.stop();
});

describeOnNode('a pod on the dev node with a Kubernetes scope', () => {
  it('can do exactly what its Role grants, from inside the pod, and nothing once quarantined', async () => {
    const ns = await workloadNamespace('node-k8s');
    await createIdentity(agentIdentity('reader', onTestCluster(ns), withScopes(readConfigMaps)));
    const applied = Date.now();
    await apps.createNamespacedDeployment({ namespace: ns, body: probeDeployment('reader', 'reader') });
    await untilCondition(ns, 'reader', 'Ready');
    const pod = await readyPod(ns, 'reader');
    console.log(`[nhi] probe pod Ready ${Date.now() - applied} ms after its Deployment was applied`);

    const whoami = await probe<{ userInfo: { username: string; extra: Record<string, string[]> } }>(
      pod,
      '/whoami',
    );
    expect(whoami.userInfo.username).toBe(`system:serviceaccount:${ns}:reader`);
    expect(whoami.userInfo.extra['authentication.kubernetes.io/pod-name']).toEqual([pod.metadata?.name]);

    const canI = async (attributes: Record<string, string>) =>
      (await probe<{ allowed: boolean }>(pod, `/can-i${query(attributes)}`)).allowed;
    expect(await canI({ verb: 'get', resource: 'configmaps', namespace: ns })).toBe(true);
    expect(await canI({ verb: 'list', resource: 'configmaps', namespace: ns })).toBe(true);
    expect(await canI({ verb: 'create', resource: 'configmaps', namespace: ns })).toBe(false);
    expect(await canI({ verb: 'delete', resource: 'configmaps', namespace: ns })).toBe(false);
    expect(await canI({ verb: 'get', resource: 'secrets', namespace: ns })).toBe(false);
    expect(await canI({ verb: 'list', resource: 'configmaps', namespace: 'default' })).toBe(false);
    expect(await canI({ verb: 'list', resource: 'pods', namespace: ns })).toBe(false);
    const get = async (path: string) =>
      (await probe<{ status: number }>(pod, `/get${query({ path })}`)).status;
    expect(await get(`/api/v1/namespaces/${ns}/configmaps`)).toBe(200);
    expect(await get(`/api/v1/namespaces/${ns}/secrets`)).toBe(403);

    await custom.patchNamespacedCustomObject(
      { ...AGENT_IDENTITIES, namespace: ns, name: 'reader', body: { spec: { locked: true } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await untilCondition(ns, 'reader', 'Quarantined');
    await eventually(
      'the pod to lose get configmaps',
      async () => !(await canI({ verb: 'get', resource: 'configmaps', namespace: ns })),
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    expect(await canI({ verb: 'list', resource: 'configmaps', namespace: ns })).toBe(false);
    expect(await get(`/api/v1/namespaces/${ns}/configmaps`)).toBe(403);
  });
});
