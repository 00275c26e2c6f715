import { describe, expect, it } from 'vitest';
import { kubernetesScope, randomSecret } from '../../test/fixtures/scopes-and-secrets.ts';
import {
  agentIdentity,
  inEnvironment,
  invalid,
  withScopes,
  withSecrets,
  withSpec,
} from '../testing/agent-identity.ts';
import { evaluate, evaluateMessage, evaluateRule, toCel } from './cel.ts';
import { celViolations, toJsonSchema, validateStructure } from './structural.ts';

const asRecord = (o: unknown) => o as Record<string, unknown>;

describe('validateStructure', () => {
  it('applies the schema defaults, as the apiserver does before admission', () => {
    const identity = agentIdentity(
      'bot',
      withScopes(kubernetesScope()),
      withSecrets(randomSecret('api-key')),
    );
    const { defaulted, violations } = validateStructure('AgentIdentity', asRecord(identity));
    expect(violations).toEqual([]);
    expect(defaulted.spec).toMatchObject({
      ttl: '2160h',
      credentialTTL: '15m',
      inactivityTimeout: '720h',
      orphanGracePeriod: '5m',
      quarantinePeriod: '24h',
      automountServiceAccountToken: false,
      scopes: [{ provider: 'kubernetes' }],
      secrets: [{ backend: 'kubernetes' }],
    });
  });

  it('drops a null field that is not nullable before defaulting, as the apiserver does', () => {
    const identity = agentIdentity('bot', withSpec({ ttl: null, impact: null } as never));
    const { defaulted, violations } = validateStructure('AgentIdentity', asRecord(identity));
    expect(violations).toEqual([]);
    expect(defaulted.spec).toMatchObject({ ttl: '2160h' });
    expect((defaulted.spec as Record<string, unknown>).impact).not.toBeNull();
  });

  it('drops status, which only the status subresource writes', () => {
    const identity = { ...agentIdentity('bot'), status: { phase: 42 } };
    expect(validateStructure('AgentIdentity', asRecord(identity)).violations).toEqual([]);
  });

  it('skips CEL rules when a blocking schema error is present, like the apiserver', () => {
    const identity = agentIdentity('bot', withSpec(invalid({ environment: 'prod', purpose: 'bot' })));
    const rules = validateStructure('AgentIdentity', asRecord(identity)).violations.map((v) => v.rule);
    expect(rules).toEqual(['schema:enum', 'schema:blocking']);
  });

  it('still runs CEL rules after a non-blocking error (a pattern mismatch)', () => {
    const identity = agentIdentity('bot', withSpec({ ttl: '90d', purpose: 'bot' }));
    const rules = validateStructure('AgentIdentity', asRecord(identity)).violations.map((v) => v.rule);
    expect(rules).toEqual(['schema:pattern', 'cel:purpose-not-trivial']);
  });

  it('reports a malformed duration once, by its pattern, not as a CEL evaluation error', () => {
    const identity = agentIdentity(
      'bot',
      inEnvironment('development'),
      withSpec({ credentialTTL: '1 hour' }),
    );
    const violations = validateStructure('AgentIdentity', asRecord(identity)).violations;
    expect(violations).toEqual([
      expect.objectContaining({ field: 'spec.credentialTTL', rule: 'schema:pattern' }),
    ]);
  });

  it.each([
    ['aws provider without region', { aws: { mode: 'irsa' } }, 'spec.aws.region'],
    ['irsa mode without irsa settings', { aws: { region: 'us-east-1' } }, 'spec.aws.irsa'],
    [
      'pod-identity mode without a cluster',
      { aws: { region: 'us-east-1', mode: 'pod-identity' } },
      'spec.aws.podIdentity',
    ],
    [
      'both backends',
      {
        aws: { region: 'us-east-1', mode: 'pod-identity', podIdentity: { clusterName: 'c' } },
        vault: { address: 'https://v', auth: { tokenFile: { path: '/t' } } },
      },
      'exactly one backend',
    ],
    ['no backend', {}, 'exactly one backend'],
    [
      'vault with two auth methods',
      { vault: { address: 'https://v', auth: { tokenFile: { path: '/t' }, kubernetes: { role: 'r' } } } },
      'spec.vault.auth',
    ],
    [
      'malformed boundary ARN',
      {
        aws: {
          region: 'us-east-1',
          mode: 'pod-identity',
          podIdentity: { clusterName: 'c' },
          permissionsBoundaryArn: 'boundary',
        },
      },
      'spec.aws.permissionsBoundaryArn',
    ],
  ])('ClusterCredentialProvider: %s', (_case, spec, field) => {
    const provider = {
      apiVersion: 'nhi.dev/v1alpha1',
      kind: 'ClusterCredentialProvider',
      metadata: { name: 'p' },
      spec,
    };
    const text = validateStructure('ClusterCredentialProvider', provider).violations.map(
      (v) => `${v.field}: ${v.message}`,
    );
    expect(text.join('\n')).toContain(field);
  });

  it.each([
    [
      'maxCredentialTTL above maxTTL',
      { production: { maxTTL: '1h', maxCredentialTTL: '2h' } },
      'spec.environments.production.maxCredentialTTL',
    ],
    ['no environments', {}, 'spec.environments'],
    [
      'an unknown provider',
      { staging: { allowedProviders: ['gcp'] } },
      'spec.environments.staging.allowedProviders[0]',
    ],
    [
      'a malformed namespace glob',
      { staging: { allowedNamespaces: ['*team'] } },
      'spec.environments.staging.allowedNamespaces[0]',
    ],
  ])('IdentityPolicy: %s', (_case, environments, field) => {
    const policy = {
      apiVersion: 'nhi.dev/v1alpha1',
      kind: 'IdentityPolicy',
      metadata: { name: 'p' },
      spec: { environments },
    };
    expect(validateStructure('IdentityPolicy', policy).violations.map((v) => v.field)).toContain(field);
  });
});

