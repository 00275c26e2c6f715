// The alerting rules as promtool sees them: valid, their unit tests pass, every alert carries what
// on-call needs (a severity, a summary, a description, a runbook link into docs/runbooks.md), selects
// only the operator's series, and has a promtool case where it fires and one where it stays quiet.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  JOB_SELECTOR,
  RULE_TESTS,
  RULES,
  RUNBOOK_ANCHORS,
  RUNBOOK_BASE,
} from '../../../scripts/observability.ts';
import { repoRoot } from '../../../src/dev/components.ts';
import { metricNames, promtool } from '../../support/prometheus.ts';

interface Rule {
  alert?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface AlertCase {
  alertname: string;
  eval_time: string;
  exp_alerts?: unknown[];
}

const read = (path: string) => parse(readFileSync(join(repoRoot, path), 'utf8'));
const groups = (read(RULES) as { groups: Array<{ name: string; rules: Rule[] }> }).groups;
const alerts = groups.flatMap((g) => g.rules).filter((r): r is Rule & { alert: string } => Boolean(r.alert));
const cases = (read(RULE_TESTS) as { tests: Array<{ alert_rule_test?: AlertCase[] }> }).tests.flatMap(
  (t) => t.alert_rule_test ?? [],
);
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('the Prometheus alerting rules', () => {
  it('pass promtool check rules', async () => {
    const result = await promtool(['check', 'rules', RULES], repoRoot);
    expect(result.output).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(result.code).toBe(0);
  });

  it('pass their promtool unit tests (config/prometheus/tests)', async () => {
    const result = await promtool(['test', 'rules', RULE_TESTS], repoRoot);
    expect(result.output).toMatch(/SUCCESS/);
    expect(result.code, result.output).toBe(0);
  });

  it('link each alert to its own runbook anchor, and every anchor to an alert', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual(Object.keys(RUNBOOK_ANCHORS).sort());
    expect(new Set(Object.values(RUNBOOK_ANCHORS)).size).toBe(alerts.length);
  });

  it.each(alerts.map((a) => [a.alert, a] as const))(
    '%s has a severity, a summary, a description and a runbook_url into docs/runbooks.md',
    (name, alert) => {
      expect(['critical', 'warning']).toContain(alert.labels?.severity);
      expect(alert.annotations?.summary?.length).toBeGreaterThan(10);
      expect(alert.annotations?.description?.length).toBeGreaterThan(60);
      expect(alert.annotations?.runbook_url).toBe(`${RUNBOOK_BASE}#${RUNBOOK_ANCHORS[name]}`);
    },
  );

  it.each(alerts.map((a) => [a.alert, a.expr] as const))(
    "%s selects only the operator's series (the selector the chart replaces)",
    (_name, expr) => {
      const names = metricNames(expr);
      expect(names.length).toBeGreaterThan(0);
      for (const metric of names)
        expect(expr).toMatch(new RegExp(`${literal(metric)}\\{[^}]*${literal(JOB_SELECTOR)}`));
    },
  );

  it.each(alerts.map((a) => a.alert))('%s fires in a promtool case and stays quiet in another', (name) => {
    const mine = cases.filter((c) => c.alertname === name);
    expect(mine.some((c) => (c.exp_alerts ?? []).length > 0)).toBe(true);
    expect(mine.some((c) => (c.exp_alerts ?? []).length === 0)).toBe(true);
  });
});

describe('metricNames (what the Prometheus test checks against the names the operator exports)', () => {
  it.each([
    ['absent(up{job=~"x"} == 1)', ['up']],
    [
      'sum by (namespace, le) (rate(a_bucket{name="q"}[5m])) / on (namespace) group_left sum(b_total offset 5m)',
      ['a_bucket', 'b_total'],
    ],
    ['time() - max by (phase) (c{phase!~"Revoked|Denied"}) > 1800', ['c']],
    [
      'histogram_quantile(0.99, sum(rate(d_bucket[$__rate_interval])) without (pod)) or vector(0)',
      ['d_bucket'],
    ],
  ])('finds the metric names in %s', (expr, names) => {
    expect(metricNames(expr).sort()).toEqual(names);
  });
});
