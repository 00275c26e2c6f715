import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  irsaTrustPolicy,
  isQuarantinePolicy,
  issuerHost,
  podIdentityTrustPolicy,
  policyHash,
  quarantinePolicy,
  renderPolicy,
  samePolicy,
  scopesPolicy,
} from './policies.ts';

const subject = { namespace: 'agents', serviceAccountName: 'support-bot' };
const oidcArn = 'arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC';

describe('IRSA trust policy', () => {
  it('trusts exactly one ServiceAccount through the OIDC provider, for STS only', () => {
    expect(irsaTrustPolicy(oidcArn, 'https://oidc.eks.eu-west-1.amazonaws.com/id/ABC/', subject)).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'NhiIrsaServiceAccount',
          Effect: 'Allow',
          Principal: { Federated: oidcArn },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: {
            StringEquals: {
              'oidc.eks.eu-west-1.amazonaws.com/id/ABC:aud': 'sts.amazonaws.com',
              'oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub': 'system:serviceaccount:agents:support-bot',
            },
          },
        },
      ],
    });
  });

  it('never contains a wildcard or StringLike', () => {
    const text = renderPolicy(irsaTrustPolicy(oidcArn, 'https://issuer.example', subject));
    expect(text).not.toContain('*');
    expect(text).not.toContain('StringLike');
  });

  it.each([
    ['https://oidc.example/id/1', 'oidc.example/id/1'],
    ['https://oidc.example/id/1/', 'oidc.example/id/1'],
    ['https://127.0.0.1:6443', '127.0.0.1:6443'],
  ])('issuer %s has host %s', (issuer, host) => {
    expect(issuerHost(issuer)).toBe(host);
  });
});

describe('Pod Identity trust policy', () => {
  it('trusts pods.eks.amazonaws.com with AssumeRole and TagSession, bound to cluster, namespace and SA', () => {
    const policy = podIdentityTrustPolicy('prod', subject, '123456789012');
    expect(policy.Statement).toEqual([
      {
        Sid: 'NhiPodIdentityServiceAccount',
        Effect: 'Allow',
        Principal: { Service: 'pods.eks.amazonaws.com' },
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        Condition: {
          StringEquals: {
            'aws:RequestTag/eks-cluster-name': 'prod',
            'aws:RequestTag/kubernetes-namespace': 'agents',
            'aws:RequestTag/kubernetes-service-account': 'support-bot',
            'aws:SourceAccount': '123456789012',
          },
        },
      },
    ]);
  });
});

describe('scopes policy', () => {
  const crm = {
    provider: 'aws' as const,
    actions: ['secretsmanager:GetSecretValue'],
    resources: ['arn:crm/*'],
  };
  const s3 = {
    provider: 'aws' as const,
    actions: ['s3:PutObject', 's3:GetObject', 's3:GetObject'],
    resources: ['arn:b/*'],
  };

  it('renders one sorted, de-duplicated Allow statement per scope', () => {
    expect(scopesPolicy([crm, s3])?.Statement).toEqual([
      { Sid: 'NhiScope0', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: ['arn:b/*'] },
      {
        Sid: 'NhiScope1',
        Effect: 'Allow',
        Action: ['secretsmanager:GetSecretValue'],
        Resource: ['arn:crm/*'],
      },
    ]);
  });

  it('does not depend on scope order, so the hash is stable', () => {
    const a = scopesPolicy([crm, s3]);
    const b = scopesPolicy([s3, crm, crm]);
    expect(renderPolicy(a!)).toBe(renderPolicy(b!));
    expect(policyHash(a)).toBe(policyHash(b));
    expect(policyHash(a)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('is absent without scopes', () => {
    expect(scopesPolicy([])).toBeUndefined();
    expect(policyHash(undefined)).toBe('none');
  });
});

describe('samePolicy', () => {
  const desired = scopesPolicy([{ provider: 'aws', actions: ['s3:GetObject'], resources: ['*'] }])!;

  it.each([
    ['identical', JSON.parse(renderPolicy(desired)), true],
    [
      'single strings instead of lists',
      { ...desired, Statement: [{ ...desired.Statement[0], Action: 's3:GetObject', Resource: '*' }] },
      true,
    ],
    [
      'keys in another order',
      JSON.parse(JSON.stringify({ Statement: desired.Statement, Version: '2012-10-17' })),
      true,
    ],
    ['another action', { ...desired, Statement: [{ ...desired.Statement[0], Action: ['s3:*'] }] }, false],
    [
      'an extra statement',
      { ...desired, Statement: [...desired.Statement, { Effect: 'Allow', Action: '*', Resource: '*' }] },
      false,
    ],
    ['absent', undefined, false],
  ])('%s -> %s', (_, live, same) => {
    expect(samePolicy(live, desired)).toBe(same);
  });
});

describe('quarantine policy', () => {
  it('denies everything and every session issued before now', () => {
    const policy = quarantinePolicy(Date.parse('2025-03-01T10:20:30.456Z'));
    expect(policy.Statement).toEqual([
      { Sid: 'NhiQuarantineDenyAll', Effect: 'Deny', Action: '*', Resource: '*' },
      {
        Sid: 'NhiRevokeEarlierSessions',
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { DateLessThan: { 'aws:TokenIssueTime': '2025-03-01T10:20:30Z' } },
      },
    ]);
    expect(isQuarantinePolicy(JSON.parse(renderPolicy(policy)))).toBe(true);
  });

  it('is not recognised once a deny statement is removed', () => {
    const policy = quarantinePolicy(0);
    expect(isQuarantinePolicy({ ...policy, Statement: [policy.Statement[1]] })).toBe(false);
    expect(isQuarantinePolicy(undefined)).toBe(false);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: 1, c: [{ f: 1, e: 2 }] } })).toBe(
      '{"a":{"c":[{"e":2,"f":1}],"d":1},"b":1}',
    );
  });
});
