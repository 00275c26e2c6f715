// AWS-specific fixtures for the provider's unit and integration tests; identities come from the
// shared builder: `refFor(agentIdentity('bot', inNamespace('agents'), withAwsScopes(...)))`.

import type { AgentIdentity, AwsProviderSpec } from '../../../api/v1alpha1/types.ts';
import type { IdentityRef } from '../../types.ts';

export function refFor(identity: AgentIdentity, serviceAccountName?: string): IdentityRef {
  return {
    identity,
    subject: {
      namespace: identity.metadata.namespace ?? 'default',
      serviceAccountName: serviceAccountName ?? identity.spec.serviceAccountName ?? identity.metadata.name,
    },
  };
}

export const TEST_OIDC_ARN =
  'arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE';
export const TEST_ISSUER = 'https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE';
export const TEST_BOUNDARY = 'arn:aws:iam::123456789012:policy/nhi-boundary';

export function irsaSpec(overrides: Partial<AwsProviderSpec> = {}): AwsProviderSpec {
  return {
    region: 'us-east-1',
    accountId: '123456789012',
    mode: 'irsa',
    irsa: { oidcProviderArn: TEST_OIDC_ARN, issuer: TEST_ISSUER },
    permissionsBoundaryArn: TEST_BOUNDARY,
    maxWritesPerSecond: 1000,
    ...overrides,
  };
}
