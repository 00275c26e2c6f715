// The chart's optional monitoring objects, and their kustomize twins: the PrometheusRule (only where
// the Prometheus Operator's API is served, or forced; the job selector and the runbook base URL as
// the values say; rules promtool accepts) and the Grafana dashboard ConfigMap for the sidecar.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { DASHBOARD, JOB_SELECTOR, RULES, RUNBOOK_BASE } from '../../../scripts/observability.ts';
import { repoRoot } from '../../../src/dev/components.ts';
import { kubeConfig } from '../../support/env.ts';
import { namespaceBody } from '../../support/namespaces.ts';
import { promtool } from '../../support/prometheus.ts';
import { uniqueName } from '../../support/wait.ts';
import { CHART, find, helm, kubectl, type Manifest, parseManifests, runTool, valuesFile } from './support.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const PROMETHEUS_RULE_API = 'monitoring.coreos.com/v1/PrometheusRule';

interface RuleGroups {
  groups: Array<{
    name: string;
    rules: Array<{ alert: string; expr: string; annotations: Record<string, string> }>;
  }>;
}

const sourceRules = parse(readFileSync(join(repoRoot, RULES), 'utf8')) as RuleGroups;
const sourceDashboard = JSON.parse(readFileSync(join(repoRoot, DASHBOARD), 'utf8'));
const allRules = (groups: RuleGroups['groups']) => groups.flatMap((g) => g.rules);

let namespace: string;

async function render(values: Record<string, unknown>, extra: string[] = []): Promise<Manifest[]> {
  return parseManifests(
    await helm(['template', 'nhi', CHART, '--namespace', namespace, '-f', valuesFile(values), ...extra]),
  );
}

const rulesOn = { prometheus: { rules: { enabled: true } } };
const ruleOf = (objects: Manifest[]) =>
  find(objects, 'PrometheusRule') as (Manifest & { spec: RuleGroups }) | undefined;

beforeAll(async () => {
  namespace = uniqueName('nhi-monitoring');
  await core.createNamespace({ body: namespaceBody(namespace) });
});

afterAll(async () => {
  if (namespace) await core.deleteNamespace({ name: namespace }).catch(() => undefined);
});

