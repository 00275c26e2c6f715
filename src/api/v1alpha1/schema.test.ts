// The TypeScript types and the OpenAPI schemas describe the same shapes: adding a field to one
// and not the other fails here (the Records fail to compile, the comparisons fail at run time).

import { describe, expect, it } from 'vitest';
import type { Schema } from './openapi.ts';
import { schemas } from './schema.ts';
import type {
  AgentIdentitySpec,
  AgentIdentityStatus,
  AwsProviderSpec,
  EnvironmentRules,
  SecretSpec,
  VaultProviderSpec,
} from './types.ts';

type Fields<T> = Record<keyof T, true>;

const agentIdentitySpec: Fields<AgentIdentitySpec> = {
  owner: true,
  sponsor: true,
  purpose: true,
  environment: true,
  workloadRef: true,
  serviceAccountName: true,
  automountServiceAccountToken: true,
  ttl: true,
  credentialTTL: true,
  inactivityTimeout: true,
  orphanGracePeriod: true,
  quarantinePeriod: true,
  scopes: true,
  secrets: true,
  impact: true,
  locked: true,
  deletionPolicy: true,
  management: true,
  observe: true,
};

const secretSpec: Fields<SecretSpec> = {
  name: true,
  backend: true,
  providerRef: true,
  generator: true,
  rotationInterval: true,
  overlap: true,
  target: true,
  restartWorkload: true,
};

const agentIdentityStatus: Fields<AgentIdentityStatus> = {
  observedGeneration: true,
  phase: true,
  conditions: true,
  serviceAccount: true,
  boundPods: true,
  aws: true,
  vault: true,
  secrets: true,
  expiresAt: true,
  lastUsed: true,
  orphanedSince: true,
  quarantineUntil: true,
  risk: true,
  plan: true,
  failedAttempts: true,
  lastFailureTime: true,
  lastFailedAction: true,
  providers: true,
  attestedAt: true,
  attestedBy: true,
  attestationRequest: true,
  notified: true,
  activity: true,
  observed: true,
};

const environmentRules: Fields<EnvironmentRules> = {
  maxTTL: true,
  maxCredentialTTL: true,
  maxRotationInterval: true,
  forbiddenActions: true,
  forbiddenResources: true,
  requirePermissionsBoundary: true,
  allowedProviders: true,
  allowedNamespaces: true,
  maxRiskLevel: true,
  allowedVaultPaths: true,
  allowedDatabaseSchemas: true,
  allowedAwsResources: true,
  allowWildcardAwsResources: true,
  allowedPrivilegedGrants: true,
  requireSponsor: true,
  attestationInterval: true,
  attestationGracePeriod: true,
  attestationAction: true,
  anomalies: true,
};

const awsProvider: Fields<AwsProviderSpec> = {
  region: true,
  accountId: true,
  endpoint: true,
  rolePath: true,
  roleNamePrefix: true,
  permissionsBoundaryArn: true,
  mode: true,
  irsa: true,
  podIdentity: true,
  secretsManager: true,
  maxWritesPerSecond: true,
};

const vaultProvider: Fields<VaultProviderSpec> = {
  address: true,
  caBundle: true,
  namespace: true,
  kubernetesAuthMount: true,
  kvMount: true,
  audience: true,
  tokenMaxTTL: true,
  database: true,
  auth: true,
};

function at(schema: Schema, path: string): Schema {
  return path.split('.').reduce<Schema>((node, key) => {
    const next = key === '[]' ? node.items : node.properties?.[key];
    if (!next) throw new Error(`no ${key} in schema at ${path}`);
    return next;
  }, schema);
}

describe('types.ts and schema.ts agree', () => {
  it.each([
    ['AgentIdentity spec', schemas.AgentIdentity, 'spec', agentIdentitySpec],
    ['AgentIdentity spec.secrets[]', schemas.AgentIdentity, 'spec.secrets.[]', secretSpec],
    ['AgentIdentity status', schemas.AgentIdentity, 'status', agentIdentityStatus],
    [
      'IdentityPolicy environment rules',
      schemas.IdentityPolicy,
      'spec.environments.production',
      environmentRules,
    ],
    ['ClusterCredentialProvider aws', schemas.ClusterCredentialProvider, 'spec.aws', awsProvider],
    ['ClusterCredentialProvider vault', schemas.ClusterCredentialProvider, 'spec.vault', vaultProvider],
  ])('%s', (_name, schema, path, fields) => {
    expect(Object.keys(at(schema, path).properties ?? {}).sort()).toEqual(Object.keys(fields).sort());
  });
});
