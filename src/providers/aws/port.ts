// The narrow ports the AWS provider talks through: only the IAM, Secrets Manager and EKS calls it
// uses, in its own vocabulary. The adapters (adapter-iam.ts, adapter-secrets-manager.ts,
// adapter-eks.ts) map SDK v3 clients onto them; unit tests use the fakes in testing/fakes.ts.
//
// Port contract: reads of something absent return undefined (never throw NotFound); deletes of
// something absent return false; a create that collides throws AlreadyExistsError; throttling and
// unavailability throw ThrottledError / UnavailableError from ../types.ts.

import { ProviderError } from '../types.ts';

export type Tags = Record<string, string>;

export interface LiveRole {
  name: string;
  arn: string;
  path: string;
  /** The trust policy, already URL-decoded and parsed. */
  trustPolicy: unknown;
  maxSessionDuration: number;
  boundaryArn?: string;
  lastUsed?: Date;
}

export interface CreateRoleInput {
  name: string;
  path: string;
  trustPolicy: string;
  description: string;
  maxSessionDuration: number;
  boundaryArn?: string;
  tags: Tags;
}

export interface IamPort {
  getRole(name: string): Promise<LiveRole | undefined>;
  listRoleTags(name: string): Promise<Tags | undefined>;
  createRole(input: CreateRoleInput): Promise<LiveRole>;
  updateRole(name: string, update: { maxSessionDuration: number; description: string }): Promise<void>;
  updateAssumeRolePolicy(name: string, document: string): Promise<void>;
  tagRole(name: string, tags: Tags): Promise<void>;
  putRolePermissionsBoundary(name: string, boundaryArn: string): Promise<void>;
  deleteRolePermissionsBoundary(name: string): Promise<boolean>;
  listRolePolicies(name: string): Promise<string[]>;
  /** The inline policy document, URL-decoded and parsed. */
  getRolePolicy(name: string, policyName: string): Promise<unknown | undefined>;
  putRolePolicy(name: string, policyName: string, document: string): Promise<void>;
  deleteRolePolicy(name: string, policyName: string): Promise<boolean>;
  listAttachedRolePolicies(name: string): Promise<string[]>;
  detachRolePolicy(name: string, policyArn: string): Promise<boolean>;
  deleteRole(name: string): Promise<boolean>;
}

export interface SecretDescription {
  name: string;
  arn: string;
  tags: Tags;
  /** VersionId -> staging labels. */
  versions: Record<string, string[]>;
  deletedDate?: Date;
  lastAccessed?: Date;
  kmsKeyId?: string;
}

export interface SecretValue {
  versionId: string;
  value: string;
  createdAt?: Date;
}

export interface SecretsManagerPort {
  describeSecret(id: string): Promise<SecretDescription | undefined>;
  /** Secrets carrying the tag key `tagKey` (all pages); tags included, values not. */
  listSecretsByTagKey(tagKey: string): Promise<Array<{ name: string; tags: Tags }>>;
  createSecret(input: {
    name: string;
    value: string;
    versionId: string;
    description: string;
    tags: Tags;
    kmsKeyId?: string;
  }): Promise<{ arn: string; versionId: string }>;
  putSecretValue(input: { id: string; value: string; versionId: string; stages: string[] }): Promise<void>;
  /** Moves `stage` to `moveTo` and/or removes it from `removeFrom`. */
  updateSecretVersionStage(input: {
    id: string;
    stage: string;
    moveTo?: string;
    removeFrom?: string;
  }): Promise<void>;
  getSecretValue(id: string, versionId: string): Promise<SecretValue | undefined>;
  tagResource(id: string, tags: Tags): Promise<void>;
  restoreSecret(id: string): Promise<void>;
  deleteSecret(id: string, options: { recoveryWindowDays: number } | { force: true }): Promise<boolean>;
}

export interface PodIdentityAssociation {
  associationId: string;
  roleArn: string;
  tags: Tags;
}

export interface EksPort {
  findPodIdentityAssociation(
    clusterName: string,
    namespace: string,
    serviceAccount: string,
  ): Promise<PodIdentityAssociation | undefined>;
  createPodIdentityAssociation(input: {
    clusterName: string;
    namespace: string;
    serviceAccount: string;
    roleArn: string;
    tags: Tags;
  }): Promise<PodIdentityAssociation>;
  updatePodIdentityAssociation(clusterName: string, associationId: string, roleArn: string): Promise<void>;
  deletePodIdentityAssociation(clusterName: string, associationId: string): Promise<boolean>;
}

/** A create collided with an existing object of the same name (EntityAlreadyExists, ResourceExists, ResourceInUse). */
export class AlreadyExistsError extends ProviderError {
  override readonly reason = 'AlreadyExists';
}

/** Method names of IamPort / SecretsManagerPort / EksPort that write, for the write-rate ceiling. */
export const iamWrites = [
  'createRole',
  'updateRole',
  'updateAssumeRolePolicy',
  'tagRole',
  'putRolePermissionsBoundary',
  'deleteRolePermissionsBoundary',
  'putRolePolicy',
  'deleteRolePolicy',
  'detachRolePolicy',
  'deleteRole',
] as const satisfies ReadonlyArray<keyof IamPort>;

export const secretsManagerWrites = [
  'createSecret',
  'putSecretValue',
  'updateSecretVersionStage',
  'tagResource',
  'restoreSecret',
  'deleteSecret',
] as const satisfies ReadonlyArray<keyof SecretsManagerPort>;

export const eksWrites = [
  'createPodIdentityAssociation',
  'updatePodIdentityAssociation',
  'deletePodIdentityAssociation',
] as const satisfies ReadonlyArray<keyof EksPort>;
