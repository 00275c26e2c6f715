import { describe, expect, it } from 'vitest';
import { awsScope } from '../../test/fixtures/scopes-and-secrets.ts';
import type { ClusterCredentialProvider, IdentityPolicy, SecretSpec } from '../api/v1alpha1/types.ts';
import { agentIdentity, inEnvironment, withScopes, withSecrets } from '../testing/agent-identity.ts';
import { permissionsBoundaryViolations } from './permissions-boundary.ts';

const policy: IdentityPolicy = {
  apiVersion: 'nhi.dev/v1alpha1',
  kind: 'IdentityPolicy',
  metadata: { name: 'default' },
  spec: { environments: { production: { requirePermissionsBoundary: true }, development: {} } },
};

function provider(
  name: string,
  spec: ClusterCredentialProvider['spec'],
): [string, ClusterCredentialProvider] {
  return [
    name,
    { apiVersion: 'nhi.dev/v1alpha1', kind: 'ClusterCredentialProvider', metadata: { name }, spec },
  ];
}

const providers = new Map([
  provider('aws', {
    aws: { region: 'us-east-1', mode: 'irsa', permissionsBoundaryArn: 'arn:aws:iam::111122223333:policy/b' },
  }),
  provider('aws-open', { aws: { region: 'us-east-1', mode: 'irsa' } }),
  provider('vault', { vault: { address: 'https://vault', auth: { tokenFile: { path: '/t' } } } }),
]);

const awsSecret = (providerRef?: string): SecretSpec => ({
  name: 'k',
  backend: 'aws-secrets-manager',
  generator: { type: 'random' },
  ...(providerRef ? { providerRef } : {}),
});

describe('permissionsBoundaryViolations', () => {
  it.each([
    ['a provider with a boundary', agentIdentity('a', withScopes(awsScope()))],
    [
      'the default provider aws when providerRef is unset',
      agentIdentity(
        'a',
        withScopes({ provider: 'aws', actions: awsScope().actions, resources: awsScope().resources }),
      ),
    ],
    ['no aws at all', agentIdentity('a')],
    [
      'an environment that does not require it',
      agentIdentity(
        'a',
        inEnvironment('development'),
        withScopes({ ...awsScope(), providerRef: 'aws-open' }),
      ),
    ],
    [
      'an environment the policy does not list',
      agentIdentity('a', inEnvironment('staging'), withScopes({ ...awsScope(), providerRef: 'aws-open' })),
    ],
  ])('accepts %s', (_case, identity) => {
    expect(permissionsBoundaryViolations(identity, policy, providers)).toEqual([]);
  });

  it.each([
    [
      'a provider without a boundary',
      withScopes({ ...awsScope(), providerRef: 'aws-open' }),
      'spec.scopes[0].providerRef',
      'sets no aws.permissionsBoundaryArn',
    ],
    [
      'a missing provider',
      withScopes({ ...awsScope(), providerRef: 'nope' }),
      'spec.scopes[0].providerRef',
      'ClusterCredentialProvider nope not found',
    ],
    [
      'a vault provider for an aws scope',
      withScopes({ ...awsScope(), providerRef: 'vault' }),
      'spec.scopes[0].providerRef',
      'is not an aws provider',
    ],
    [
      'an AWS Secrets Manager secret without a boundary',
      withSecrets(awsSecret('aws-open')),
      'spec.secrets[0].providerRef',
      'sets no aws.permissionsBoundaryArn',
    ],
  ])('rejects %s', (_case, modifier, field, message) => {
    const violations = permissionsBoundaryViolations(agentIdentity('a', modifier), policy, providers);
    expect(violations).toEqual([
      { field, message: expect.stringContaining(message), rule: 'operator:permissions-boundary-required' },
    ]);
  });
});
