// Activity anomalies from the real apiserver audit log, found by the real operator process with the
// thresholds of the IdentityPolicy (development: a 20 s baseline period, 3 denials within a minute):
// normal repeated use during and after learning finds nothing; then a first use of a granted but
// never used action, a request from a new source address (the apiserver records X-Forwarded-For),
// a burst of denials and a request after the identity was locked each become an entry in
// status.activity.anomalies, a Warning Event and an `anomaly` audit record, once, with no token in any.

import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActivityAnomaly, AgentIdentity } from '../../../src/api/v1alpha1/types.ts';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import { agentIdentity, withScopes } from '../../../src/testing/agent-identity.ts';
import {
  AGENT_IDENTITIES,
  createIdentity,
  getIdentity,
  newNamespace,
  untilCondition,
} from '../../support/cluster.ts';
import { kubeConfig, testEnv } from '../../support/env.ts';
import { deployment, onTestCluster } from '../../support/fixtures.ts';
import { type OperatorProcess, startOperatorProcess } from '../../support/operator.ts';
import { eventually } from '../../support/wait.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const POLICY = { group: 'nhi.dev', version: 'v1alpha1', plural: 'identitypolicies', name: 'default' };
const BASELINE_MS = 20_000;
let operator: OperatorProcess;
let ns: string;
let agent: k8s.KubeConfig;
let token: string;

const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

async function code(call: () => Promise<unknown>): Promise<number> {
  try {
    await call();
    return 200;
  } catch (error) {
    if (error instanceof k8s.ApiException) return error.code;
    throw error;
  }
}

/** A GET as the agent, through a proxy that says it came from `forwardedFor`. */
function getForwarded(path: string, forwardedFor: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = new URL(agent.getCurrentCluster()?.server ?? '');
    const options: import('node:https').RequestOptions = {
      hostname: server.hostname,
      port: server.port,
      path,
      headers: { 'X-Forwarded-For': forwardedFor },
    };
    agent.applyToHTTPSOptions(options).then(() => {
      const req = request(options, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    }, reject);
  });
}

const api = () => agent.makeApiClient(k8s.CoreV1Api);
async function normalUse(): Promise<void> {
  expect(await code(() => api().readNamespacedConfigMap({ namespace: ns, name: 'settings' }))).toBe(200);
  expect(await code(() => api().listNamespacedConfigMap({ namespace: ns }))).toBe(200);
}

async function status(): Promise<AgentIdentity> {
  const live = await getIdentity(ns, 'agent');
  if (!live) throw new Error('identity gone');
  return live;
}

async function anomaly(
  kind: ActivityAnomaly['kind'],
  during?: () => Promise<void>,
): Promise<ActivityAnomaly> {
  return eventually(
    `a ${kind} anomaly`,
    async () => {
      await during?.();
      return (await status()).status?.activity?.anomalies?.find((a) => a.kind === kind);
    },
    { timeoutMs: 45_000, intervalMs: 1000 },
  );
}

beforeAll(async () => {
  await installOperatorManifests(kc);
  await custom.patchClusterCustomObject(
    {
      ...POLICY,
      body: {
        spec: {
          environments: {
            development: { anomalies: { baselinePeriod: '20s', denialBurst: 3, denialBurstWindow: '1m' } },
          },
        },
      },
    },
    merge,
  );
  ns = await newNamespace('anomalies');
  await kc
    .makeApiClient(k8s.AppsV1Api)
    .createNamespacedDeployment({ namespace: ns, body: deployment('agent', 'agent') });
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'settings' } } });
  await core.createNamespacedService({
    namespace: ns,
    body: { metadata: { name: 'crm' }, spec: { ports: [{ port: 80 }] } },
  });
  await createIdentity(
    agentIdentity(
      'agent',
      onTestCluster(ns),
      withScopes({
        provider: 'kubernetes',
        rules: [
          { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] },
          { apiGroups: [''], resources: ['services'], verbs: ['get'] },
        ],
      }),
    ),
  );
  operator = startOperatorProcess([
    `--activity-kube-audit-log=${testEnv().apiserverAuditLog}`,
    `--watch-namespace=${ns}`,
  ]);
  await untilCondition(ns, 'agent', 'Ready', 'True', 60_000);
  const minted = await core.createNamespacedServiceAccountToken({
    namespace: ns,
    name: 'agent',
    body: { spec: { audiences: [], expirationSeconds: 600 } },
  });
  token = minted.status?.token ?? '';
  const cluster = kc.getCurrentCluster();
  if (!cluster || !token) throw new Error('no cluster or token');
  agent = new k8s.KubeConfig();
  agent.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'agent', token }],
    contexts: [{ name: 'agent', cluster: cluster.name, user: 'agent', namespace: ns }],
    currentContext: 'agent',
  });
}, 90_000);

