import { describe, expect, it } from 'vitest';
import type {
  AgentIdentitySpec,
  AgentIdentityStatus,
  Condition,
  PolicyRule,
  Scope,
} from '../../api/v1alpha1/types.ts';
import { type FactorSubject, impactFactors, likelihoodFactors } from './factors.ts';
import { analyzeGrants, isBroadAwsResource, isBroadVaultPath } from './grants.ts';

const NOW = new Date('2025-06-01T12:00:00Z');
const CREATED = '2025-05-30T12:00:00Z';

const cond = (type: string, status: Condition['status'], reason = type, message = ''): Condition => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: CREATED,
});

const activityWith = (complete: boolean): AgentIdentityStatus['activity'] => ({
  window: '24h',
  observedAt: CREATED,
  backends: [],
  rightSizing: {
    since: CREATED,
    complete,
    backends: ['kubernetes'],
    unused: [{ field: 'spec.scopes[0].rules[0]', grant: 'get on services (core)', unused: 'never used' }],
  },
});

type Loose<T> = { [K in keyof T]?: T[K] | undefined };

/**
 * A well-behaved identity: bound, used, short-lived, narrow scopes, no secrets: no likelihood
 * factor. Fields given as undefined are removed, so a case can take a default away.
 */
function subject(
  spec: Loose<AgentIdentitySpec> = {},
  status: Loose<AgentIdentityStatus> = {},
): FactorSubject {
  return JSON.parse(
    JSON.stringify({
      creationTimestamp: CREATED,
      spec: {
        owner: { team: 'support-eng' },
        purpose: 'answer tickets',
        environment: 'production',
        workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'bot' },
        ttl: '720h',
        credentialTTL: '15m',
        impact: { dataClassification: 'internal' },
        ...spec,
      },
      status: {
        lastUsed: '2025-06-01T11:00:00Z',
        conditions: [cond('WorkloadBound', 'True')],
        ...status,
      },
    }),
  );
}

const aws = (actions: string[], resources: string[]): Scope => ({ provider: 'aws', actions, resources });
const vault = (path: string, ...capabilities: string[]): Scope => ({
  provider: 'vault',
  paths: [{ path, capabilities }],
});
const k8s = (...rules: PolicyRule[]): Scope => ({ provider: 'kubernetes', rules });
const rule = (verbs: string[], resources: string[], apiGroups = ['']): PolicyRule => ({
  verbs,
  resources,
  apiGroups,
});

const ids = (s: FactorSubject) => likelihoodFactors(s, NOW).map((factor) => `${factor.id}:${factor.weight}`);

