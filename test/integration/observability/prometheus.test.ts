// The alerts and the dashboard against the real thing: a Prometheus server (the Debian binary) on a
// loopback port scrapes the real operator process, which reconciles two AgentIdentities, and loads
// config/prometheus/nhi-operator.rules.yaml. Every alert expression and every dashboard query must
// evaluate (an empty result is fine where nothing is wrong) and name only metrics the operator
// exports; every rule group must load and evaluate with health ok.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DASHBOARD, RULES } from '../../../scripts/observability.ts';
import { repoRoot } from '../../../src/dev/components.ts';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import { agentIdentity, withScopes, withSpec } from '../../../src/testing/agent-identity.ts';
import { createIdentity, getIdentity } from '../../support/cluster.ts';
import { kubeConfig } from '../../support/env.ts';
import { deployment, onTestCluster, readConfigMaps } from '../../support/fixtures.ts';
import { namespaceBody } from '../../support/namespaces.ts';
import { type OperatorProcess, startOperatorProcess } from '../../support/operator.ts';
import { metricNames, type PrometheusServer, startPrometheus } from '../../support/prometheus.ts';
import { eventually, uniqueName } from '../../support/wait.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);

/** The scrape job; the rules select job=~".*nhi-operator.*" (scripts/observability.ts JOB_SELECTOR). */
const JOB = 'nhi-operator';
const namespace = uniqueName('observability');
const lease = uniqueName('nhi-operator-observability');

interface Panel {
  title?: string;
  targets?: Array<{ expr?: string }>;
  panels?: Panel[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; definition?: string }> };
}

const dashboard = JSON.parse(readFileSync(join(repoRoot, DASHBOARD), 'utf8')) as Dashboard;
const rules = parse(readFileSync(join(repoRoot, RULES), 'utf8')) as {
  groups: Array<{ name: string; rules: Array<{ alert: string; expr: string }> }>;
};

/** Grafana's variables as Grafana would fill them in for this Prometheus. */
const withVariables = (expr: string) =>
  expr.replaceAll('$job', JOB).replaceAll('$__rate_interval', '1m').replaceAll('$__range', '5m');

const panelQueries = (panels: Panel[]): Array<[string, string]> =>
  panels.flatMap((p) => [
    ...(p.targets ?? [])
      .filter((t) => t.expr)
      .map((t, i) => [`${p.title} #${i + 1}`, t.expr ?? ''] as [string, string]),
    ...panelQueries(p.panels ?? []),
  ]);
const dashboardQueries = panelQueries(dashboard.panels);
const alertExpressions = rules.groups.flatMap((g) =>
  g.rules.map((r) => [r.alert, r.expr] as [string, string]),
);

let operator: OperatorProcess;
let prometheus: PrometheusServer;
let exported: Set<string>;

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(expr: string) {
  return prometheus.api<{ resultType: string; result: Sample[] }>('/api/v1/query', { query: expr });
}

async function vector(expr: string): Promise<Sample[]> {
  const answer = await query(expr);
  if (answer.status !== 'success') throw new Error(`${expr}: ${answer.error}`);
  return answer.data.result;
}