afterAll(async () => {
  await operator?.stop();
  if (ns) await core.deleteNamespace({ name: ns }).catch(() => {});
  await custom
    .patchClusterCustomObject(
      { ...POLICY, body: { spec: { environments: { development: { anomalies: null } } } } },
      merge,
    )
    .catch(() => {});
});

describe('activity anomalies', () => {
  it('finds nothing in normal repeated use, while learning and after the baseline period', async () => {
    const learnt = await eventually(
      'a baseline of the normal use',
      async () => {
        await normalUse();
        const baseline = (await status()).status?.activity?.baseline;
        return baseline?.actions.length === 2 ? baseline : undefined;
      },
      { timeoutMs: 45_000, intervalMs: 1000 },
    );
    expect(learnt.actions).toEqual(['kubernetes get configmaps', 'kubernetes list configmaps']);
    expect(learnt.sources).toEqual(['127.0.0.1']);
    const after = Date.parse(learnt.since) + BASELINE_MS;
    const observed = await eventually(
      'an observation after the baseline period',
      async () => {
        await normalUse();
        const activity = (await status()).status?.activity;
        return activity && Date.parse(activity.observedAt) > after + 5000 ? activity : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    expect(observed.anomalies).toBeUndefined();
  }, 120_000);

  it('reports a first use of a granted action never seen, and a request from a new source, once each', async () => {
    expect(await code(() => api().readNamespacedService({ namespace: ns, name: 'crm' }))).toBe(200);
    const first = await anomaly('first-use');
    expect(first.message).toContain('first use of kubernetes get services');
    expect(await getForwarded(`/api/v1/namespaces/${ns}/configmaps/settings`, '10.9.9.9')).toBe(200);
    const source = await anomaly('unexpected-source');
    expect(source.message).toContain('request from 10.9.9.9');
    // Used again: known now, no second report.
    expect(await code(() => api().readNamespacedService({ namespace: ns, name: 'crm' }))).toBe(200);
    await normalUse();
    const later = await eventually(
      'the next observation',
      async () => {
        const activity = (await status()).status?.activity;
        return activity?.baseline?.actions.includes('kubernetes get services') ? activity : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 1000 },
    );
    expect(later.anomalies?.filter((a) => a.kind === 'first-use')).toHaveLength(1);
  }, 120_000);

  it('reports a burst of denials', async () => {
    for (let i = 0; i < 3; i++)
      expect(await code(() => api().listNamespacedSecret({ namespace: ns }))).toBe(403);
    const burst = await anomaly('denial-burst');
    expect(burst.message).toBe('3 requests denied within 60s (threshold 3)');
  }, 60_000);

  it('reports a request made with the credentials after the identity was locked', async () => {
    await custom.patchNamespacedCustomObject(
      { ...AGENT_IDENTITIES, namespace: ns, name: 'agent', body: { spec: { locked: true } } },
      merge,
    );
    await untilCondition(ns, 'agent', 'Quarantined', 'True', 60_000);
    const after = await anomaly('after-quarantine', async () => {
      await code(() => api().readNamespacedConfigMap({ namespace: ns, name: 'settings' }));
    });
    expect(after.message).toMatch(/request(s)? after the identity was quarantined at/);
  }, 90_000);

  it('each anomaly is a Warning Event and an audit record, and none holds the token', async () => {
    const events = await eventually(
      'the anomaly Events',
      async () => {
        const list = await core.listNamespacedEvent({ namespace: ns });
        const reasons = new Set(list.items.map((e) => e.reason));
        return ['FirstSeenAction', 'UnexpectedSource', 'DenialBurst', 'UseAfterQuarantine'].every((r) =>
          reasons.has(r),
        )
          ? list.items
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 1000 },
    );
    const anomalyEvents = events.filter((e) =>
      ['FirstSeenAction', 'UnexpectedSource', 'DenialBurst'].includes(e.reason ?? ''),
    );
    expect(anomalyEvents.every((e) => e.type === 'Warning' && (e.count ?? 1) === 1)).toBe(true);
    const records = readFileSync(operator.auditLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { action: string; resource: string; detail?: string });
    const anomalies = records.filter((r) => r.action === 'anomaly');
    expect(anomalies.filter((r) => r.resource === 'activity:first-use')).toHaveLength(1);
    expect(new Set(anomalies.map((r) => r.resource))).toEqual(
      new Set([
        'activity:first-use',
        'activity:unexpected-source',
        'activity:denial-burst',
        'activity:after-quarantine',
      ]),
    );
    const stored = [
      JSON.stringify((await status()).status),
      JSON.stringify(events),
      JSON.stringify(anomalies),
    ];
    for (const text of stored) expect(text).not.toContain(token);
  }, 60_000);
});