describe('likelihood factors', () => {
  it('finds none for a short-lived, bound, used identity with narrow scopes', () => {
    const narrow = subject({
      scopes: [
        aws(
          ['secretsmanager:GetSecretValue'],
          ['arn:aws:secretsmanager:us-east-1:111122223333:secret:crm/*'],
        ),
        vault('secret/data/crm/*', 'read'),
        k8s(rule(['get'], ['configmaps'])),
      ],
    });
    expect(likelihoodFactors(narrow, NOW)).toEqual([]);
  });

  it.each<[string, FactorSubject, string[]]>([
    ['ttl over 90 days', subject({ ttl: '4320h' }), ['likelihood.long-lived-identity:1']],
    ['ttl of exactly 90 days', subject({ ttl: '2160h' }), []],
    ['missing ttl takes the CRD default (90 days)', subject({ ttl: undefined }), []],
    [
      'credentialTTL over an hour',
      subject({ credentialTTL: '12h' }),
      ['likelihood.long-lived-credentials:2'],
    ],
    ['credentialTTL of one hour', subject({ credentialTTL: '1h' }), []],
    [
      'a secret rotated daily, on time',
      subject(
        { secrets: [{ name: 'key', generator: { type: 'random' }, rotationInterval: '24h' }] },
        {
          secrets: [
            { name: 'key', lastRotated: '2025-06-01T06:00:00Z', nextRotation: '2025-06-02T06:00:00Z' },
          ],
        },
      ),
      ['likelihood.static-secrets:1'],
    ],
    [
      'a secret rotated every two weeks',
      subject({ secrets: [{ name: 'key', generator: { type: 'random' }, rotationInterval: '336h' }] }),
      ['likelihood.static-secrets:1', 'likelihood.long-rotation-interval:1'],
    ],
    [
      'a secret rotated every 90 days',
      subject({ secrets: [{ name: 'key', generator: { type: 'random' }, rotationInterval: '2160h' }] }),
      ['likelihood.static-secrets:1', 'likelihood.long-rotation-interval:2'],
    ],
    [
      'a secret past its nextRotation by more than an hour',
      subject(
        { secrets: [{ name: 'key', generator: { type: 'random' }, rotationInterval: '24h' }] },
        { secrets: [{ name: 'key', nextRotation: '2025-06-01T10:00:00Z' }] },
      ),
      ['likelihood.static-secrets:1', 'likelihood.rotation-overdue:2'],
    ],
    [
      'a secret never rotated although the identity is older than its interval',
      subject({ secrets: [{ name: 'key', generator: { type: 'random' }, rotationInterval: '24h' }] }),
      ['likelihood.static-secrets:1', 'likelihood.rotation-overdue:2'],
    ],
    [
      'no overdue rotation while quarantined',
      subject(
        { secrets: [{ name: 'key', generator: { type: 'random' }, rotationInterval: '24h' }] },
        { conditions: [cond('WorkloadBound', 'True'), cond('Quarantined', 'True', 'Locked')] },
      ),
      ['likelihood.static-secrets:1', 'likelihood.quarantined:1'],
    ],
    [
      'AWS action wildcard',
      subject({ scopes: [aws(['s3:Get*'], ['arn:aws:s3:::bucket/*'])] }),
      ['likelihood.wildcard-actions:2'],
    ],
    [
      'AWS resource *',
      subject({ scopes: [aws(['s3:GetObject'], ['*'])] }),
      ['likelihood.wildcard-resources:2'],
    ],
    [
      'AWS * on * (escalation too)',
      subject({ scopes: [aws(['*'], ['*'])] }),
      ['likelihood.wildcard-actions:2', 'likelihood.wildcard-resources:2', 'likelihood.can-escalate:3'],
    ],
    [
      'iam:PassRole',
      subject({ scopes: [aws(['iam:PassRole'], ['arn:aws:iam::1:role/x'])] }),
      ['likelihood.can-escalate:3'],
    ],
    [
      'iam:CreateRole',
      subject({ scopes: [aws(['iam:CreateRole'], ['arn:aws:iam::1:role/x'])] }),
      ['likelihood.can-escalate:3'],
    ],
    [
      'iam:AttachRolePolicy (case-insensitive)',
      subject({ scopes: [aws(['IAM:attachrolepolicy'], ['arn:aws:iam::1:role/x'])] }),
      ['likelihood.can-escalate:3'],
    ],
    ['iam:GetRole is read-only', subject({ scopes: [aws(['iam:GetRole'], ['arn:aws:iam::1:role/x'])] }), []],
    [
      'sts:AssumeRole on every role',
      subject({ scopes: [aws(['sts:AssumeRole'], ['arn:aws:iam::1:role/*'])] }),
      ['likelihood.wildcard-resources:2', 'likelihood.can-escalate:3'],
    ],
    [
      'sts:AssumeRole on one role',
      subject({ scopes: [aws(['sts:AssumeRole'], ['arn:aws:iam::1:role/reader'])] }),
      [],
    ],
    ['Vault path *', subject({ scopes: [vault('*', 'read')] }), ['likelihood.wildcard-vault-paths:2']],
    [
      'Vault secret/data/*',
      subject({ scopes: [vault('secret/data/*', 'read')] }),
      ['likelihood.wildcard-vault-paths:2'],
    ],
    [
      'Vault + segment',
      subject({ scopes: [vault('secret/data/+/config', 'read')] }),
      ['likelihood.wildcard-vault-paths:2'],
    ],
    [
      'Vault sudo',
      subject({ scopes: [vault('secret/data/crm/key', 'sudo')] }),
      ['likelihood.can-escalate:3'],
    ],
    [
      'Vault writes policies',
      subject({ scopes: [vault('sys/policies/acl/x', 'update')] }),
      ['likelihood.can-escalate:3'],
    ],
    [
      'Vault writes auth roles',
      subject({ scopes: [vault('auth/kubernetes/role/x', 'create')] }),
      ['likelihood.can-escalate:3'],
    ],
    ['Vault reads sys/health', subject({ scopes: [vault('sys/health', 'read')] }), []],
    [
      'Kubernetes verbs *',
      subject({ scopes: [k8s(rule(['*'], ['configmaps']))] }),
      ['likelihood.wildcard-kubernetes-rules:2'],
    ],
    [
      'Kubernetes resources *',
      subject({ scopes: [k8s(rule(['get'], ['*']))] }),
      ['likelihood.wildcard-kubernetes-rules:2', 'likelihood.can-escalate:3'],
    ],
    [
      'Kubernetes apiGroups *',
      subject({ scopes: [k8s(rule(['get'], ['configmaps'], ['*']))] }),
      ['likelihood.wildcard-kubernetes-rules:2'],
    ],
    [
      'Kubernetes impersonate',
      subject({ scopes: [k8s(rule(['impersonate'], ['users']))] }),
      ['likelihood.can-escalate:3'],
    ],
    [
      'Kubernetes bind',
      subject({ scopes: [k8s(rule(['bind'], ['clusterroles'], ['rbac.authorization.k8s.io']))] }),
      ['likelihood.can-escalate:3'],
    ],
    [
      'Kubernetes escalate',
      subject({ scopes: [k8s(rule(['escalate'], ['roles'], ['rbac.authorization.k8s.io']))] }),
      ['likelihood.can-escalate:3'],
    ],
    [
      'Kubernetes create serviceaccounts',
      subject({ scopes: [k8s(rule(['create'], ['serviceaccounts']))] }),
      ['likelihood.can-escalate:3'],
    ],
    [
      'Kubernetes create tokens',
      subject({ scopes: [k8s(rule(['create'], ['serviceaccounts/token']))] }),
      ['likelihood.can-escalate:3'],
    ],
    [
      'Kubernetes create rolebindings',
      subject({ scopes: [k8s(rule(['create'], ['rolebindings'], ['rbac.authorization.k8s.io']))] }),
      ['likelihood.can-escalate:3'],
    ],
    [
      'Kubernetes create pods',
      subject({ scopes: [k8s(rule(['create'], ['pods']))] }),
      ['likelihood.can-escalate:3'],
    ],
    [
      'Kubernetes list secrets',
      subject({ scopes: [k8s(rule(['list'], ['secrets']))] }),
      ['likelihood.can-escalate:3'],
    ],
    [
      'Kubernetes get one named secret',
      subject({
        scopes: [k8s({ verbs: ['get'], resources: ['secrets'], apiGroups: [''], resourceNames: ['mine'] })],
      }),
      [],
    ],
    ['Kubernetes list serviceaccounts', subject({ scopes: [k8s(rule(['list'], ['serviceaccounts']))] }), []],
    [
      'internet exposed',
      subject({ impact: { dataClassification: 'internal', internetExposed: true } }),
      ['likelihood.internet-exposed:2'],
    ],
    ['no lastUsed', subject({}, { lastUsed: undefined }), ['likelihood.no-activity-data:1']],
    [
      'grants unused over a whole activity window',
      subject({}, { activity: activityWith(true) }),
      ['likelihood.unused-privilege:1'],
    ],
    [
      'grants unused, but the audit logs do not span the window',
      subject({}, { activity: activityWith(false) }),
      [],
    ],
    ['no workloadRef', subject({ workloadRef: undefined }), ['likelihood.not-workload-bound:1']],
    [
      'WorkloadBound False',
      subject({}, { conditions: [cond('WorkloadBound', 'False', 'NoPods')] }),
      ['likelihood.not-workload-bound:1'],
    ],
    ['WorkloadBound not reported yet', subject({}, { conditions: [] }), []],
    ['automount token', subject({ automountServiceAccountToken: true }), ['likelihood.automount-token:1']],
    [
      'orphaned',
      subject({}, { conditions: [cond('WorkloadBound', 'True'), cond('Orphaned', 'True', 'WorkloadGone')] }),
      ['likelihood.orphaned:2'],
    ],
    [
      'quarantined',
      subject({}, { conditions: [cond('WorkloadBound', 'True'), cond('Quarantined', 'True', 'Expired')] }),
      ['likelihood.quarantined:1'],
    ],
    [
      'revoked is no longer a quarantine risk',
      subject(
        {},
        { conditions: [cond('WorkloadBound', 'True'), cond('Quarantined', 'True'), cond('Revoked', 'True')] },
      ),
      [],
    ],
  ])('%s', (_name, input, expected) => {
    expect(ids(input)).toEqual(expected);
  });

  it('describes every factor in words a reviewer can check', () => {
    const risky = subject(
      {
        credentialTTL: '12h',
        scopes: [aws(['iam:*'], ['*']), k8s(rule(['create'], ['serviceaccounts/token']))],
        impact: { internetExposed: true },
      },
      { lastUsed: undefined },
    );
    const factors = likelihoodFactors(risky, NOW);
    for (const factor of factors) expect(factor.description.length).toBeGreaterThan(20);
    const escalate = factors.find((factor) => factor.id === 'likelihood.can-escalate');
    expect(escalate?.description).toContain('AWS iam:* allows iam:CreateRole');
    const passRole = likelihoodFactors(
      subject({ scopes: [aws(['iam:PassRole'], ['arn:aws:iam::1:role/x'])] }),
      NOW,
    );
    expect(passRole[0]?.description).toBe('can create or widen identities: AWS iam:PassRole');
    expect(escalate?.description).toContain('serviceaccounts/token');
    expect(
      factors.find((factor) => factor.id === 'likelihood.long-lived-credentials')?.description,
    ).toContain('12h');
  });
});

