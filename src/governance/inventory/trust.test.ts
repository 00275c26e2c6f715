import { describe, expect, it } from 'vitest';
import {
  iamTrustBinding,
  issuerHostOf,
  parseServiceAccountSubject,
  trustsIssuer,
  vaultRoleBinding,
} from './trust.ts';

const ISSUER = 'https://oidc.eks.us-east-1.amazonaws.com/id/ABC';
const HOST = 'oidc.eks.us-east-1.amazonaws.com/id/ABC';
const OIDC_ARN = `arn:aws:iam::111122223333:oidc-provider/${HOST}`;

function irsa(
  condition: Record<string, Record<string, unknown>> | undefined,
  principal: unknown = { Federated: OIDC_ARN },
) {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: principal,
        Action: 'sts:AssumeRoleWithWebIdentity',
        ...(condition ? { Condition: condition } : {}),
      },
    ],
  };
}

describe('issuer host', () => {
  it.each([
    [ISSUER, HOST],
    [`${ISSUER}/`, HOST],
    ['https://127.0.0.1:6443', '127.0.0.1:6443'],
  ])('%s -> %s', (issuer, host) => {
    expect(issuerHostOf(issuer)).toBe(host);
  });
});

describe('ServiceAccount subjects', () => {
  it.each([
    [
      'system:serviceaccount:agents:bot',
      { namespace: 'agents', name: 'bot', text: 'agents/bot', pattern: false },
    ],
    ['system:serviceaccount:agents:*', { namespace: 'agents', name: '*', text: 'agents/*', pattern: true }],
    ['system:serviceaccount:*:bot', { namespace: '*', name: 'bot', text: '*/bot', pattern: true }],
    [
      'system:serviceaccount:agents:bot-?',
      { namespace: 'agents', name: 'bot-?', text: 'agents/bot-?', pattern: true },
    ],
    ['system:serviceaccount:agents', { namespace: 'agents', name: '*', text: 'agents/*', pattern: true }],
    ['*', { namespace: '*', name: '*', text: '*/*', pattern: true }],
  ])('%s', (sub, expected) => {
    expect(parseServiceAccountSubject(sub)).toEqual(expected);
  });

  it.each(['repo:org/app:ref:refs/heads/main', 'system:serviceaccount:', ''])(
    '%s is not a ServiceAccount',
    (sub) => {
      expect(parseServiceAccountSubject(sub)).toBeUndefined();
    },
  );
});

describe('IAM trust policies', () => {
  it('finds the subject of an IRSA trust policy', () => {
    const policy = irsa({
      StringEquals: {
        [`${HOST}:sub`]: 'system:serviceaccount:agents:bot',
        [`${HOST}:aud`]: 'sts.amazonaws.com',
      },
    });
    expect(trustsIssuer(policy, [ISSUER])).toBe(true);
    expect(iamTrustBinding(policy, [ISSUER])).toEqual({
      subjects: [{ namespace: 'agents', name: 'bot', text: 'agents/bot', pattern: false }],
      unrecognized: [],
      unrestricted: false,
    });
  });

  it('reads StringLike wildcards and lists of subjects', () => {
    const policy = irsa({
      StringLike: { [`${HOST}:sub`]: ['system:serviceaccount:agents:*', 'system:serviceaccount:ops:backup'] },
    });
    expect(iamTrustBinding(policy, [ISSUER]).subjects.map((s) => [s.text, s.pattern])).toEqual([
      ['agents/*', true],
      ['ops/backup', false],
    ]);
  });

  it('treats a statement without a sub condition as unrestricted', () => {
    const policy = irsa({ StringEquals: { [`${HOST}:aud`]: 'sts.amazonaws.com' } });
    expect(iamTrustBinding(policy, [ISSUER]).unrestricted).toBe(true);
    expect(iamTrustBinding(irsa(undefined), [ISSUER]).unrestricted).toBe(true);
  });

  it('keeps subjects that name no ServiceAccount', () => {
    const policy = irsa({ StringEquals: { [`${HOST}:sub`]: 'repo:org/app:ref:refs/heads/main' } });
    expect(iamTrustBinding(policy, [ISSUER]).unrecognized).toEqual(['repo:org/app:ref:refs/heads/main']);
  });

  it.each([
    [
      'another cluster',
      irsa(
        { StringEquals: { 'oidc.other/id/X:sub': 'system:serviceaccount:a:b' } },
        { Federated: 'arn:aws:iam::1:oidc-provider/oidc.other/id/X' },
      ),
    ],
    ['an AWS service', irsa(undefined, { Service: 'ec2.amazonaws.com' })],
    [
      'a Deny statement',
      {
        Statement: [
          { Effect: 'Deny', Principal: { Federated: OIDC_ARN }, Action: 'sts:AssumeRoleWithWebIdentity' },
        ],
      },
    ],
    [
      'plain AssumeRole',
      { Statement: [{ Effect: 'Allow', Principal: { Federated: OIDC_ARN }, Action: 'sts:AssumeRole' }] },
    ],
    ['a text document', 'not json'],
    ['nothing', undefined],
  ])('ignores a trust policy for %s', (_name, policy) => {
    expect(trustsIssuer(policy, [ISSUER])).toBe(false);
    expect(iamTrustBinding(policy, [ISSUER])).toEqual({
      subjects: [],
      unrecognized: [],
      unrestricted: false,
    });
  });

  it('matches a condition key on the issuer even when the principal ARN differs in form', () => {
    const policy = irsa(
      { StringEquals: { [`${HOST}:sub`]: 'system:serviceaccount:a:b' } },
      { Federated: ['arn:aws:iam::1:oidc-provider/elsewhere'] },
    );
    expect(trustsIssuer(policy, [ISSUER])).toBe(true);
  });

  it('accepts a single statement object and action lists', () => {
    const policy = {
      Statement: {
        Effect: 'Allow',
        Principal: { Federated: OIDC_ARN },
        Action: ['sts:TagSession', 'sts:AssumeRoleWithWebIdentity'],
        Condition: { StringEquals: { [`${HOST}:sub`]: 'system:serviceaccount:a:b' } },
      },
    };
    expect(iamTrustBinding(policy, [ISSUER]).subjects.map((s) => s.text)).toEqual(['a/b']);
  });
});

describe('Vault kubernetes-auth role bindings', () => {
  it('pairs every bound name with every bound namespace', () => {
    const binding = vaultRoleBinding({
      boundServiceAccountNames: ['a', 'b'],
      boundServiceAccountNamespaces: ['x'],
    });
    expect(binding.subjects.map((s) => s.text)).toEqual(['x/a', 'x/b']);
    expect(binding.unrestricted).toBe(false);
  });

  it.each([
    [{ boundServiceAccountNames: ['*'], boundServiceAccountNamespaces: ['x'] }, ['x/*'], false],
    [{ boundServiceAccountNames: ['bot'], boundServiceAccountNamespaces: ['team-*'] }, ['team-*/bot'], false],
    [
      {
        boundServiceAccountNames: ['bot'],
        boundServiceAccountNamespaces: [],
        namespaceSelector: '{"matchLabels":{"a":"b"}}',
      },
      [],
      true,
    ],
    [{ boundServiceAccountNames: [], boundServiceAccountNamespaces: ['x'] }, [], true],
  ])('%j', (role, subjects, unrestricted) => {
    const binding = vaultRoleBinding(role);
    expect(binding.subjects.filter((s) => s.pattern).map((s) => s.text)).toEqual(subjects);
    expect(binding.unrestricted).toBe(unrestricted);
  });
});