beforeAll(async () => {
  await installOperatorManifests(kc);
  await core.createNamespace({ body: namespaceBody(namespace) });
  await apps.createNamespacedDeployment({ namespace, body: deployment('bound-bot', 'bound-bot') });
  await createIdentity(agentIdentity('bound-bot', onTestCluster(namespace), withScopes(readConfigMaps)));
  // Names a Deployment that does not exist: never Ready, so the not-Ready gauge has a series.
  await createIdentity(
    agentIdentity(
      'lost-bot',
      onTestCluster(namespace),
      withScopes(readConfigMaps),
      withSpec({ workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'not-there' } }),
    ),
  );

  operator = startOperatorProcess(
    [
      `--watch-namespace=${namespace}`,
      '--leader-elect=true',
      `--lease-name=${lease}`,
      '--lease-duration=4s',
      '--renew-deadline=3s',
      '--retry-period=500ms',
    ],
    { POD_NAMESPACE: 'kube-system', POD_NAME: 'observability-operator' },
  );
  const port = await eventually(
    'the operator to listen',
    async () => /"port":(\d+)/.exec(operator.logs())?.[1],
    {
      timeoutMs: 30_000,
    },
  );
  prometheus = await startPrometheus({
    targets: [{ job: JOB, target: `127.0.0.1:${port}` }],
    ruleFiles: [join(repoRoot, RULES)],
  });

  // Both identities reconciled and scraped, and enough samples for rate() over [1m].
  for (const name of ['bound-bot', 'lost-bot'])
    await eventually(
      `${name} to have a phase`,
      async () => (await getIdentity(namespace, name))?.status?.phase,
    );
  await eventually(
    'a scrape showing both identities',
    async () => Number((await vector(`sum(nhi_agent_identities{job="${JOB}"})`))[0]?.value[1]) === 2,
    { timeoutMs: 30_000, intervalMs: 500 },
  );
  await eventually(
    'two scrapes of reconcile counts',
    async () =>
      (await vector(`rate(controller_runtime_reconcile_total{job="${JOB}", result="success"}[1m])`)).length >
      0,
    { timeoutMs: 30_000, intervalMs: 500 },
  );
  exported = new Set(
    (await prometheus.api<string[]>('/api/v1/label/__name__/values', { 'match[]': `{job="${JOB}"}` })).data,
  );
  exported.add('up'); // Prometheus's own series for the target, which the alerts and the dashboard read
}, 150_000);

afterAll(async () => {
  await prometheus?.stop();
  await operator?.stop();
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
});

describe('a real Prometheus scraping the real operator', () => {
  it('scrapes the operator, which leads and reports its identities', async () => {
    expect(Number((await vector(`up{job="${JOB}"}`))[0]?.value[1])).toBe(1);
    expect(Number((await vector(`leader_election_master_status{job="${JOB}"}`))[0]?.value[1])).toBe(1);
    const notReady = await vector(`nhi_agent_identity_not_ready_since_timestamp_seconds{job="${JOB}"}`);
    expect(notReady.map((s) => `${s.metric.identity_namespace}/${s.metric.identity_name}`)).toContain(
      `${namespace}/lost-bot`,
    );
  });

  it.each(alertExpressions)('alert %s evaluates, naming only exported metrics', async (_alert, expr) => {
    const answer = await query(expr);
    expect(answer.error).toBeUndefined();
    expect(answer.status).toBe('success');
    expect(metricNames(expr).filter((name) => !exported.has(name))).toEqual([]);
  });

  it.each(dashboardQueries)(
    'dashboard panel %s evaluates, naming only exported metrics',
    async (_panel, expr) => {
      const filled = withVariables(expr);
      const answer = await query(filled);
      expect(answer.error).toBeUndefined();
      expect(answer.status).toBe('success');
      expect(metricNames(filled).filter((name) => !exported.has(name))).toEqual([]);
    },
  );

  it("fills the dashboard's job variable with the operator's job", async () => {
    const variable = dashboard.templating.list.find((v) => v.name === 'job');
    const [, selector, label] = /^label_values\((.+), (\w+)\)$/.exec(variable?.definition ?? '') ?? [];
    expect(selector && label).toBeTruthy();
    const values = await prometheus.api<string[]>(`/api/v1/label/${label}/values`, {
      'match[]': selector ?? '',
    });
    expect(values.data).toContain(JOB);
  });

  it('loads every rule group, and each rule evaluates with health ok', async () => {
    const loaded = await eventually(
      'every rule evaluated',
      async () => {
        const answer = await prometheus.api<{
          groups: Array<{ name: string; rules: Array<{ name: string; health: string; lastError?: string }> }>;
        }>('/api/v1/rules');
        const all = answer.data.groups.flatMap((g) => g.rules);
        return all.length > 0 && all.every((r) => r.health !== 'unknown') ? answer.data.groups : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 500 },
    );
    expect(loaded.map((g) => g.name).sort()).toEqual(rules.groups.map((g) => g.name).sort());
    for (const group of loaded)
      for (const rule of group.rules)
        expect({ rule: rule.name, health: rule.health, error: rule.lastError || undefined }).toEqual({
          rule: rule.name,
          health: 'ok',
          error: undefined,
        });
  });
});
