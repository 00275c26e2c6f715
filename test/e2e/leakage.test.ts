// No secret value leaks through an error path. The real operator process runs at debug log level
// against the real OpenBao and moto, each behind an HTTP proxy that answers the writes of secret
// values with errors whose bodies echo the request (the value, and the operator's Vault token or AWS
// signature), and with malformed 200s that start with the request, before letting them through. Every
// value the operator generated (taken from what it sent), the tokens, and the values in the Kubernetes
// target Secrets are then searched for, raw and base64, in every log line, Event, status field
// (condition messages are the error messages) and audit record: zero hits.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controls } from '../../src/api/v1alpha1/annotations.ts';
import type { AgentIdentity } from '../../src/api/v1alpha1/types.ts';
import { applyObjects, installOperatorManifests } from '../../src/dev/install.ts';
import { agentIdentity, withScopes, withSpec } from '../../src/testing/agent-identity.ts';
import {
  createIdentity,
  getIdentity,
  newNamespace,
  removeProvider,
  untilCondition,
} from '../support/cluster.ts';
import { kubeConfig, testEnv } from '../support/env.ts';
import { deployment, onTestCluster, withSecret } from '../support/fixtures.ts';
import {
  type FaultKind,
  type HttpFaultProxy,
  type SeenRequest,
  startHttpFaultProxy,
} from '../support/http-fault-proxy.ts';
import { type OperatorProcess, startOperatorProcess } from '../support/operator.ts';
import { eventually, uniqueName } from '../support/wait.ts';

const env = testEnv();
const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const events = kc.makeApiClient(k8s.EventsV1Api);
const identities = { group: 'nhi.dev', version: 'v1alpha1', plural: 'agentidentities' };

const VAULT = uniqueName('vault-echo');
const AWS = uniqueName('aws-echo');
/** Each write of a value is answered with these first, then passes. */
const FAULTS: FaultKind[] = ['echo-500', 'echo-400', 'malformed'];
// Short values: long random ones are masked by their shape anyway; these must be masked by value.
const SHORT = { generator: { type: 'random' as const, length: 16 } };

let vaultProxy: HttpFaultProxy;
let awsProxy: HttpFaultProxy;
let operator: OperatorProcess;
let ns: string;

const isVaultValueWrite = (r: SeenRequest) =>
  (r.method === 'PUT' || r.method === 'POST') && /^\/v1\/secret\/data\//.test(r.path);
const isAwsValueWrite = (r: SeenRequest) =>
  /^secretsmanager\.(CreateSecret|PutSecretValue)$/.test(r.headers['x-amz-target'] ?? '');

function faultValueWrites(): void {
  vaultProxy.addRule({ when: isVaultValueWrite, answers: [...FAULTS], dialect: 'vault' });
  awsProxy.addRule({ when: isAwsValueWrite, answers: [...FAULTS], dialect: 'aws' });
}

/** Every secret value the operator sent to a backend, faulted or not. */
function sentValues(): string[] {
  const values: string[] = [];
  for (const r of vaultProxy.seen.filter(isVaultValueWrite)) {
    const value = (JSON.parse(r.body) as { data?: { value?: string } }).data?.value;
    if (value) values.push(value);
  }
  for (const r of awsProxy.seen.filter(isAwsValueWrite)) {
    const value = (JSON.parse(r.body) as { SecretString?: string }).SecretString;
    if (value) values.push(value);
  }
  return values;
}

async function targetValues(): Promise<string[]> {
  const out: string[] = [];
  const secrets = await core.listNamespacedSecret({ namespace: ns, labelSelector: 'nhi.dev/secret' });
  for (const secret of secrets.items)
    for (const data of Object.values(secret.data ?? {})) out.push(Buffer.from(data, 'base64').toString());
  return out.filter(Boolean);
}

/** Everything the operator wrote for people to read: logs, Events, status, audit records. */
async function everythingSaid(): Promise<Record<string, string>> {
  const list = (await custom.listNamespacedCustomObject({ ...identities, namespace: ns })) as {
    items: AgentIdentity[];
  };
  return {
    'operator log': operator.logs(),
    'audit records': readFileSync(operator.auditLog, 'utf8'),
    'AgentIdentity status and metadata': JSON.stringify(list.items),
    Events: JSON.stringify((await events.listNamespacedEvent({ namespace: ns })).items),
  };
}

const forms = (value: string) => [
  value,
  Buffer.from(value).toString('base64'),
  Buffer.from(value).toString('base64url'),
];