const impact = (s: FactorSubject) => impactFactors(s).map((factor) => `${factor.id}:${factor.weight}`);

describe('impact factors', () => {
  it.each<[string, FactorSubject, string[]]>([
    [
      'development, public',
      subject({ environment: 'development', impact: { dataClassification: 'public' } }),
      ['impact.environment:1', 'impact.data-classification:-1'],
    ],
    [
      'staging, internal',
      subject({ environment: 'staging' }),
      ['impact.environment:2', 'impact.data-classification:0'],
    ],
    [
      'production, confidential',
      subject({ impact: { dataClassification: 'confidential' } }),
      ['impact.environment:3', 'impact.data-classification:1'],
    ],
    [
      'production, restricted',
      subject({ impact: { dataClassification: 'restricted' } }),
      ['impact.environment:3', 'impact.data-classification:2'],
    ],
    [
      'no classification is scored as confidential',
      subject({ impact: {} }),
      ['impact.environment:3', 'impact.data-classification:1'],
    ],
    [
      'three providers widen the blast radius',
      subject({
        scopes: [
          aws(['s3:GetObject'], ['arn:aws:s3:::b/k']),
          vault('secret/data/a/b', 'read'),
          k8s(rule(['get'], ['configmaps'])),
        ],
      }),
      ['impact.environment:3', 'impact.data-classification:0', 'impact.blast-radius:1'],
    ],
    [
      'eight grants widen the blast radius',
      subject({
        scopes: [
          aws(
            ['s3:GetObject'],
            Array.from({ length: 8 }, (_, i) => `arn:aws:s3:::b/${i}`),
          ),
        ],
      }),
      ['impact.environment:3', 'impact.data-classification:0', 'impact.blast-radius:1'],
    ],
    [
      'secret backends count as providers',
      subject({
        scopes: [aws(['s3:GetObject'], ['arn:aws:s3:::b/k'])],
        secrets: [
          { name: 'a', generator: { type: 'random' }, backend: 'vault-kv' },
          { name: 'b', generator: { type: 'random' } },
        ],
      }),
      ['impact.environment:3', 'impact.data-classification:0', 'impact.blast-radius:1'],
    ],
    [
      'wildcard resources reach wide',
      subject({ scopes: [aws(['s3:GetObject'], ['*'])] }),
      ['impact.environment:3', 'impact.data-classification:0', 'impact.wide-reach:1'],
    ],
    [
      'database write grants can change rows',
      subject({
        scopes: [
          {
            provider: 'vault',
            database: { grants: [{ schema: 'agents', allTables: true, privileges: ['SELECT', 'INSERT'] }] },
          },
        ],
      }),
      ['impact.environment:3', 'impact.data-classification:0', 'impact.database-writes:1'],
    ],
    [
      'escalation reaches beyond its grants',
      subject({ scopes: [aws(['iam:PassRole'], ['arn:aws:iam::1:role/x'])] }),
      ['impact.environment:3', 'impact.data-classification:0', 'impact.can-create-identities:1'],
    ],
  ])('%s', (_name, input, expected) => {
    expect(impact(input)).toEqual(expected);
  });
});

