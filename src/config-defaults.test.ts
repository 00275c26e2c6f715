// The operator's defaults live in src/config.ts (FLAGS). The Helm chart's values and the flag table
// of docs/install.md restate them for their readers; these checks keep them the same, so a default
// changed in one place fails here until the others say it too.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repositoryRoot } from './api/v1alpha1/generate.ts';
import { flagDefaults } from './config.ts';

const read = (path: string) => readFileSync(join(repositoryRoot, path), 'utf8');

/** NHI_* variable -> the chart value it is set from (templates/deployment.yaml). */
function chartValueByEnv(): Map<string, string> {
  const template = read('charts/nhi-operator/templates/deployment.yaml');
  const pairs = template.matchAll(/- name: (NHI_\w+)\s+value: \{\{ (?:join "," )?\.Values\.([\w.]+)/g);
  return new Map([...pairs].map(([, env, path]) => [env as string, path as string]));
}

function valueAt(values: unknown, path: string): string | undefined {
  let at: unknown = values;
  for (const key of path.split('.')) at = (at as Record<string, unknown> | undefined)?.[key];
  if (at === undefined) return undefined;
  return Array.isArray(at) ? at.join(',') : String(at);
}

describe('the operator defaults, restated', () => {
  it("the chart's values.yaml gives every flag it sets the default src/config.ts has", () => {
    const values = parse(read('charts/nhi-operator/values.yaml'));
    const byEnv = chartValueByEnv();
    const compared = flagDefaults().flatMap((f) => {
      const path = byEnv.get(f.env);
      return path && f.default !== undefined
        ? [{ flag: f.flag, chart: valueAt(values, path), config: f.default }]
        : [];
    });
    expect(compared.length).toBeGreaterThanOrEqual(10);
    expect(compared.filter((c) => c.chart !== c.config)).toEqual([]);
  });

  it("docs/install.md's flag table gives every default src/config.ts has", () => {
    const rows = new Map(
      [...read('docs/install.md').matchAll(/^\| `--([a-z0-9-]+)` +\| `(\w+)` +\| ([^|]+?) +\|/gm)].map(
        ([, flag, env, cell]) => [flag as string, { env, cell: (cell as string).trim() }],
      ),
    );
    const wrong = flagDefaults().flatMap((f) => {
      const row = rows.get(f.flag);
      if (!row || f.default === undefined || !row.cell.startsWith('`')) return [];
      return row.cell === `\`${f.default}\`` && row.env === f.env
        ? []
        : [{ flag: f.flag, docs: row, config: f }];
    });
    expect(rows.size).toBeGreaterThanOrEqual(10);
    expect(wrong).toEqual([]);
  });
});
