// The Vault/OpenBao provider through the real operator process, against the real OpenBao dev server
// whose kubernetes auth verifies tokens with the real apiserver: the workload's ServiceAccount token
// logs in and reads its KV secret (synced into the Kubernetes target too); quarantine makes the token
// obtained before powerless; revocation deletes the role, the policy and the KV data.

import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installOperatorManifests } from '../../src/dev/install.ts';
import { agentIdentity, withScopes, withSpec } from '../../src/testing/agent-identity.ts';
import {
  bao,
  createIdentity,
  installVaultProvider,
  newNamespace,
  removeProvider,
  untilCondition,
} from '../support/cluster.ts';
import { kubeConfig, testEnv } from '../support/env.ts';
import { deployment, onTestCluster, withSecret } from '../support/fixtures.ts';
import { type OperatorProcess, startOperatorProcess } from '../support/operator.ts';

const env = testEnv();
const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
let operator: OperatorProcess;

beforeAll(async () => {
  await installOperatorManifests(kc);
  // The operator authenticates with a token file, as with a Vault agent sidecar; here the dev root token.
  await installVaultProvider();
  operator = startOperatorProcess();
});

afterAll(async () => {
  await operator.stop();
  await removeProvider('vault');
});

describe('Vault/OpenBao through the operator', () => {
  it('binds a kubernetes-auth role to the workload, rotates KV, and cuts off issued tokens on quarantine', async () => {
    const ns = await newNamespace('vault');
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('rag-agent', 'rag-agent') });
    await createIdentity(
      agentIdentity(
        'rag-agent',
        onTestCluster(ns),
        withSpec({ orphanGracePeriod: '3s', quarantinePeriod: '6s' }),
        withScopes({
          provider: 'vault',
          paths: [{ path: `secret/data/${ns}/docs/*`, capabilities: ['read'] }],
        }),
        withSecret('db-password', { backend: 'vault-kv', target: { secretName: 'rag-agent-db' } }),
      ),
    );
    const ready = await untilCondition(ns, 'rag-agent', 'Ready');
    const role = ready.status?.vault?.role ?? '';
    expect(role).toMatch(/^nhi-/);

    const jwt =
      (
        await core.createNamespacedServiceAccountToken({
          namespace: ns,
          name: 'rag-agent',
          body: { spec: { audiences: [] } },
        })
      ).status?.token ?? '';
    const login = await bao('POST', 'auth/kubernetes/login', '', { role, jwt });
    expect(login.status).toBe(200);
    const token = login.json.auth?.client_token ?? '';
    const own = await bao('GET', `secret/data/nhi/${ns}/rag-agent/db-password`, token);
    expect(own.status).toBe(200);
    const target = await core.readNamespacedSecret({ namespace: ns, name: 'rag-agent-db' });
    expect(Buffer.from(Object.values(target.data ?? {})[0] ?? '', 'base64').toString()).toBe(
      own.json.data?.data?.value,
    );
    expect((await bao('GET', 'sys/policies/acl', token)).status).toBe(403);

    await apps.deleteNamespacedDeployment({ namespace: ns, name: 'rag-agent' });
    await untilCondition(ns, 'rag-agent', 'Quarantined');
    expect((await bao('GET', `secret/data/nhi/${ns}/rag-agent/db-password`, token)).status).toBe(403);
    expect((await bao('POST', 'auth/kubernetes/login', '', { role, jwt })).status).not.toBe(200);

    await untilCondition(ns, 'rag-agent', 'Revoked');
    expect((await bao('GET', `auth/kubernetes/role/${role}`, env.bao.token)).status).toBe(404);
    expect((await bao('GET', `sys/policies/acl/${role}`, env.bao.token)).status).toBe(404);
    expect((await bao('GET', `secret/metadata/nhi/${ns}/rag-agent/db-password`, env.bao.token)).status).toBe(
      404,
    );
  });
});
