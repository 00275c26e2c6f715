// Fixture builders for the AWS provider's unit and integration tests:
// `refFor(agentIdentity('bot', inNamespace('agents'), withScopes(...)))`.

import { randomUUID } from 'node:crypto';
import type { AgentIdentity, AwsProviderSpec, AwsScope, SecretSpec } from '../../api/v1alpha1/types.ts';
import { API_VERSION } from '../../api/v1alpha1/types.ts';
import type { IdentityRef } from '../types.ts';

type Modifier = (identity: AgentIdentity) => void;

export function agentIdentity(name: string, ...modifiers: Modifier[]): AgentIdentity {
  const identity: AgentIdentity = {
    apiVersion: API_VERSION,
    kind: 'AgentIdentity',
    metadata: { name, namespace: 'agents', uid: randomUUID(), generation: 1 },
    spec: {
      owner: { team: 'support-eng', contact: 'support-eng@example.com' },
      purpose: 'Answer support tickets with read access to the CRM',
      environment: 'production',
      serviceAccountName: name,
      credentialTTL: '15m',
    },
  };
  for (const modify of modifiers) modify(identity);
  return identity;
}

export const inNamespace =
  (namespace: string): Modifier =>
  (i) => {
    i.metadata.namespace = namespace;
  };

export const withUid =
  (uid: string): Modifier =>
  (i) => {
    i.metadata.uid = uid;
  };

export const withScopes =
  (...scopes: Array<Pick<AwsScope, 'actions' | 'resources'> & { providerRef?: string }>): Modifier =>
  (i) => {
    i.spec.scopes = [...(i.spec.scopes ?? []), ...scopes.map((s) => ({ provider: 'aws' as const, ...s }))];
  };

export const withSmSecrets =
  (...names: string[]): Modifier =>
  (i) => {
    const secrets: SecretSpec[] = names.map((name) => ({
      name,
      backend: 'aws-secrets-manager',
      generator: { type: 'random', length: 32 },
    }));
    i.spec.secrets = [...(i.spec.secrets ?? []), ...secrets];
  };

export const withCredentialTTL =
  (ttl: string | undefined): Modifier =>
  (i) => {
    if (ttl === undefined) delete i.spec.credentialTTL;
    else i.spec.credentialTTL = ttl;
  };

export const withPurpose =
  (purpose: string): Modifier =>
  (i) => {
    i.spec.purpose = purpose;
  };

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
