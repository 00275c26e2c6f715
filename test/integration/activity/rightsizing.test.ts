// Right-sizing from the real audit logs, judged by the real operator process: an identity granted
// more than its workload uses (Kubernetes rules through the operator's Role, Vault paths through the
// operator's OpenBao policy) gets status.activity.rightSizing naming exactly the unused grants, and a
// narrower scope list. Once the evidence spans the whole window, unused privilege counts in the risk
// score. Applied to spec.scopes, the suggestion still lets the workload do everything it did, while
// the unused grants are gone. No token or secret value reaches status or nhictl's output.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentIdentity, RightSizingStatus, Scope } from '../../../src/api/v1alpha1/types.ts';
import type { ActivityReport } from '../../../src/cli/activity.ts';
import { repoRoot } from '../../../src/dev/components.ts';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import { agentIdentity, withScopes } from '../../../src/testing/agent-identity.ts';
import {
  AGENT_IDENTITIES,
  createIdentity,
  getIdentity,
  installVaultProvider,
  newNamespace,
  removeProvider,
  untilCondition,
} from '../../support/cluster.ts';
import { childProcessEnv, kubeConfig, testEnv } from '../../support/env.ts';
import { deployment, onTestCluster } from '../../support/fixtures.ts';
import { type OperatorProcess, startOperatorProcess } from '../../support/operator.ts';
import { eventually } from '../../support/wait.ts';
import { bao, serviceAccountToken, workloadLogin } from '../vault/support.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const env = testEnv();
const PROVIDER = 'rightsizing-vault';
/** Short, so the evidence spans a whole window within the test. */
const WINDOW = '1m';
let operator: OperatorProcess;
let ns: string;
/** Every token and secret value the test handled: none may appear in status or nhictl's output. */
const secrets: string[] = [];

const grantedScopes = (namespace: string): Scope[] => [
  {
    provider: 'kubernetes',
    rules: [
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['services'], verbs: ['get'] },
    ],
  },
  {
    provider: 'vault',
    providerRef: PROVIDER,
    paths: [
      { path: `secret/data/${namespace}/*`, capabilities: ['read', 'list', 'update'] },
      { path: `secret/metadata/${namespace}/*`, capabilities: ['list'] },
    ],
  },
];

const run = promisify(execFile);
const nhictl = (...args: string[]) =>
  run(process.execPath, [join(repoRoot, 'bin', 'nhictl.js'), ...args, '-n', ns], { env: childProcessEnv() });

async function httpCode(call: () => Promise<unknown>): Promise<number> {
  try {
    await call();
    return 200;
  } catch (error) {
    if (error instanceof k8s.ApiException) return error.code;
    throw error;
  }
}

/** The workload: its ServiceAccount's token against the apiserver, and its Vault login. */
interface Workload {
  kube: k8s.CoreV1Api;
  vaultToken: string;
}

async function workload(identity: AgentIdentity): Promise<Workload> {
  const request = await core.createNamespacedServiceAccountToken({
    namespace: ns,
    name: 'reader',
    body: { spec: { audiences: [], expirationSeconds: 600 } },
  });
  const cluster = kc.getCurrentCluster();
  if (!cluster || !request.status?.token) throw new Error('no cluster or token');
  const user = new k8s.KubeConfig();
  user.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'reader', token: request.status.token }],
    contexts: [{ name: 'reader', cluster: cluster.name, user: 'reader', namespace: ns }],
    currentContext: 'reader',
  });
  const role = identity.status?.vault?.role ?? '';
  const login = await workloadLogin(
    env.bao.addr,
    env.bao.kubernetesAuthMount,
    role,
    await serviceAccountToken(ns, 'reader', ''),
  );
  if (!login.token) throw new Error(`login to ${role}: HTTP ${login.status}`);
  secrets.push(request.status.token, login.token);
  return { kube: user.makeApiClient(k8s.CoreV1Api), vaultToken: login.token };
}

/** What the workload does for its purpose: reads one ConfigMap, lists them, reads two secrets. */
async function normalUse(w: Workload): Promise<void> {
  expect(await httpCode(() => w.kube.readNamespacedConfigMap({ namespace: ns, name: 'settings' }))).toBe(200);
  expect(await httpCode(() => w.kube.listNamespacedConfigMap({ namespace: ns }))).toBe(200);
  for (const key of ['a', 'b'])
    expect((await bao(env.bao.addr, w.vaultToken, 'GET', `secret/data/${ns}/app/${key}`)).status).toBe(200);
}

async function rightSizing(
  what: string,
  accept: (r: RightSizingStatus) => boolean,
  w: Workload,
  timeoutMs = 60_000,
): Promise<{ identity: AgentIdentity; rightSizing: RightSizingStatus }> {
  return eventually(
    what,
    async () => {
      await normalUse(w);
      const identity = await getIdentity(ns, 'reader');
      const r = identity?.status?.activity?.rightSizing;
      return identity && r && accept(r) ? { identity, rightSizing: r } : undefined;
    },
    { timeoutMs, intervalMs: 2000 },
  );
}

beforeAll(async () => {
  await installOperatorManifests(kc);
  ns = await newNamespace('rightsizing');
  await installVaultProvider({ name: PROVIDER, allowedNamespaces: { names: [ns] } });
  await kc
    .makeApiClient(k8s.AppsV1Api)
    .createNamespacedDeployment({ namespace: ns, body: deployment('reader', 'reader') });
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'settings' } } });
  for (const key of ['a', 'b']) {
    const value = randomBytes(24).toString('hex');
    secrets.push(value);
    await bao(env.bao.addr, env.bao.token, 'POST', `secret/data/${ns}/app/${key}`, { data: { v: value } });
  }
  await createIdentity(agentIdentity('reader', onTestCluster(ns), withScopes(...grantedScopes(ns))));
  operator = startOperatorProcess([
    `--activity-kube-audit-log=${env.apiserverAuditLog}`,
    `--activity-vault-audit-log=${env.baoAuditLog}`,
    `--activity-window=${WINDOW}`,
    `--watch-namespace=${ns}`,
  ]);
}, 60_000);

