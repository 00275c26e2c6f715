// The desired AWS state of one identity, computed from its spec and the provider's config alone:
// which scopes and secrets are this provider's, the role to have, each secret's target, and the
// Pod Identity association. Pure functions; the provider compares them with what AWS reports.

import type { AgentIdentity, AwsScope, SecretGenerator, SecretSpec } from '../../api/v1alpha1/types.ts';
import { type IdentityRef, InvalidConfigError } from '../types.ts';
import type { AwsProviderConfig } from './config.ts';
import { maxSessionDuration, ownershipTags, roleName, secretName, uidOf } from './names.ts';
import type { AssociationTarget } from './pod-identity.ts';
import {
  INLINE_POLICY_MAX,
  irsaTrustPolicy,
  type PolicyDocument,
  podIdentityTrustPolicy,
  renderPolicy,
  scopesPolicy,
} from './policies.ts';
import type { DesiredRole } from './role.ts';
import type { SecretTarget } from './secrets.ts';

/** A scope or secret is ours when it names no provider, or this one (or we have no name). */
function mine(config: AwsProviderConfig, providerRef: string | undefined): boolean {
  return providerRef === undefined || config.name === undefined || providerRef === config.name;
}

export function awsScopesOf(config: AwsProviderConfig, identity: AgentIdentity): AwsScope[] {
  return (identity.spec.scopes ?? []).filter(
    (s): s is AwsScope => s.provider === 'aws' && mine(config, s.providerRef),
  );
}

export function smSecretsOf(config: AwsProviderConfig, identity: AgentIdentity): SecretSpec[] {
  return (identity.spec.secrets ?? []).filter(
    (s) => s.backend === 'aws-secrets-manager' && mine(config, s.providerRef),
  );
}

/** Rejects a secret this provider does not hold. */
export function assertSmSecret(secret: SecretSpec): void {
  if (secret.backend !== 'aws-secrets-manager') {
    throw new InvalidConfigError(
      `secret ${secret.name} has backend ${secret.backend ?? 'kubernetes'}, not aws-secrets-manager`,
    );
  }
}

function trustPolicy(config: AwsProviderConfig, ref: IdentityRef): PolicyDocument {
  const { mode, irsa, podIdentity, accountId } = config;
  if (mode === 'irsa' && irsa) return irsaTrustPolicy(irsa.oidcProviderArn, irsa.issuer, ref.subject);
  if (mode === 'pod-identity' && podIdentity) {
    return podIdentityTrustPolicy(podIdentity.clusterName, ref.subject, accountId);
  }
  throw new InvalidConfigError(`aws provider: mode ${mode} is not configured`);
}

const identityLabel = (identity: AgentIdentity) =>
  `${identity.metadata.namespace ?? 'default'}/${identity.metadata.name}`;

export function desiredRole(config: AwsProviderConfig, ref: IdentityRef): DesiredRole {
  const { identity } = ref;
  const inline = scopesPolicy(awsScopesOf(config, identity));
  if (inline && renderPolicy(inline).length > INLINE_POLICY_MAX) {
    throw new InvalidConfigError(
      `aws scopes render to more than IAM's ${INLINE_POLICY_MAX} characters of inline policy`,
    );
  }
  const desired: DesiredRole = {
    name: roleName(config.roleNamePrefix, identity),
    path: config.rolePath,
    description: `nhi-operator: AgentIdentity ${identityLabel(identity)}`,
    trustPolicy: trustPolicy(config, ref),
    maxSessionDuration: maxSessionDuration(identity),
    tags: ownershipTags(identity),
  };
  if (inline) desired.scopesPolicy = inline;
  if (config.permissionsBoundaryArn) desired.boundaryArn = config.permissionsBoundaryArn;
  return desired;
}

export function secretTarget(
  config: AwsProviderConfig,
  ref: IdentityRef,
  secret: SecretSpec,
  generate: (generator: SecretGenerator) => string,
): SecretTarget {
  const { identity } = ref;
  const target: SecretTarget = {
    name: secretName(identity, secret),
    uid: uidOf(identity),
    tags: ownershipTags(identity),
    description: `nhi-operator: secret ${secret.name} of AgentIdentity ${identityLabel(identity)}`,
    generate: () => generate(secret.generator),
  };
  if (config.kmsKeyId) target.kmsKeyId = config.kmsKeyId;
  return target;
}

export function associationTarget(
  config: AwsProviderConfig,
  ref: IdentityRef,
  roleArn: string,
): AssociationTarget {
  return {
    clusterName: config.podIdentity?.clusterName ?? '',
    subject: ref.subject,
    roleArn,
    uid: uidOf(ref.identity),
    tags: ownershipTags(ref.identity),
  };
}
