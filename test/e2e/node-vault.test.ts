// A real pod on the dev node uses its OpenBao identity: it logs in to kubernetes auth with a
// projected ServiceAccount token of the provider's audience (the default token is refused), reads
// its KV secret; the token of a deleted pod is refused while its replacement still logs in; once the
// identity is locked (quarantine) the running pod's Vault token is denied and it cannot log in again.

import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { installOperatorManifests } from '../../src/dev/install.ts';
import type { DevNode } from '../../src/dev/node/node.ts';
import { agentIdentity, withScopes } from '../../src/testing/agent-identity.ts';
import {
  AGENT_IDENTITIES,
  bao,
  createIdentity,
  installVaultProvider,
  removeProvider,
  untilCondition,
} from '../support/cluster.ts';
import { kubeConfig, testEnv } from '../support/env.ts';
import { onTestCluster, withSecret } from '../support/fixtures.ts';
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

const AUDIENCE = 'nhi.dev/vault';
const PROJECTED = '/var/run/secrets/nhi.dev/vault/token';
const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
let operator: OperatorProcess;
let node: DevNode;

beforeAll(async () => {
  node = await useNode();
  await installOperatorManifests(kc);
  await installVaultProvider({ spec: { audience: AUDIENCE } });
  operator = startOperatorProcess();
  await operator.ready();
});

afterAll(async () => {
  await stopWorkloads();
  await operator?.stop();
  await removeProvider('vault');
});

describeOnNode('a pod on the dev node with a Vault scope', () => {
  it('logs in with its projected token, reads its KV secret, and loses both to pod deletion and quarantine', async () => {
    const ns = await workloadNamespace('node-vault');
    await createIdentity(
      agentIdentity(
        'rag',
        onTestCluster(ns),
        withScopes({
          provider: 'vault',
          paths: [{ path: `secret/data/${ns}/docs/*`, capabilities: ['read'] }],
        }),
        withSecret('db-password', { backend: 'vault-kv', target: { secretName: 'rag-db' } }),
      ),
    );
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: probeDeployment('rag', 'rag', {
        volumes: [
          {
            name: 'vault-token',
            projected: {
              sources: [
                { serviceAccountToken: { audience: AUDIENCE, expirationSeconds: 600, path: 'token' } },
              ],
            },
          },
        ],
        mounts: [{ name: 'vault-token', mountPath: '/var/run/secrets/nhi.dev/vault', readOnly: true }],
      }),
    });
    const ready = await untilCondition(ns, 'rag', 'Ready');
    const role = ready.status?.vault?.role ?? '';
    const kvPath = `secret/data/nhi/${ns}/rag/db-password`;
    const login = (pod: k8s.V1Pod, file = PROJECTED) =>
      probe<{ status: number; policies: string[] }>(
        pod,
        `/vault/login${query({ addr: node.podBaoAddr, role, mount: 'kubernetes', file })}`,
      );
    const read = (pod: k8s.V1Pod) =>
      probe<{ status: number; sha256?: string }>(
        pod,
        `/vault/read${query({ addr: node.podBaoAddr, path: kvPath })}`,
      );

    const first = await readyPod(ns, 'rag');
    const claims = (await probe<{ claims: { aud: string[] } }>(first, `/token${query({ file: PROJECTED })}`))
      .claims;
    expect(claims.aud).toEqual([AUDIENCE]);
    expect((await login(first, '/var/run/secrets/kubernetes.io/serviceaccount/token')).status).not.toBe(200);
    const loggedIn = await login(first);
    expect(loggedIn.status).toBe(200);
    expect(loggedIn.policies).toContain(role);
    const own = await bao('GET', kvPath, testEnv().bao.token);
    const { createHash } = await import('node:crypto');
    expect(await read(first)).toEqual({
      status: 200,
      sha256: createHash('sha256').update(JSON.stringify(own.json.data?.data)).digest('hex'),
    });

    // The projected token is bound to its pod: deleted pod, refused token; the replacement logs in.
    const { token: firstToken } = await probe<{ token: string }>(
      first,
      `/token${query({ file: PROJECTED })}`,
    );
    expect((await bao('POST', 'auth/kubernetes/login', '', { role, jwt: firstToken })).status).toBe(200);
    await core.deleteNamespacedPod({
      namespace: ns,
      name: first.metadata?.name ?? '',
      gracePeriodSeconds: 1,
    });
    const second = await eventually(
      'the replacement pod',
      async () => {
        const pod = await readyPod(ns, 'rag');
        return pod.metadata?.name !== first.metadata?.name ? pod : undefined;
      },
      { timeoutMs: 60_000 },
    );
    await eventually(
      'the deleted pod to be gone',
      async () =>
        !(await core.listNamespacedPod({ namespace: ns })).items.some(
          (p) => p.metadata?.uid === first.metadata?.uid,
        ),
      { timeoutMs: 30_000 },
    );
    const gone = Date.now();
    await eventually(
      "OpenBao to refuse the deleted pod's token",
      async () => (await bao('POST', 'auth/kubernetes/login', '', { role, jwt: firstToken })).status === 403,
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    console.log(`[nhi] deleted pod's token refused ${Date.now() - gone} ms after the pod was gone`);
    expect((await login(second)).status).toBe(200);
    expect((await read(second)).status).toBe(200);

    await custom.patchNamespacedCustomObject(
      { ...AGENT_IDENTITIES, namespace: ns, name: 'rag', body: { spec: { locked: true } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await untilCondition(ns, 'rag', 'Quarantined');
    expect((await read(second)).status).toBe(403);
    expect((await login(second)).status).not.toBe(200);
  });
});