afterAll(async () => {
  await operator?.stop();
  if (ns) await core.deleteNamespace({ name: ns }).catch(() => {});
  await removeProvider(PROVIDER).catch(() => {});
});

describe('right-sizing in status.activity', () => {
  let w: Workload;
  let suggested: Scope[];

  it('names exactly the grants the workload never used, and suggests the scopes of what it did', async () => {
    const provisioned = await untilCondition(ns, 'reader', 'Ready', 'True', 90_000);
    w = await workload(provisioned);
    const { identity, rightSizing: r } = await rightSizing(
      'rightSizing with the uses of both backends counted',
      (r) => r.suggestedScopes?.length === 2,
      w,
      90_000,
    );
    expect(r.backends).toEqual(['kubernetes', 'vault']);
    expect(r.unused).toEqual([
      {
        field: 'spec.scopes[0].rules[0]',
        grant: 'get,list,watch on configmaps (core)',
        unused: 'watch on configmaps',
      },
      { field: 'spec.scopes[0].rules[1]', grant: 'get on services (core)', unused: 'never used' },
      {
        field: 'spec.scopes[1].paths[0]',
        grant: `read,list,update on secret/data/${ns}/*`,
        unused: `list,update never used; used only under secret/data/${ns}/app/*`,
      },
      { field: 'spec.scopes[1].paths[1]', grant: `list on secret/metadata/${ns}/*`, unused: 'never used' },
    ]);
    suggested = r.suggestedScopes ?? [];
    // Risk, written with it, counts unused privilege only once the evidence spans the window.
    const factors = identity.status?.risk?.factors.map((f) => f.id) ?? [];
    expect(factors.includes('likelihood.unused-privilege')).toBe(r.complete);
    // nhictl activity judges the same from the files themselves.
    const files = ['--kube-audit-log', env.apiserverAuditLog, '--vault-audit-log', env.baoAuditLog];
    const cli = JSON.parse(
      (await nhictl('activity', 'reader', '--since', '1m', ...files, '-o', 'json')).stdout,
    ) as ActivityReport;
    expect(cli.rightSizing?.unused).toEqual(r.unused);
    expect(cli.rightSizing?.suggestedScopes).toEqual(r.suggestedScopes);
    const table = (await nhictl('activity', 'reader', '--since', '1m', ...files)).stdout;
    expect(table).toContain('unused grants since');
    expect(table).toContain(`secret/data/${ns}/app/*`);
    const stored = [JSON.stringify(identity.status), JSON.stringify(cli), table];
    expect(secrets.length).toBeGreaterThanOrEqual(4);
    for (const text of stored) {
      expect(text).not.toContain('hmac-sha256');
      for (const value of secrets) expect(text).not.toContain(value);
    }
    expect(suggested).toEqual([
      {
        provider: 'kubernetes',
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
      },
      {
        provider: 'vault',
        providerRef: PROVIDER,
        paths: [{ path: `secret/data/${ns}/app/*`, capabilities: ['read'] }],
      },
    ]);
  }, 240_000);

  it('counts the unused privilege in the risk score once the audit logs and the identity span the window', async () => {
    const { identity } = await rightSizing('a complete right-sizing', (r) => r.complete, w, 150_000);
    const risk = await eventually(
      'status.risk with unused privilege',
      async () => {
        const live = await getIdentity(ns, 'reader');
        return live?.status?.risk?.factors.some((f) => f.id === 'likelihood.unused-privilege')
          ? live.status.risk
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 1000 },
    );
    expect(identity.status?.activity?.rightSizing?.unused).toHaveLength(4);
    const risky = (await nhictl('risk', 'reader')).stdout;
    expect(risky).toContain('likelihood.unused-privilege');
    expect(risky).toContain('suggested scopes (still allow every request seen):');
    expect(risk.factors.find((f) => f.id === 'likelihood.unused-privilege')?.description).toContain(
      'spec.scopes[0].rules[1] never used',
    );
  }, 200_000);

  it('applied, the suggestion still lets the workload do all it did, and the unused grants are gone', async () => {
    const objects = kc.makeApiClient(k8s.CustomObjectsApi);
    await objects.patchNamespacedCustomObject(
      { ...AGENT_IDENTITIES, namespace: ns, name: 'reader', body: { spec: { scopes: suggested } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    // The narrowed Role and policy are in force once the unused grants are refused.
    await eventually(
      'the unused grants refused',
      async () => {
        const services = await httpCode(() => w.kube.readNamespacedService({ namespace: ns, name: 'x' }));
        const write = await bao(env.bao.addr, w.vaultToken, 'POST', `secret/data/${ns}/app/c`, {
          data: { v: 'c' },
        });
        const list = await bao(env.bao.addr, w.vaultToken, 'LIST', `secret/metadata/${ns}/app`);
        return services === 403 && write.status === 403 && list.status === 403 ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    await normalUse(w);
    const { rightSizing: r } = await rightSizing(
      'every remaining grant used',
      (r) => r.unused.length === 0,
      w,
    );
    expect(r.suggestedScopes).toBeUndefined();
  }, 120_000);
});
