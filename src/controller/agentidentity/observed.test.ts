import { describe, expect, it } from 'vitest';
import type { ForeignRole } from '../../providers/types.ts';
import { judgeObserved, roleStatus } from './observed.ts';

const ISSUER = 'https://oidc.example/id/ABC';
const HOST = 'oidc.example/id/ABC';

function iamRole(...subs: string[]): ForeignRole {
  return {
    kind: 'iam-role',
    name: 'legacy',
    arn: 'arn:aws:iam::123456789012:role/legacy',
    issuers: [ISSUER],
    digest: 'd'.repeat(64),
    trustPolicy: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: `arn:aws:iam::123456789012:oidc-provider/${HOST}` },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: { StringEquals: { [`${HOST}:sub`]: subs.length === 1 ? subs[0] : subs } },
        },
      ],
    },
  };
}

describe('observed roles and tenancy', () => {
  it('reports an IAM role trusted only by ServiceAccounts of the identity namespace', () => {
    const status = roleStatus(
      'IAMRole',
      'legacy',
      { state: 'found', role: iamRole('system:serviceaccount:team-a:bot') },
      'team-a',
    );
    expect(status).toMatchObject({
      reported: true,
      arn: 'arn:aws:iam::123456789012:role/legacy',
      boundTo: ['team-a/bot'],
    });
  });

  it.each([
    ['another namespace', ['system:serviceaccount:team-b:bot']],
    ['this and another namespace', ['system:serviceaccount:team-a:bot', 'system:serviceaccount:team-b:bot']],
    ['a wildcard in this namespace', ['system:serviceaccount:team-a:*']],
  ])('refuses an IAM role trusted by %s, and records nothing about it', (_name, subs) => {
    const status = roleStatus('IAMRole', 'legacy', { state: 'found', role: iamRole(...subs) }, 'team-a');
    expect(status.reported).toBe(false);
    expect(status.arn).toBeUndefined();
    expect(status.boundTo).toBeUndefined();
    expect(status.message).toMatch(/outside this namespace/);
    expect(JSON.stringify(status)).not.toContain('team-b');
  });

  it('refuses a Vault role whose bound namespaces are not exactly this namespace', () => {
    const role = (namespaces: string[], selector = ''): ForeignRole => ({
      kind: 'vault-role',
      name: 'legacy',
      boundServiceAccountNames: ['bot'],
      boundServiceAccountNamespaces: namespaces,
      namespaceSelector: selector,
      digest: 'e'.repeat(64),
    });
    const judge = (r: ForeignRole) =>
      roleStatus('VaultRole', 'legacy', { state: 'found', role: r }, 'team-a');
    expect(judge(role(['team-a'])).reported).toBe(true);
    expect(judge(role(['team-a', 'team-b'])).reported).toBe(false);
    expect(judge(role(['*'])).reported).toBe(false);
    expect(judge(role(['team-a'], '{"matchLabels":{"x":"y"}}')).reported).toBe(false);
  });

  it('the Observed condition names the refused role, a missing one, or what is observed', () => {
    const sa = { name: 'bot', exists: true, resourceVersion: '42' };
    const refused = judgeObserved(
      {
        serviceAccount: sa,
        iamRole: {
          name: 'legacy',
          read: { state: 'found', role: iamRole('system:serviceaccount:team-b:x') },
        },
      },
      'team-a',
    );
    expect(refused).toMatchObject({ ok: false, reason: 'NotBoundToNamespace' });
    expect(refused.message).toMatch(/^IAMRole legacy:/);
    const missing = judgeObserved({ serviceAccount: { name: 'bot', exists: false } }, 'team-a');
    expect(missing).toMatchObject({
      ok: false,
      reason: 'NotFound',
      message: 'ServiceAccount bot: not found',
    });
    const fine = judgeObserved({ serviceAccount: sa }, 'team-a');
    expect(fine).toMatchObject({ ok: true, reason: 'ObserveOnly' });
    expect(fine.objects).toEqual([
      { kind: 'ServiceAccount', name: 'bot', reported: true, resourceVersion: '42' },
    ]);
  });
});
