import { describe, expect, it } from 'vitest';
import { classifyAws, classifyKube, maxInWindow, tally } from './traffic.ts';

describe('apiserver requests seen by the counting proxy', () => {
  it.each([
    ['GET', '/api/v1/namespaces/a/secrets/b', 'secrets', 'get', false, 'provider'],
    ['GET', '/api/v1/namespaces/a/secrets?labelSelector=x', 'secrets', 'list', false, 'provider'],
    ['GET', '/api/v1/secrets?watch=true&resourceVersion=1', 'secrets', 'watch', false, 'provider'],
    ['POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/a/roles', 'roles', 'create', true, 'provider'],
    [
      'PUT',
      '/apis/nhi.dev/v1alpha1/namespaces/a/agentidentities/x/status',
      'agentidentities/status',
      'update',
      true,
      'identity',
    ],
    [
      'PATCH',
      '/apis/nhi.dev/v1alpha1/namespaces/a/agentidentities/x',
      'agentidentities',
      'patch',
      true,
      'identity',
    ],
    ['POST', '/api/v1/namespaces/a/events', 'events', 'create', true, 'other'],
    ['GET', '/apis/apps/v1/deployments?watch=1', 'deployments', 'watch', false, 'other'],
    ['DELETE', '/api/v1/namespaces/a/serviceaccounts/b', 'serviceaccounts', 'delete', true, 'provider'],
  ])('%s %s is %s %s', (method, url, what, verb, write, area) => {
    expect(classifyKube(method, url)).toEqual({ what, verb, write, area });
  });
});

describe('AWS requests seen by the counting proxy', () => {
  it('reads the JSON protocol action from X-Amz-Target', () => {
    expect(classifyAws('secretsmanager.PutSecretValue', '{}')).toMatchObject({
      what: 'secretsmanager:PutSecretValue',
      write: true,
    });
  });

  it('reads the query protocol action from the form body, IAM or STS by version', () => {
    expect(classifyAws(undefined, 'Action=GetRole&Version=2010-05-08&RoleName=x')).toMatchObject({
      what: 'iam:GetRole',
      write: false,
    });
    expect(classifyAws(undefined, 'Action=PutRolePolicy&Version=2010-05-08')).toMatchObject({ write: true });
    expect(classifyAws(undefined, 'Action=GetCallerIdentity&Version=2011-06-15').what).toBe(
      'sts:GetCallerIdentity',
    );
  });
});

describe('counting', () => {
  it('tallies by key, largest first, ties by name', () => {
    expect(tally(['b', 'a', 'b', 'c', 'a'], (x) => x)).toEqual([
      ['a', 2],
      ['b', 2],
      ['c', 1],
    ]);
  });

  it('finds the most events in any sliding window', () => {
    expect(maxInWindow([0, 100, 999, 1000, 1500, 5000], 1000)).toBe(3);
    expect(maxInWindow([], 1000)).toBe(0);
    expect(maxInWindow([10, 10, 10], 1)).toBe(3);
  });
});
