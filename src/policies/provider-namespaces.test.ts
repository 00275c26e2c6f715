// ClusterCredentialProvider spec.allowedNamespaces: the namespace matcher (names, prefixes, label
// selectors) and the violations the operator reports for PolicyCompliant.

import { describe, expect, it } from 'vitest';
import type {
  AllowedNamespaces,
  ClusterCredentialProvider,
  ClusterCredentialProviderSpec,
  LabelSelector,
} from '../api/v1alpha1/types.ts';
import { agentIdentity, inNamespace, withScopes } from '../testing/agent-identity.ts';
import {
  labelSelectorMatches,
  namespaceAllowed,
  ProviderNamespaceRules,
  providerNamespaceViolations,
} from './provider-namespaces.ts';

const tenantA = { 'nhi.dev/tenant': 'team-a', tier: 'gold' };

describe('labelSelectorMatches', () => {
  it.each<[string, LabelSelector, Record<string, string>, boolean]>([
    ['empty selector: every namespace', {}, {}, true],
    ['matchLabels equal', { matchLabels: { 'nhi.dev/tenant': 'team-a' } }, tenantA, true],
    ['matchLabels differ', { matchLabels: { 'nhi.dev/tenant': 'team-b' } }, tenantA, false],
    ['matchLabels missing key', { matchLabels: { owner: 'x' } }, tenantA, false],
    [
      'In: value listed',
      { matchExpressions: [{ key: 'tier', operator: 'In', values: ['gold', 'silver'] }] },
      tenantA,
      true,
    ],
    [
      'In: key missing',
      { matchExpressions: [{ key: 'zone', operator: 'In', values: ['eu'] }] },
      tenantA,
      false,
    ],
    [
      'NotIn: value listed',
      { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['gold'] }] },
      tenantA,
      false,
    ],
    [
      'NotIn: key missing matches',
      { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['eu'] }] },
      tenantA,
      true,
    ],
    ['Exists', { matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, tenantA, true],
    ['DoesNotExist', { matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, tenantA, false],
    [
      'every requirement must hold',
      {
        matchLabels: { 'nhi.dev/tenant': 'team-a' },
        matchExpressions: [{ key: 'tier', operator: 'In', values: ['silver'] }],
      },
      tenantA,
      false,
    ],
    [
      'a label named like an Object prototype member is not "present"',
      { matchExpressions: [{ key: 'constructor', operator: 'Exists' }] },
      {},
      false,
    ],
  ])('%s', (_case, selector, labels, expected) => {
    expect(labelSelectorMatches(selector, labels)).toBe(expected);
  });
});

describe('namespaceAllowed', () => {
  it.each<
    [string, AllowedNamespaces | undefined, string, Record<string, string> | undefined, boolean | 'unknown']
  >([
    ['unset: every namespace', undefined, 'anything', undefined, true],
    ['an exact name', { names: ['team-a'] }, 'team-a', undefined, true],
    ['an exact name is not a prefix', { names: ['team-a'] }, 'team-ab', undefined, false],
    ['a trailing * is a prefix', { names: ['team-a-*'] }, 'team-a-prod', undefined, true],
    ['the prefix itself matches', { names: ['team-a-*'] }, 'team-a-', undefined, true],
    ['a prefix does not match elsewhere', { names: ['team-a-*'] }, 'x-team-a-prod', undefined, false],
    ['* alone: every namespace', { names: ['*'] }, 'kube-system', undefined, true],
    [
      'names or selector: the selector',
      { names: ['x'], selector: { matchLabels: tenantA } },
      'n',
      tenantA,
      true,
    ],
    ['selector that does not match', { selector: { matchLabels: { tier: 'bronze' } } }, 'n', tenantA, false],
    ['selector, labels unknown', { selector: { matchLabels: tenantA } }, 'n', undefined, 'unknown'],
    [
      'a listed name needs no labels',
      { names: ['n'], selector: { matchLabels: tenantA } },
      'n',
      undefined,
      true,
    ],
    ['names only, labels unknown: decided', { names: ['x'] }, 'n', undefined, false],
  ])('%s', (_case, allowed, namespace, labels, expected) => {
    expect(namespaceAllowed(allowed, namespace, labels)).toBe(expected);
  });
});

