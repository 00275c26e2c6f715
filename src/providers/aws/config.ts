// The AWS provider's configuration: a ClusterCredentialProvider's `spec.aws`, validated and with
// defaults filled in. Invalid settings throw InvalidConfigError, which a human must fix.

import { AWS_RECOVERY_WINDOW_DAYS } from '../../api/v1alpha1/defaults.ts';
import type { AwsProviderSpec } from '../../api/v1alpha1/types.ts';
import { InvalidConfigError } from '../types.ts';

export interface AwsProviderConfig {
  /** The ClusterCredentialProvider's name: scopes and secrets naming another provider are not ours. */
  name?: string;
  region: string;
  accountId?: string;
  endpoint?: string;
  rolePath: string;
  roleNamePrefix: string;
  permissionsBoundaryArn?: string;
  mode: 'irsa' | 'pod-identity';
  irsa?: { oidcProviderArn: string; issuer: string };
  podIdentity?: { clusterName: string };
  kmsKeyId?: string;
  /** Secrets Manager recovery window on revoke, 7..30 days. */
  recoveryWindowDays: number;
  /** Delete secrets without a recovery window (tests only). */
  forceDelete: boolean;
  /** Ceiling on IAM / Secrets Manager / EKS write calls per second. */
  maxWritesPerSecond: number;
}

export const DEFAULT_ROLE_PATH = '/nhi/';
export const DEFAULT_ROLE_NAME_PREFIX = 'nhi-';
export const DEFAULT_MAX_WRITES_PER_SECOND = 5;

const rolePathPattern = /^\/([\u0021-\u007e]+\/)*$/;
const prefixPattern = /^[\w+=,.@-]{0,32}$/;

function invalid(message: string): never {
  throw new InvalidConfigError(`aws provider: ${message}`);
}

export function awsConfigFromSpec(spec: AwsProviderSpec | undefined, name?: string): AwsProviderConfig {
  if (!spec) invalid('spec.aws is missing');
  if (!spec.region) invalid('region is required');
  const rolePath = spec.rolePath ?? DEFAULT_ROLE_PATH;
  if (!rolePathPattern.test(rolePath) || rolePath.length > 512) {
    invalid(`rolePath "${rolePath}" must start and end with "/"`);
  }
  const roleNamePrefix = spec.roleNamePrefix ?? DEFAULT_ROLE_NAME_PREFIX;
  if (!prefixPattern.test(roleNamePrefix)) {
    invalid('roleNamePrefix allows up to 32 of the characters A-Z a-z 0-9 _+=,.@-');
  }
  const recoveryWindowDays = spec.secretsManager?.recoveryWindowDays ?? AWS_RECOVERY_WINDOW_DAYS;
  if (!Number.isInteger(recoveryWindowDays) || recoveryWindowDays < 7 || recoveryWindowDays > 30) {
    invalid('secretsManager.recoveryWindowDays must be 7..30');
  }
  const maxWritesPerSecond = spec.maxWritesPerSecond ?? DEFAULT_MAX_WRITES_PER_SECOND;
  if (!(maxWritesPerSecond > 0)) invalid('maxWritesPerSecond must be positive');
  if (spec.mode === 'irsa' && (!spec.irsa?.oidcProviderArn || !spec.irsa.issuer)) {
    invalid('mode irsa needs irsa.oidcProviderArn and irsa.issuer');
  }
  if (spec.mode === 'irsa' && !spec.irsa?.issuer.startsWith('https://')) {
    invalid('irsa.issuer must be the https:// URL of the cluster OIDC issuer');
  }
  if (spec.mode === 'pod-identity' && !spec.podIdentity?.clusterName) {
    invalid('mode pod-identity needs podIdentity.clusterName');
  }
  if (spec.mode !== 'irsa' && spec.mode !== 'pod-identity') invalid(`unknown mode "${String(spec.mode)}"`);

  const config: AwsProviderConfig = {
    region: spec.region,
    rolePath,
    roleNamePrefix,
    mode: spec.mode,
    recoveryWindowDays,
    forceDelete: spec.secretsManager?.forceDelete ?? false,
    maxWritesPerSecond,
  };
  if (name) config.name = name;
  if (spec.accountId) config.accountId = spec.accountId;
  if (spec.endpoint) config.endpoint = spec.endpoint;
  if (spec.permissionsBoundaryArn) config.permissionsBoundaryArn = spec.permissionsBoundaryArn;
  if (spec.irsa) config.irsa = { oidcProviderArn: spec.irsa.oidcProviderArn, issuer: spec.irsa.issuer };
  if (spec.podIdentity) config.podIdentity = { clusterName: spec.podIdentity.clusterName };
  if (spec.secretsManager?.kmsKeyId) config.kmsKeyId = spec.secretsManager.kmsKeyId;
  return Object.freeze(config);
}