describe('celViolations', () => {
  const schema = {
    type: 'object' as const,
    description: 'x',
    properties: { n: { type: 'integer' as const, description: 'n' } },
    'x-kubernetes-validations': [
      { id: 'immutable', rule: 'self.n == oldSelf.n', message: 'n is immutable' },
      {
        id: 'small',
        rule: 'self.n < 10',
        messageExpression: "'n ' + string(self.n) + ' is too big'",
        fieldPath: '.n',
      },
    ],
  };

  it('skips transition rules (oldSelf) on create and reports the others at their fieldPath', () => {
    expect(celViolations(schema, { n: 12 }, 'spec')).toEqual([
      { field: 'spec.n', message: 'n 12 is too big', rule: 'cel:small' },
    ]);
  });
});

describe('toJsonSchema', () => {
  it('rejects unknown fields where Kubernetes would (strict field validation)', () => {
    const schema = toJsonSchema({
      type: 'object',
      description: 'x',
      properties: { a: { type: 'string', description: 'a' } },
    });
    expect(schema).toMatchObject({ additionalProperties: false });
  });

  it('keeps maps open', () => {
    const schema = toJsonSchema({
      type: 'object',
      description: 'x',
      additionalProperties: { type: 'string' },
    });
    expect(schema.additionalProperties).toEqual({ type: 'string' });
  });
});

describe('CEL evaluation', () => {
  it.each([
    ["duration('1h30m') == duration('90m')", true],
    ["duration('2160h') >= duration('15m')", true],
    ["'  a  '.trim().size() >= 10", false],
    ["['iam:*', 'S3:GetObject'].map(a, a.lowerAscii())", ['iam:*', 's3:getobject']],
    ['has(self.a) && !has(self.b)', true],
    ['self.n + 1 == 3', true],
    ["{'aws-secrets-manager': 'aws'}['aws-secrets-manager']", 'aws'],
    ["['a', 'b'].filter(x, x != 'a').join(', ')", 'b'],
  ])('%s', (expression, expected) => {
    expect(evaluate(expression, { self: { a: 1, n: 2 } })).toEqual({ ok: true, value: expected });
  });

  it('passes JSON integers as CEL ints, like the apiserver', () => {
    expect(toCel({ n: 3, x: 1.5, l: [1] })).toEqual({ n: 3n, x: 1.5, l: [1n] });
  });

  it('returns errors instead of throwing', () => {
    expect(evaluate("duration('10d')", {})).toMatchObject({ ok: false });
    expect(evaluate('self.missing', { self: {} })).toMatchObject({ ok: false });
    expect(evaluate('(((', {})).toMatchObject({ ok: false, error: expect.stringContaining('compile error') });
    expect(evaluateRule("'x'", {})).toMatchObject({ ok: false, error: expect.stringContaining('not bool') });
  });

  it('falls back to the static message when a messageExpression fails', () => {
    expect(evaluateMessage('self.missing', { self: {} }, 'fallback')).toBe('fallback');
    expect(evaluateMessage("'ttl ' + self.ttl", { self: { ttl: '1h' } }, 'fallback')).toBe('ttl 1h');
  });
});