function provider(name: string, spec: ClusterCredentialProviderSpec): ClusterCredentialProvider {
  return { apiVersion: 'nhi.dev/v1alpha1', kind: 'ClusterCredentialProvider', metadata: { name }, spec };
}

const vaultSpec = { address: 'https://vault.example:8200', auth: { tokenFile: { path: '/t' } } };
const vaultScope = (providerRef?: string) => ({
  provider: 'vault' as const,
  ...(providerRef && { providerRef }),
  paths: [{ path: 'secret/data/x/*', capabilities: ['read'] }],
});
const providers = new Map(
  [
    provider('vault', { vault: vaultSpec, allowedNamespaces: { names: ['shared-*'] } }),
    provider('team-a-vault', {
      vault: vaultSpec,
      allowedNamespaces: { selector: { matchLabels: { 'nhi.dev/tenant': 'team-a' } } },
    }),
    provider('open-vault', { vault: vaultSpec }),
  ].map((p) => [p.metadata.name, p] as const),
);

describe('providerNamespaceViolations', () => {
  it('names the provider and the namespace, on the providerRef that names it', () => {
    const identity = agentIdentity('bot', inNamespace('team-b'), withScopes(vaultScope('team-a-vault')));
    expect(providerNamespaceViolations(identity, providers, { 'nhi.dev/tenant': 'team-b' })).toEqual([
      {
        field: 'spec.scopes[0].providerRef',
        message:
          'ClusterCredentialProvider team-a-vault (named in providerRef) does not allow namespace team-b (its spec.allowedNamespaces): nothing is provisioned through it',
        rule: ProviderNamespaceRules.refused,
      },
    ]);
  });

  it('checks the default provider of the kind for a scope without providerRef', () => {
    const identity = agentIdentity('bot', inNamespace('team-b'), withScopes(vaultScope()));
    const [violation] = providerNamespaceViolations(identity, providers, {});
    expect(violation?.field).toBe('spec.scopes[0]');
    expect(violation?.message).toMatch(
      /^ClusterCredentialProvider vault \(the default vault provider\) does not allow namespace team-b/,
    );
  });

  it('checks the provider the credentials are recorded in when the spec names none', () => {
    const identity = agentIdentity('bot', inNamespace('shared-1'), withScopes(vaultScope()));
    identity.status = { providers: ['kubernetes', 'vault/team-a-vault'] };
    const [violation] = providerNamespaceViolations(identity, providers, {});
    expect(violation?.message).toMatch(
      /team-a-vault \(where this identity's vault credentials are recorded\)/,
    );
  });

  it('is quiet when the namespace is allowed, the provider sets no allowedNamespaces, or does not exist', () => {
    const allowed = agentIdentity(
      'bot',
      inNamespace('anywhere'),
      withScopes(vaultScope('team-a-vault'), vaultScope('open-vault'), vaultScope('gone')),
    );
    expect(providerNamespaceViolations(allowed, providers, { 'nhi.dev/tenant': 'team-a' })).toEqual([]);
  });

  it('fails closed when a selector decides and the namespace labels are not known', () => {
    const identity = agentIdentity('bot', inNamespace('team-a'), withScopes(vaultScope('team-a-vault')));
    expect(providerNamespaceViolations(identity, providers, undefined).map((v) => v.rule)).toEqual([
      ProviderNamespaceRules.unknown,
    ]);
  });

  it('reports a provider once, however many scopes use it', () => {
    const identity = agentIdentity('bot', inNamespace('team-b'), withScopes(vaultScope(), vaultScope()));
    expect(providerNamespaceViolations(identity, providers, {})).toHaveLength(1);
  });
});
