import { describe, expect, it } from 'vitest';
import type { KubernetesScope, Scope, VaultScope } from '../../api/v1alpha1/types.ts';
import { parseCloudTrail, parseKubernetesAudit, parseVaultAudit } from './index.ts';
import { distinctUses, rightSize, ruleAllows, type Use, vaultPathMatches } from './rightsize.ts';
import { cloudTrailRecord, kubeAuditEvent, vaultAuditEntry } from './testing/fixtures.ts';

const user = 'system:serviceaccount:agents:bot';
const kube = (verb: string, resource: string, name?: string, code = 200, namespace = 'agents') =>
  parseKubernetesAudit(kubeAuditEvent({ user, verb, resource, code, namespace, ...(name ? { name } : {}) }));
const vault = (operation: string, path: string, error?: string) =>
  parseVaultAudit(vaultAuditEntry({ operation, path, role: 'r', ...(error ? { error } : {}) }));

function judge(
  scopes: Scope[],
  events: ReturnType<typeof kube>,
  backends = ['kubernetes', 'vault'] as const,
) {
  return rightSize({
    scopes,
    namespace: 'agents',
    uses: distinctUses(events),
    backends: [...backends],
    since: '2026-12-01T00:00:00.000Z',
    complete: true,
  });
}

const configRule = { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] };
const servicesRule = { apiGroups: [''], resources: ['services'], verbs: ['get'] };

describe('right-sizing Kubernetes rules', () => {
  it('reports the verbs and rules never used and suggests the rules of what was used', () => {
    const result = judge(
      [{ provider: 'kubernetes', rules: [configRule, servicesRule] }],
      [
        ...kube('get', 'configmaps', 'settings'),
        ...kube('list', 'configmaps'),
        ...kube('get', 'configmaps', 'x'),
      ],
    );
    expect(result.unused).toEqual([
      {
        field: 'spec.scopes[0].rules[0]',
        grant: 'get,list,watch on configmaps (core)',
        unused: 'watch on configmaps',
      },
      { field: 'spec.scopes[0].rules[1]', grant: 'get on services (core)', unused: 'never used' },
    ]);
    expect(result.suggestedScopes).toEqual([
      {
        provider: 'kubernetes',
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
      },
    ]);
  });

  it('cuts wildcards down to the groups, resources and verbs used', () => {
    const result = judge(
      [{ provider: 'kubernetes', rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] }],
      [...kube('get', 'configmaps', 'a'), ...kube('list', 'configmaps'), ...kube('get', 'secrets', 's')],
    );
    expect(result.unused[0]?.unused).toBe(
      'verbs * used only as get,list; resources * used only as configmaps,secrets; apiGroups * used only as core',
    );
    expect((result.suggestedScopes?.[0] as KubernetesScope | undefined)?.rules).toEqual([
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
    ]);
  });

  it('counts neither denied requests nor requests in another namespace as use', () => {
    const result = judge(
      [{ provider: 'kubernetes', rules: [servicesRule] }],
      [...kube('get', 'services', 'a', 403), ...kube('get', 'services', 'a', 200, 'elsewhere')],
    );
    expect(result.unused).toEqual([expect.objectContaining({ unused: 'never used' })]);
    expect(result.suggestedScopes).toEqual([]);
  });

  it('keeps a fully used grant as it is, and suggests nothing', () => {
    const result = judge([{ provider: 'kubernetes', rules: [servicesRule] }], kube('get', 'services', 'a'));
    expect(result.unused).toEqual([]);
    expect(result.suggestedScopes).toBeUndefined();
  });

  it('narrows resourceNames to the names used', () => {
    const rule = { apiGroups: [''], resources: ['configmaps'], verbs: ['get'], resourceNames: ['a', 'b'] };
    const result = judge([{ provider: 'kubernetes', rules: [rule] }], kube('get', 'configmaps', 'a'));
    expect(result.unused[0]?.unused).toBe('names b');
    expect((result.suggestedScopes?.[0] as KubernetesScope | undefined)?.rules[0]?.resourceNames).toEqual([
      'a',
    ]);
  });

  it.each<[string, Partial<Use>, boolean]>([
    ['a subresource by */sub', { resource: 'pods/log' }, true],
    ['another group', { apiGroup: 'apps' }, false],
    ['a list against resourceNames', { verb: 'list' }, false],
  ])('matches RBAC: %s', (_, change, allowed) => {
    const use: Use = {
      backend: 'kubernetes',
      verb: 'get',
      resource: 'configmaps',
      apiGroup: '',
      lastSeen: '',
      ...change,
    };
    const rule =
      change.resource === 'pods/log'
        ? { apiGroups: [''], resources: ['*/log'], verbs: ['get'] }
        : { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'], resourceNames: ['a'] };
    expect(ruleAllows(rule, { ...use, ...(change.verb === 'list' ? {} : { name: 'a' }) })).toBe(allowed);
  });
});