describe('grant analysis', () => {
  it.each([
    ['*', true],
    ['arn:aws:s3:::*', true],
    ['arn:aws:s3:::bucket/*', false],
    ['arn:aws:secretsmanager:us-east-1:111122223333:secret:*', true],
    ['arn:aws:secretsmanager:us-east-1:111122223333:secret:crm/*', false],
    ['arn:aws:iam::*:role/x', true],
    ['arn:aws:iam::111122223333:role/*', true],
    ['arn:aws:dynamodb:us-east-1:111122223333:table/orders', false],
  ])('AWS resource %s broad: %s', (resource, broad) => {
    expect(isBroadAwsResource(resource)).toBe(broad);
  });

  it.each([
    ['*', true],
    ['secret/*', true],
    ['secret/data/*', true],
    ['secret/data/crm/*', false],
    ['secret/data/+/key', true],
    ['secret/data/crm/key', false],
  ])('Vault path %s broad: %s', (path, broad) => {
    expect(isBroadVaultPath(path)).toBe(broad);
  });

  it('counts grants and providers', () => {
    const grants = analyzeGrants([
      aws(['s3:GetObject'], ['arn:aws:s3:::b/1', 'arn:aws:s3:::b/2']),
      vault('secret/data/a/b', 'read'),
      k8s(rule(['get'], ['configmaps']), rule(['list'], ['pods'])),
    ]);
    expect(grants.grantCount).toBe(5);
    expect([...grants.providers].sort()).toEqual(['aws', 'kubernetes', 'vault']);
  });
});
