// status.activity from the real operator process following the dev environment's apiserver and
// OpenBao audit logs: the managed ServiceAccount's own requests (a TokenRequest token, as a pod
// would hold) show up in the identity's status as requests, denials and last use, once per drift
// interval, and another identity's calls do not.

import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import { agentIdentity, withScopes } from '../../../src/testing/agent-identity.ts';
import { createIdentity, getIdentity, newNamespace, untilCondition } from '../../support/cluster.ts';
import { kubeConfig, testEnv } from '../../support/env.ts';
import { deployment, onTestCluster, readConfigMaps } from '../../support/fixtures.ts';
import { type OperatorProcess, startOperatorProcess } from '../../support/operator.ts';
import { eventually } from '../../support/wait.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
let operator: OperatorProcess;
let ns: string;

/** A client acting as the ServiceAccount, with a token from the TokenRequest API. */
async function asServiceAccount(name: string): Promise<k8s.CoreV1Api> {
  const request = await core.createNamespacedServiceAccountToken({
    namespace: ns,
    name,
    body: { spec: { audiences: [], expirationSeconds: 600 } },
  });
  const cluster = kc.getCurrentCluster();
  if (!cluster || !request.status?.token) throw new Error('no cluster or token');
  const user = new k8s.KubeConfig();
  user.loadFromOptions({
    clusters: [cluster],
    users: [{ name, token: request.status.token }],
    contexts: [{ name, cluster: cluster.name, user: name, namespace: ns }],
    currentContext: name,
  });
  return user.makeApiClient(k8s.CoreV1Api);
}

const refused = (call: () => Promise<unknown>) =>
  call().then(
    () => false,
    (error) => error instanceof k8s.ApiException && error.code === 403,
  );

beforeAll(async () => {
  await installOperatorManifests(kc);
  ns = await newNamespace('activity-status');
  for (const name of ['reader', 'idle']) {
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment(name, name) });
    await createIdentity(agentIdentity(name, onTestCluster(ns), withScopes(readConfigMaps)));
  }
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'settings' } } });
  const env = testEnv();
  operator = startOperatorProcess([
    `--activity-kube-audit-log=${env.apiserverAuditLog}`,
    `--activity-vault-audit-log=${env.baoAuditLog}`,
    `--watch-namespace=${ns}`,
  ]);
}, 60_000);

afterAll(async () => {
  await operator?.stop();
  if (ns) await core.deleteNamespace({ name: ns }).catch(() => {});
});

describe('status.activity', () => {
  it("counts the managed ServiceAccount's allowed and denied requests, and nothing of another identity's", async () => {
    await untilCondition(ns, 'reader', 'Provisioned', 'True', 60_000);
    await untilCondition(ns, 'idle', 'Provisioned', 'True', 60_000);
    const reader = await asServiceAccount('reader');
    await reader.readNamespacedConfigMap({ namespace: ns, name: 'settings' });
    await reader.listNamespacedConfigMap({ namespace: ns });
    expect(await refused(() => reader.listNamespacedSecret({ namespace: ns }))).toBe(true);

    const identity = await eventually(
      'status.activity of reader with 3 requests',
      async () => {
        const live = await getIdentity(ns, 'reader');
        const k = live?.status?.activity?.backends.find((b) => b.backend === 'kubernetes');
        return k && k.requests >= 3 ? live : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(identity.status?.activity).toMatchObject({
      window: '24h',
      backends: [{ backend: 'kubernetes', requests: 3, denials: 1, errors: 0 }],
    });
    const lastUsed = identity.status?.activity?.backends[0]?.lastUsed ?? '';
    expect(Date.now() - Date.parse(lastUsed)).toBeLessThan(10 * 60_000);

    const idle = await eventually(
      'status.activity of idle',
      async () => (await getIdentity(ns, 'idle'))?.status?.activity,
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(idle.backends).toEqual([]);
  });
});