describe('right-sizing Vault paths', () => {
  const paths = (...grants: Array<[string, string[]]>): VaultScope => ({
    provider: 'vault',
    paths: grants.map(([path, capabilities]) => ({ path, capabilities })),
  });

  it('drops capabilities and paths never used, and narrows a glob to what was read', () => {
    const result = judge(
      [paths(['secret/data/crm/*', ['read', 'list', 'update']], ['secret/data/billing/*', ['read']])],
      [
        ...vault('read', 'secret/data/crm/api/key'),
        ...vault('read', 'secret/data/crm/api/other'),
        ...vault('update', 'auth/kubernetes/login'),
        ...vault('read', 'secret/data/billing/x', 'permission denied'),
      ],
    );
    expect(result.unused).toEqual([
      {
        field: 'spec.scopes[0].paths[0]',
        grant: 'read,list,update on secret/data/crm/*',
        unused: 'list,update never used; used only under secret/data/crm/api/*',
      },
      { field: 'spec.scopes[0].paths[1]', grant: 'read on secret/data/billing/*', unused: 'never used' },
    ]);
    expect(result.suggestedScopes).toEqual([paths(['secret/data/crm/api/*', ['read']])]);
  });

  it('narrows a glob read through one path to that path', () => {
    const result = judge([paths(['secret/data/crm/*', ['read']])], vault('read', 'secret/data/crm/key'));
    expect(result.suggestedScopes).toEqual([paths(['secret/data/crm/key', ['read']])]);
  });

  it.each([
    ['secret/data/a/*', 'secret/data/a/b/c', true],
    ['secret/data/a*', 'secret/data/ab', true],
    ['secret/data/+/key', 'secret/data/x/key', true],
    ['secret/data/+/key', 'secret/data/x/y/key', false],
    ['secret/data/a', 'secret/data/a/b', false],
  ])('matches Vault ACL paths: %s against %s', (pattern, path, expected) => {
    expect(vaultPathMatches(pattern, path)).toBe(expected);
  });
});

describe('right-sizing AWS actions from CloudTrail', () => {
  const roleArn = 'arn:aws:iam::111122223333:role/nhi-bot';
  const trail = (eventName: string) =>
    parseCloudTrail(cloudTrailRecord({ roleArn, eventName, secretId: 'crm/api' }));

  it('cuts actions to those CloudTrail saw, and judges AWS only when a trail was read', () => {
    const scope: Scope = {
      provider: 'aws',
      actions: ['secretsmanager:Get*', 'secretsmanager:DescribeSecret'],
      resources: ['arn:aws:secretsmanager:us-east-1:111122223333:secret:crm/*'],
    };
    const judged = judge([scope], trail('GetSecretValue'), ['kubernetes', 'vault', 'aws'] as never);
    expect(judged.unused[0]?.unused).toBe(
      'secretsmanager:DescribeSecret never used; secretsmanager:Get* used only as secretsmanager:GetSecretValue',
    );
    expect(judged.suggestedScopes).toEqual([{ ...scope, actions: ['secretsmanager:GetSecretValue'] }]);
    const unjudged = judge([scope], trail('GetSecretValue'));
    expect(unjudged.unused).toEqual([]);
    expect(unjudged.backends).toEqual(['kubernetes', 'vault']);
  });
});
