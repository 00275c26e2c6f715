import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { badAgentIdentities, goodAgentIdentities } from '../../test/fixtures/bad-agentidentities.ts';
import { awsScope, randomSecret, vaultScope } from '../../test/fixtures/scopes-and-secrets.ts';
import { Marks } from '../api/v1alpha1/annotations.ts';
import { repositoryRoot } from '../api/v1alpha1/generate.ts';
import type { EnvironmentRules, IdentityPolicy } from '../api/v1alpha1/types.ts';
import {
  agentIdentity,
  inEnvironment,
  inNamespace,
  type Modifier,
  withScopes,
  withSecrets,
} from '../testing/agent-identity.ts';
import { admissionPolicyViolations, validateObject } from './admission.ts';
import { describe as describeViolation, type Violation } from './violation.ts';

const defaultPolicy = parse(
  readFileSync(join(repositoryRoot, 'config/policies/default-identitypolicy.yaml'), 'utf8'),
) as IdentityPolicy;

function policy(
  rules: Partial<Record<'development' | 'staging' | 'production', EnvironmentRules>>,
): IdentityPolicy {
  return {
    apiVersion: 'nhi.dev/v1alpha1',
    kind: 'IdentityPolicy',
    metadata: { name: 'default' },
    spec: { environments: rules },
  };
}

/** The offline context of an identity admitted into a namespace labelled with its own environment. */
const inItsEnvironment = (object: unknown) => ({
  namespaceLabels: {
    [Marks.environment]: (object as { spec?: { environment?: string } }).spec?.environment ?? 'production',
  },
});

/** True when some violation names `field` in its path or its message. */
const names = (violations: Violation[], field: string) =>
  violations.some((v) => describeViolation(v).includes(field));

describe('bad AgentIdentities are rejected offline, naming the field', () => {
  it('covers at least 20 cases', () => {
    expect(badAgentIdentities.length).toBeGreaterThanOrEqual(20);
  });

  it.each(badAgentIdentities.map((b) => [b.case, b] as const))('%s', (_case, bad) => {
    const violations = validateObject(bad.identity, defaultPolicy, inItsEnvironment(bad.identity));
    expect(violations.length, 'expected a rejection').toBeGreaterThan(0);
    expect(names(violations, bad.field), violations.map(describeViolation).join('\n')).toBe(true);
    const stage = { schema: 'schema:', cel: 'cel:', policy: 'policy:', apiserver: 'meta:' }[bad.by];
    expect(violations.some((v) => v.rule.startsWith(stage))).toBe(true);
  });
});

describe('good AgentIdentities are admitted', () => {
  it.each(goodAgentIdentities.map((g) => [g.case, g.identity] as const))('%s', (_case, identity) => {
    expect(validateObject(identity, defaultPolicy, inItsEnvironment(identity))).toEqual([]);
  });

  it.each(['support-bot.yaml', 'crm-sync.yaml', 'clustercredentialproviders.yaml'])('sample %s', (file) => {
    const text = readFileSync(join(repositoryRoot, 'config/samples', file), 'utf8');
    const objects = parseAllDocuments(text).map((d) => d.toJS() as { apiVersion: string });
    for (const object of objects.filter((o) => o.apiVersion === 'nhi.dev/v1alpha1')) {
      expect(validateObject(object, defaultPolicy, inItsEnvironment(object))).toEqual([]);
    }
  });

  it('the default IdentityPolicy itself', () => {
    expect(validateObject(defaultPolicy)).toEqual([]);
  });
});