beforeAll(async () => {
  await installOperatorManifests(kc);
  vaultProxy = await startHttpFaultProxy(env.bao.addr);
  awsProxy = await startHttpFaultProxy(env.aws.endpoint);
  const tokenFile = join(mkdtempSync(join(tmpdir(), 'nhi-leak-')), 'token');
  writeFileSync(tokenFile, env.bao.token, { mode: 0o600 });
  const issuerHost = new URL(env.serviceAccountIssuer).host;
  await applyObjects(kc, [
    {
      apiVersion: 'nhi.dev/v1alpha1',
      kind: 'ClusterCredentialProvider',
      metadata: { name: VAULT },
      spec: {
        vault: {
          address: vaultProxy.url,
          kubernetesAuthMount: 'kubernetes',
          kvMount: 'secret',
          tokenMaxTTL: '1h',
          auth: { tokenFile: { path: tokenFile } },
        },
      },
    },
    {
      apiVersion: 'nhi.dev/v1alpha1',
      kind: 'ClusterCredentialProvider',
      metadata: { name: AWS },
      spec: {
        aws: {
          region: env.aws.region,
          accountId: '123456789012',
          endpoint: awsProxy.url,
          rolePath: '/nhi/',
          roleNamePrefix: 'nhi-',
          mode: 'irsa',
          irsa: {
            oidcProviderArn: `arn:aws:iam::123456789012:oidc-provider/${issuerHost}`,
            issuer: env.serviceAccountIssuer,
          },
          secretsManager: { recoveryWindowDays: 7, forceDelete: true },
        },
      },
    },
  ] as unknown as k8s.KubernetesObject[]);
  operator = startOperatorProcess(['--log-level=debug']);
  ns = await newNamespace('leak');
});

afterAll(async () => {
  await operator?.stop();
  for (const name of ['leaky-vault', 'leaky-aws'])
    await custom.deleteNamespacedCustomObject({ ...identities, namespace: ns, name }).catch(() => undefined);
  await eventually('identities offboarded', async () =>
    ((await custom.listNamespacedCustomObject({ ...identities, namespace: ns })) as { items: unknown[] })
      .items.length === 0
      ? true
      : undefined,
  ).catch(() => undefined);
  await core.deleteNamespace({ name: ns }).catch(() => undefined);
  for (const name of [VAULT, AWS]) await removeProvider(name);
  await Promise.all([vaultProxy?.close(), awsProxy?.close()]);
});

describe('secret values on error paths', () => {
  it('provisioning and rotating through echoing errors and malformed answers leak no value or token', async () => {
    faultValueWrites();
    for (const name of ['leaky-vault', 'leaky-aws'])
      await apps.createNamespacedDeployment({ namespace: ns, body: deployment(name, name) });
    await createIdentity(
      agentIdentity(
        'leaky-vault',
        onTestCluster(ns),
        withSpec({ orphanGracePeriod: '10m' }),
        withScopes({
          provider: 'vault',
          providerRef: VAULT,
          paths: [{ path: `secret/data/${ns}/docs/*`, capabilities: ['read'] }],
        }),
        withSecret('db-password', { backend: 'vault-kv', providerRef: VAULT, ...SHORT }),
        withSecret('api-key', SHORT),
      ),
    );
    await createIdentity(
      agentIdentity(
        'leaky-aws',
        onTestCluster(ns),
        withSpec({ orphanGracePeriod: '10m' }),
        withScopes({
          provider: 'aws',
          providerRef: AWS,
          actions: ['secretsmanager:GetSecretValue'],
          resources: ['arn:aws:secretsmanager:us-east-1:123456789012:secret:crm/*'],
        }),
        withSecret('crm-token', { backend: 'aws-secrets-manager', providerRef: AWS, ...SHORT }),
      ),
    );
    for (const name of ['leaky-vault', 'leaky-aws']) await untilCondition(ns, name, 'Ready', 'True', 90_000);

    // Rotate both now, through the same faults: new values are echoed while old ones are current.
    faultValueWrites();
    const before = new Map<string, number>();
    for (const name of ['leaky-vault', 'leaky-aws']) {
      const identity = await getIdentity(ns, name);
      before.set(name, identity?.status?.secrets?.[0]?.currentVersion ?? 0);
      await custom.patchNamespacedCustomObject(
        {
          ...identities,
          namespace: ns,
          name,
          body: { metadata: { annotations: { [Controls.rotateRequestedAt]: new Date().toISOString() } } },
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
    }
    for (const name of ['leaky-vault', 'leaky-aws'])
      await eventually(
        `${name} rotated`,
        async () =>
          ((await getIdentity(ns, name))?.status?.secrets?.[0]?.currentVersion ?? 0) >
          (before.get(name) ?? 0),
        { timeoutMs: 90_000, intervalMs: 500 },
      );

    // The faults were answered (twice per backend: provisioning and rotation), and errors were reported.
    expect(vaultProxy.faulted.map((f) => f.kind)).toEqual([...FAULTS, ...FAULTS]);
    expect(awsProxy.faulted.map((f) => f.kind)).toEqual([...FAULTS, ...FAULTS]);
    const said = await everythingSaid();
    expect(said['operator log']).toMatch(/provider call failed; retrying with backoff/);

    const values = [...new Set([...sentValues(), ...(await targetValues())])];
    expect(values.length).toBeGreaterThanOrEqual(12); // 6 faulted writes per backend at least, plus targets
    const secrets: Record<string, string> = {
      'the Vault token': env.bao.token,
      'the AWS secret access key': env.aws.secretAccessKey,
      ...Object.fromEntries(values.map((v, i) => [`generated value ${i}`, v])),
    };
    const hits: string[] = [];
    for (const [what, value] of Object.entries(secrets))
      for (const [where, text] of Object.entries(said))
        for (const form of forms(value)) if (text.includes(form)) hits.push(`${what} in ${where}`);
    expect(hits).toEqual([]);
  });
});
