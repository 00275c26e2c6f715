import { describe, expect, it } from 'vitest';
import { awsScope } from '../../test/fixtures/scopes-and-secrets.ts';
import type { ClusterCredentialProvider, IdentityPolicy } from '../api/v1alpha1/types.ts';
import { agentIdentity, inNamespace, withScopes, withSpec } from '../testing/agent-identity.ts';
import { complianceViolations } from './compliance.ts';

const policy: IdentityPolicy = {
  apiVersion: 'nhi.dev/v1alpha1',
  kind: 'IdentityPolicy',
  metadata: { name: 'default' },
  spec: { environments: { production: { maxTTL: '2160h', requirePermissionsBoundary: true } } },
};

const noBoundary: ClusterCredentialProvider = {
  apiVersion: 'nhi.dev/v1alpha1',
  kind: 'ClusterCredentialProvider',
  metadata: { name: 'aws' },
  spec: {
    aws: {
      region: 'us-east-1',
      mode: 'irsa',
      irsa: { oidcProviderArn: 'arn:aws:iam::111122223333:oidc-provider/x', issuer: 'https://x' },
    },
  },
};

describe('complianceViolations', () => {
  it.each([
    ['admission rules first', agentIdentity('a', withSpec({ ttl: '4000h' })), 'policy:ttl-within-maxTTL'],
    [
      'then the permissions boundary',
      agentIdentity('a', withScopes(awsScope())),
      'operator:permissions-boundary-required',
    ],
  ])('checks %s', (_case, identity, rule) => {
    const violations = complianceViolations(identity, policy, new Map([['aws', noBoundary]]));
    expect(violations.map((v) => v.rule)).toEqual([rule]);
  });

  it('ignores status and server-set metadata on objects read from the cluster', () => {
    const identity = agentIdentity('a');
    Object.assign(identity.metadata, {
      uid: 'u',
      resourceVersion: '7',
      generation: 3,
      finalizers: ['nhi.dev/revoke-credentials'],
    });
    Object.assign(identity, { status: { phase: 'Active', conditions: [] } });
    expect(complianceViolations(identity, policy, new Map())).toEqual([]);
  });

  it("reports a provider's allowedNamespaces first, with or without an IdentityPolicy", () => {
    const teamOnly: ClusterCredentialProvider = {
      ...noBoundary,
      spec: { ...noBoundary.spec, allowedNamespaces: { names: ['team-a-*'] } },
    };
    const identity = agentIdentity('a', inNamespace('team-b'), withScopes(awsScope()));
    for (const p of [policy, undefined]) {
      const rules = complianceViolations(identity, p, new Map([['aws', teamOnly]]), {
        namespaceLabels: {},
      }).map((v) => v.rule);
      expect(rules[0]).toBe('operator:provider-namespace');
    }
  });

  it('is not compliant without an IdentityPolicy', () => {
    expect(complianceViolations(agentIdentity('a'), undefined, new Map()).map((v) => v.rule)).toEqual([
      'policy:params-not-found',
    ]);
  });
});