describe('admission policy rules beyond the default IdentityPolicy', () => {
  const identity = (...modifiers: Modifier[]) => agentIdentity('bot', inNamespace('agents'), ...modifiers);

  it.each([
    [
      'a provider not in allowedProviders',
      policy({ production: { allowedProviders: ['kubernetes', 'vault'] } }),
      identity(withScopes(awsScope())),
      'spec.scopes[].provider aws not allowed for production (IdentityPolicy default): allowedProviders kubernetes, vault',
    ],
    [
      'a secret backend whose provider is not allowed',
      policy({ production: { allowedProviders: ['kubernetes'] } }),
      identity(withSecrets({ name: 'k', backend: 'vault-kv', generator: { type: 'random' } })),
      'spec.secrets[].backend vault-kv not allowed',
    ],
    [
      'a namespace not in allowedNamespaces',
      policy({ production: { allowedNamespaces: ['payments', 'team-*'] } }),
      identity(),
      'metadata.namespace agents not allowed for production (IdentityPolicy default): allowedNamespaces payments, team-*',
    ],
    [
      'an environment the policy does not govern',
      policy({ development: { maxTTL: '24h' } }),
      identity(),
      'spec.environment production has no rules in IdentityPolicy default',
    ],
    [
      'a forbidden Kubernetes resource',
      policy({ production: { forbiddenResources: ['secrets'] } }),
      identity(
        withScopes({
          provider: 'kubernetes',
          rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }],
        }),
      ),
      'spec.scopes[].rules[].resources secrets forbidden',
    ],
    [
      'a forbidden Vault path',
      policy({ production: { forbiddenResources: ['sys/*'] } }),
      identity(withScopes(vaultScope('sys/*'))),
      'spec.scopes[].paths[].path sys/* forbidden',
    ],
    [
      'a rotation interval above the maximum (named by secret)',
      policy({ production: { maxRotationInterval: '24h' } }),
      identity(withSecrets(randomSecret('api-key'))),
      'spec.secrets[api-key].rotationInterval 168h exceeds maxRotationInterval 24h',
    ],
  ])('rejects %s', (_case, params, object, message) => {
    const violations = validateObject(object, params, inItsEnvironment(object));
    expect(violations.map((v) => v.message).join('\n')).toContain(message);
  });

  it.each([
    ['a namespace matching a prefix glob', policy({ production: { allowedNamespaces: ['ag*'] } })],
    ['any namespace with *', policy({ production: { allowedNamespaces: ['*'] } })],
    ['an environment with no limits', policy({ production: {} })],
  ])('admits %s', (_case, params) => {
    expect(validateObject(identity(), params, inItsEnvironment(identity()))).toEqual([]);
  });

  it('denies everything when the IdentityPolicy is missing (parameterNotFoundAction Deny)', () => {
    expect(validateObject(identity())).toEqual([
      expect.objectContaining({
        rule: 'policy:params-not-found',
        message: expect.stringContaining('no IdentityPolicy named default'),
      }),
    ]);
  });

  it('does not re-judge an UPDATE that leaves spec alone (the operator adding a finalizer)', () => {
    const old = identity(inEnvironment('production'), withScopes(awsScope(['iam:*'])));
    const updated = structuredClone(old);
    updated.metadata.finalizers = ['nhi.dev/revoke-credentials'];
    const asRecord = (o: unknown) => o as Record<string, unknown>;
    expect(admissionPolicyViolations(asRecord(updated), defaultPolicy, 'UPDATE', asRecord(old))).toEqual([]);
    expect(admissionPolicyViolations(asRecord(updated), defaultPolicy, 'CREATE')).not.toEqual([]);
  });
});

describe('objects that are not nhi.dev kinds', () => {
  it.each([
    ['a Deployment', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' } }],
    [
      'an unknown nhi.dev kind',
      { apiVersion: 'nhi.dev/v1alpha1', kind: 'AgentGroup', metadata: { name: 'x' } },
    ],
    ['an unknown version', { apiVersion: 'nhi.dev/v1', kind: 'AgentIdentity', metadata: { name: 'x' } }],
  ])('%s is reported, not validated', (_case, object) => {
    expect(validateObject(object, defaultPolicy, inItsEnvironment(object))).toEqual([
      expect.objectContaining({ field: 'kind', rule: 'meta:kind' }),
    ]);
  });
});

describe('requester checks are bounded (the apiserver CEL cost budget)', () => {
  const withRules = (verbs: string[], resourceNames?: string[]) =>
    agentIdentity(
      'many-grants',
      inEnvironment('development'),
      withScopes({
        provider: 'kubernetes',
        rules: [
          {
            apiGroups: ['', 'apps'],
            resources: ['configmaps', 'pods'],
            verbs,
            ...(resourceNames ? { resourceNames } : {}),
          },
        ],
      }),
    );

  it.each([
    ['12 checks (2 groups x 2 resources x 3 verbs)', withRules(['get', 'list', 'watch']), false],
    ['24 checks (2 x 2 x 3 verbs x 2 names)', withRules(['get', 'list', 'watch'], ['one', 'two']), true],
    ['16 checks (2 x 2 x 2 verbs x 2 names)', withRules(['get', 'list'], ['one', 'two']), false],
    ['4 checks with names', withRules(['get'], ['one']), false],
  ])('%s', (_case, identity, refused) => {
    const violations = validateObject(identity, defaultPolicy, inItsEnvironment(identity));
    expect(violations.some((v) => v.rule === 'policy:requester-checks-bounded')).toBe(refused);
    if (refused) expect(names(violations, 'spec.scopes[].rules')).toBe(true);
  });
});
