import { describe, expect, it } from 'vitest';
import type { AgentIdentity } from '../api/v1alpha1/types.ts';
import { classify } from '../governance/inventory/classify.ts';
import {
  agentIdentity,
  createdAt,
  withOwner,
  withPurpose,
  withSpec,
  withUid,
} from '../testing/agent-identity.ts';
import { renderInventoryTable, sourceConfig } from './inventory.ts';
import { renderTable } from './output.ts';
import { esc, renderHtmlReport } from './report.ts';
import { assessAll, countedMatrix, renderMatrix, renderRiskReport } from './risk.ts';

const NOW = new Date('2025-06-01T12:00:00Z');

function identity(name: string, spec: Partial<AgentIdentity['spec']> = {}): AgentIdentity {
  return agentIdentity(
    name,
    withUid(`uid-${name}`),
    createdAt('2025-05-01T00:00:00Z'),
    withOwner({ team: 'support-eng' }),
    withPurpose('tickets'),
    withSpec(spec),
  );
}

const risky = identity('<script>alert(1)</script>', {
  impact: { dataClassification: 'restricted', internetExposed: true },
  scopes: [{ provider: 'aws', actions: ['*'], resources: ['*'] }],
});
const calm = identity('calm-bot', { environment: 'development', impact: { dataClassification: 'public' } });

const items = classify({
  now: NOW,
  identities: [risky, calm],
  serviceAccounts: [
    { namespace: 'agents', name: 'stray' },
    { namespace: 'agents', name: 'default' },
  ],
  tokenSecrets: [],
  pods: [],
  vault: {
    roles: [
      {
        mount: 'kubernetes',
        name: 'old',
        boundServiceAccountNames: ['gone'],
        boundServiceAccountNamespaces: ['agents'],
        policies: [],
      },
    ],
  },
});

describe('sources from flags and the environment', () => {
  it.each<[string, Record<string, string | boolean>, NodeJS.ProcessEnv, string[]]>([
    ['nothing set: the cluster only', {}, {}, []],
    ['AWS from AWS_ENDPOINT_URL', {}, { AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' }, ['aws']],
    ['AWS from AWS_REGION', {}, { AWS_REGION: 'eu-west-1' }, ['aws']],
    ['AWS from the flag', { awsEndpoint: 'http://moto' }, {}, ['aws']],
    ['--no-aws wins', { aws: false }, { AWS_REGION: 'eu-west-1' }, []],
    ['Vault from BAO_*', {}, { BAO_ADDR: 'http://bao', BAO_TOKEN: 't' }, ['vault']],
    ['Vault from VAULT_*', {}, { VAULT_ADDR: 'http://vault', VAULT_TOKEN: 't' }, ['vault']],
    ['--no-vault wins', { vault: false }, { BAO_ADDR: 'http://bao', BAO_TOKEN: 't' }, []],
  ])('%s', (_name, options, env, enabled) => {
    const config = sourceConfig(options, env);
    expect(Object.keys(config).sort()).toEqual(enabled);
  });

  it('refuses a Vault address without a token, naming the variables', () => {
    expect(() => sourceConfig({ vaultAddr: 'http://bao' }, {})).toThrow(/BAO_TOKEN or VAULT_TOKEN/);
  });
});

describe('terminal output', () => {
  it('aligns table columns and cuts long cells', () => {
    expect(
      renderTable(
        ['A', 'LONG HEADER'],
        [
          ['x', 'y'],
          ['wide value', 'z'.repeat(60)],
        ],
        10,
      ).split('\n'),
    ).toEqual(['A           LONG HEADER', 'x           y', 'wide value  zzzzzzzzz…']);
  });

  it('renders the 5x5 matrix with counts in the right cells', () => {
    const assessed = assessAll([risky, calm], NOW);
    const cells = countedMatrix(assessed).flat();
    expect(cells.reduce((n, c) => n + c.count, 0)).toBe(2);
    expect(cells.find((c) => c.likelihood === 5 && c.impact === 5)?.count).toBe(1);
    const text = renderMatrix(countedMatrix(assessed));
    expect(text.split('\n')).toHaveLength(8);
    expect(text).toContain('5 Almost certain');
    expect(text).toContain('CRIT 1');
  });

  it('explains every score with its factors', () => {
    const text = renderRiskReport(assessAll([risky], NOW));
    expect(text).toContain('likelihood.can-escalate');
    expect(text).toContain('impact.environment');
    expect(text).toContain('Critical');
  });

  it('lists findings and the system rules under the inventory table', () => {
    const text = renderInventoryTable(items, { includeSystem: false });
    expect(text).toContain('[high] VaultRole old');
    expect(text).toContain('system accounts not judged');
    expect(text).not.toMatch(/^System/m);
  });
});

describe('the HTML report', () => {
  const html = renderHtmlReport({ generatedAt: NOW, sources: ['kubernetes', 'vault'], items });

  it.each([
    'summary',
    'risk-matrix',
    'identities-by-level',
    'shadow-identities',
    'dangling-trust',
    'wildcard-trust',
    'inventory',
    'system',
  ])('has the %s section', (id) => {
    expect(html).toContain(`<section id="${id}">`);
  });

  it('is self-contained: no scripts, no external assets', () => {
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link|src=|url\(/i);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('escapes names it did not choose', () => {
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(esc(`a<b>"c"&'d'`)).toBe('a&lt;b&gt;&quot;c&quot;&amp;&#39;d&#39;');
  });

  it('shows remediation deadlines and factors of each identity', () => {
    expect(html).toContain('remediate by <b');
    expect(html).toContain('2025-05-08');
    expect(html).toContain('likelihood.wildcard-actions');
  });
});

describe('activity in nhictl risk and the HTML report', () => {
  const observed = identity('reader', {
    scopes: [
      { provider: 'kubernetes', rules: [{ apiGroups: [''], resources: ['services'], verbs: ['get'] }] },
    ],
  });
  observed.status = {
    activity: {
      window: '24h',
      observedAt: NOW.toISOString(),
      backends: [],
      rightSizing: {
        since: '2025-05-31T12:00:00.000Z',
        complete: true,
        backends: ['kubernetes'],
        unused: [{ field: 'spec.scopes[0].rules[0]', grant: 'get on services (core)', unused: 'never used' }],
        suggestedScopes: [],
      },
      anomalies: [
        { kind: 'denial-burst', time: NOW.toISOString(), message: '12 requests denied within 300s' },
      ],
    },
  };
  const observedItems = classify({
    now: NOW,
    identities: [observed],
    serviceAccounts: [],
    tokenSecrets: [],
    pods: [],
  });
  const html = renderHtmlReport({ generatedAt: NOW, sources: ['kubernetes'], items: observedItems });

  it('counts the unused grants in the score and lists them with the suggested scopes', () => {
    const text = renderRiskReport(assessAll([observed], NOW));
    expect(text).toContain('likelihood.unused-privilege');
    expect(text).toContain('spec.scopes[0].rules[0]  get on services (core)  never used');
    expect(text).toContain('suggested scopes (still allow every request seen):');
    expect(html).toContain('<div class="unused-grants">');
    expect(html).toContain('scopes: []');
  });

  it('lists the anomalies and the unused grants as findings of the activity section', () => {
    expect(html).toContain('<section id="activity">');
    expect(html).toContain(
      '[warning] denial-burst at 2025-06-01T12:00:00.000Z: 12 requests denied within 300s',
    );
    expect(html).toContain('[info] 1 grant not (fully) used since 2025-05-31T12:00:00.000Z');
  });
});
