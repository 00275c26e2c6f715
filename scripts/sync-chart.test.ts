import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import {
  clusterRules,
  defaultWorkloadKinds,
  driftedOutputs,
  expectedOutputs,
  identityRules,
  kustomizeRoles,
  leaseRules,
  packageVersion,
  repositoryRoot,
  securityRules,
} from './sync-chart.ts';

const read = (path: string) => readFileSync(join(repositoryRoot, path), 'utf8');
const operatorRules = [...clusterRules, ...identityRules, ...leaseRules];
const allRules = [...operatorRules, ...securityRules];
const verbsOn = (rules: typeof allRules, resource: string) =>
  rules
    .filter((r) => r.apiGroups.includes('nhi.dev') && r.resources.includes(resource))
    .flatMap((r) => r.verbs);

describe('scripts/sync-chart.ts outputs', () => {
  it('are committed as the script writes them (run `npx tsx scripts/sync-chart.ts`)', () => {
    expect(driftedOutputs()).toEqual([]);
  });

  it.each([...expectedOutputs().keys()].filter((p) => p.endsWith('.yaml')))('%s is valid YAML', (path) => {
    for (const doc of parseAllDocuments(expectedOutputs().get(path) ?? '')) expect(doc.errors).toEqual([]);
  });

  it('version the chart and the kustomize image by package.json', () => {
    const version = packageVersion(repositoryRoot);
    expect(parse(read('charts/nhi-operator/Chart.yaml')).appVersion).toBe(version);
    expect(parse(read('config/default/kustomization.yaml')).images[0].newTag).toBe(version);
  });
});

describe('the RBAC table', () => {
  it('justifies every rule', () => {
    for (const rule of allRules) expect(rule.why.join(' ').length, rule.resources.join()).toBeGreaterThan(40);
  });

  it('never grants a wildcard, a cluster-scoped RBAC kind, or a token', () => {
    for (const rule of allRules) {
      expect([...rule.apiGroups, ...rule.resources, ...rule.verbs]).not.toContain('*');
      expect(rule.resources).not.toContain('clusterroles');
      expect(rule.resources).not.toContain('clusterrolebindings');
      expect(rule.resources).not.toContain('serviceaccounts/token');
    }
  });

  it('gives escalate and bind on roles only, never on clusterroles', () => {
    const lifting = allRules.filter((r) => r.verbs.includes('escalate') || r.verbs.includes('bind'));
    expect(lifting.map((r) => r.resources)).toEqual([['roles']]);
  });

  it("uses the chart's default workload kinds in config/rbac", () => {
    const values = parse(read('charts/nhi-operator/values.yaml'));
    expect(values.rbac.workloadKinds).toEqual(defaultWorkloadKinds);
    const identities = parseAllDocuments(kustomizeRoles())
      .map((d) => d.toJS())
      .find((o) => o.metadata.name === 'nhi-operator-identities');
    for (const kind of defaultWorkloadKinds)
      expect(identities.rules).toContainEqual({
        apiGroups: [kind.apiGroup],
        resources: kind.resources,
        verbs: ['get'],
      });
  });

  it('gives the protected-control verbs to nhi-security and revoke to the operator alone', () => {
    expect(verbsOn(securityRules, 'agentidentities')).toEqual(
      expect.arrayContaining(['lock', 'abandon', 'rotate']),
    );
    expect(verbsOn(securityRules, 'agentidentities')).not.toContain('revoke');
    expect(verbsOn(operatorRules, 'agentidentities')).toContain('revoke');
    for (const verb of ['lock', 'abandon', 'rotate'])
      expect(verbsOn(operatorRules, 'agentidentities')).not.toContain(verb);
  });
});