describe('the PrometheusRule in the chart (prometheus.rules)', () => {
  it.each([
    ['off by default, even where the API is served', {}, [`--api-versions=${PROMETHEUS_RULE_API}`], false],
    ['on but the API is not served (no Prometheus Operator)', rulesOn, [], false],
    ['on where the API is served', rulesOn, [`--api-versions=${PROMETHEUS_RULE_API}`], true],
    ['on and forced without the API', { prometheus: { rules: { enabled: true, force: true } } }, [], true],
  ])('is rendered or not: %s', async (_label, values, extra, rendered) => {
    expect(Boolean(ruleOf(await render(values, extra)))).toBe(rendered);
  });

  it("selects the chart's own metrics Service by default, and carries the extra labels", async () => {
    const rule = ruleOf(
      await render({
        prometheus: { rules: { enabled: true, force: true, labels: { release: 'prometheus' } } },
      }),
    );
    expect(rule?.metadata?.namespace).toBe(namespace);
    expect(rule?.metadata?.labels).toMatchObject({
      release: 'prometheus',
      'app.kubernetes.io/part-of': 'nhi-operator',
    });
    const exprs = allRules(rule?.spec.groups ?? []).map((r) => r.expr);
    expect(exprs).toHaveLength(allRules(sourceRules.groups).length);
    for (const expr of exprs) {
      expect(expr).toContain('job="nhi-nhi-operator-metrics"');
      expect(expr).not.toContain(JOB_SELECTOR);
    }
  });

  it('uses prometheus.rules.selector and runbookBaseUrl when set, and promtool accepts the result', async () => {
    const rule = ruleOf(
      await render({
        prometheus: {
          rules: {
            enabled: true,
            force: true,
            selector: 'job="nhi", cluster="blue"',
            runbookBaseUrl: 'https://docs.example.com/nhi/runbooks/',
          },
        },
      }),
    );
    const rules = allRules(rule?.spec.groups ?? []);
    expect(rules.map((r) => r.alert)).toEqual(allRules(sourceRules.groups).map((r) => r.alert));
    for (const r of rules) {
      expect(r.expr).toContain('job="nhi", cluster="blue"');
      expect(r.annotations.runbook_url).toMatch(/^https:\/\/docs\.example\.com\/nhi\/runbooks#[a-z-]+$/);
      expect(r.annotations.runbook_url).not.toContain(RUNBOOK_BASE);
    }
    const file = join(mkdtempSync(join(tmpdir(), 'nhi-rendered-rules-')), 'rules.yaml');
    writeFileSync(file, stringify(rule?.spec));
    const checked = await promtool(['check', 'rules', file]);
    expect(checked.code, checked.output).toBe(0);
  });

  it('refuses a runbook base that is not a URL, naming the value', async () => {
    const result = await runTool('helm', [
      'template',
      'nhi-bad',
      CHART,
      '-f',
      valuesFile({ prometheus: { rules: { runbookBaseUrl: 'docs/runbooks.md' } } }),
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/\/prometheus\/rules\/runbookBaseUrl'/);
  });
});

describe('the Grafana dashboard in the chart (grafana.dashboard)', () => {
  it('is off by default', async () => {
    expect(find(await render({}), 'ConfigMap', 'nhi-nhi-operator-dashboard')).toBeUndefined();
  });

  it("is a ConfigMap with the sidecar's label holding config/grafana's dashboard, which the apiserver accepts", async () => {
    const objects = await render({
      grafana: { dashboard: { enabled: true, annotations: { grafana_folder: 'Security' } } },
    });
    const map = find(objects, 'ConfigMap', 'nhi-nhi-operator-dashboard') as unknown as k8s.V1ConfigMap;
    expect(map.metadata?.labels).toMatchObject({ grafana_dashboard: '1' });
    expect(map.metadata?.annotations).toEqual({ grafana_folder: 'Security' });
    expect(JSON.parse(map.data?.['nhi-operator.json'] ?? '')).toEqual(sourceDashboard);
    const output = await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: JSON.stringify(map) });
    expect(output).toMatch(/configmap\/nhi-nhi-operator-dashboard created \(server dry run\)/);
  });

  it('goes to the namespace asked for, with other labels (null drops the default one)', async () => {
    const map = find(
      await render({
        grafana: {
          dashboard: {
            enabled: true,
            namespace: 'monitoring',
            labels: { dashboards: 'platform', grafana_dashboard: null },
          },
        },
      }),
      'ConfigMap',
      'nhi-nhi-operator-dashboard',
    );
    expect(map?.metadata?.namespace).toBe('monitoring');
    expect(map?.metadata?.labels).toMatchObject({ dashboards: 'platform' });
    expect(map?.metadata?.labels).not.toHaveProperty('grafana_dashboard');
  });

  it('passes helm lint --strict with the rules forced and the dashboard on', async () => {
    const values = valuesFile({
      prometheus: { rules: { enabled: true, force: true } },
      grafana: { dashboard: { enabled: true } },
    });
    expect(await helm(['lint', '--strict', CHART, '--namespace', 'nhi-system', '-f', values])).toMatch(
      /1 chart\(s\) linted, 0 chart\(s\) failed/,
    );
  });
});

describe('the kustomize twins (config/prometheus, config/grafana)', () => {
  it('config/prometheus is a PrometheusRule in nhi-system holding the rule file as it is', async () => {
    const rule = ruleOf(parseManifests(await kubectl(['kustomize', join(repoRoot, 'config/prometheus')])));
    expect(rule?.metadata?.namespace).toBe('nhi-system');
    expect(rule?.spec).toEqual(sourceRules);
  });

  it('config/grafana is the dashboard ConfigMap with the sidecar label', async () => {
    const map = find(
      parseManifests(await kubectl(['kustomize', join(repoRoot, 'config/grafana')])),
      'ConfigMap',
      'nhi-operator-dashboard',
    ) as unknown as k8s.V1ConfigMap | undefined;
    expect(map?.metadata?.labels).toMatchObject({ grafana_dashboard: '1' });
    expect(JSON.parse(map?.data?.['nhi-operator.json'] ?? '')).toEqual(sourceDashboard);
  });
});
