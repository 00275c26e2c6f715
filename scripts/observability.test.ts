// The alerts' runbook links land on a section of docs/runbooks.md, and the dashboard is one Grafana
// can load through the sidecar: every query on the chosen data source and job, panel ids unique.
// (promtool and a real Prometheus check the expressions: test/integration/observability.)

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DASHBOARD, RULES, RUNBOOK_ANCHORS, RUNBOOK_BASE } from './observability.ts';
import { repositoryRoot } from './sync-chart.ts';

/** Grafana's data source variable, as the dashboard's panels name it. */
const DATASOURCE = ['$', '{datasource}'].join('');
const read = (path: string) => readFileSync(join(repositoryRoot, path), 'utf8');

/** The anchors GitHub gives docs/runbooks.md: one per heading, and every explicit <a id>. */
function anchorsOf(markdown: string): Set<string> {
  const headings = [...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
    (m[1] ?? '')
      .toLowerCase()
      .replace(/[^a-z0-9 _-]/g, '')
      .replace(/ /g, '-'),
  );
  const ids = [...markdown.matchAll(/<a id="([^"]+)"/g)].map((m) => m[1] ?? '');
  return new Set([...headings, ...ids]);
}

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: Array<{ expr: string; datasource: { uid: string } }>;
}

const dashboard = JSON.parse(read(DASHBOARD)) as { uid: string; panels: Panel[] };
const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => [p.title, t] as const));
const alerts = (
  parse(read(RULES)) as {
    groups: Array<{ rules: Array<{ alert: string; annotations: Record<string, string> }> }>;
  }
).groups.flatMap((g) => g.rules);

describe('runbook links', () => {
  it.each(Object.entries(RUNBOOK_ANCHORS))(
    '%s links to a section of docs/runbooks.md (#%s)',
    (_alert, anchor) => {
      expect([...anchorsOf(read('docs/runbooks.md'))]).toContain(anchor);
    },
  );

  it.each(alerts.map((a) => [a.alert, a.annotations.runbook_url] as const))(
    '%s links through the base URL the chart replaces',
    (alert, url) => {
      expect(url).toBe(`${RUNBOOK_BASE}#${RUNBOOK_ANCHORS[alert]}`);
    },
  );
});

describe('the Grafana dashboard', () => {
  it('has a fixed uid and unique panel ids, so a re-import replaces it', () => {
    expect(dashboard.uid).toBe('nhi-operator-overview');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it.each(queries)('panel %s queries the chosen data source and job', (_title, target) => {
    expect(target.datasource.uid).toBe(DATASOURCE);
    expect(target.expr).toContain('job=~"$job"');
  });
});
