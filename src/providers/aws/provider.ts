// AwsProvider: one IAM role per AgentIdentity (IRSA or EKS Pod Identity), its inline policy from the
// identity's `aws` scopes, its Secrets Manager secrets, drift correction and two-phase revocation.
// Everything goes through the narrow ports in port.ts; the clock and config come in here too.

import { createHash } from 'node:crypto';
import { Marks } from '../../api/v1alpha1/annotations.ts';
import type {
  ClusterCredentialProviderSpec,
  PlannedChange,
  SecretGenerator,
  SecretSpec,
} from '../../api/v1alpha1/types.ts';
import { type Clock, systemClock } from '../../runtime/clock.ts';
import { generateSecretValue } from '../generators.ts';
import {
  type CredentialProvider,
  type ForeignRole,
  type IdentityRef,
  InvalidConfigError,
  type Observation,
  ProviderError,
  type ProvisionResult,
  type RotateOptions,
  type RotationResult,
  type SecretMaterial,
  withCompletedChanges,
} from '../types.ts';
import { type AwsProviderConfig, awsConfigFromSpec } from './config.ts';
import { assertSmSecret, associationTarget, desiredRole, secretTarget, smSecretsOf } from './desired.ts';
import { QUARANTINE_POLICY, roleName, secretName, tokenExpirationSeconds, uidOf } from './names.ts';
import { deleteAssociation, ensureAssociation, planAssociation } from './pod-identity.ts';
import { isQuarantinePolicy, policyHash, quarantinePolicy, renderPolicy } from './policies.ts';
import {
  AlreadyExistsError,
  type EksPort,
  eksWrites,
  type IamPort,
  iamWrites,
  type SecretsManagerPort,
  secretsManagerWrites,
} from './port.ts';
import {
  applyRoleAction,
  assertOwned,
  type DesiredRole,
  deleteRole,
  diffRole,
  type RoleAction,
  readRole,
  toPlannedChange,
} from './role.ts';
import * as secrets from './secrets.ts';
import { limitWrites, WriteLimiter } from './write-limiter.ts';

export interface AwsProviderDeps {
  iam: IamPort;
  secretsManager: SecretsManagerPort;
  /** Required in pod-identity mode. */
  eks?: EksPort;
  clock?: Clock;
  /** Secret value generator; defaults to generators.ts. */
  generate?: (generator: SecretGenerator) => string;
}

const secretActions = {
  created: 'create-secret',
  restored: 'restore-secret',
  retagged: 'tag-secret',
} as const;

export const ROLE_ARN_ANNOTATION = 'eks.amazonaws.com/role-arn';
export const TOKEN_EXPIRATION_ANNOTATION = 'eks.amazonaws.com/token-expiration';

export class AwsProvider implements CredentialProvider {
  readonly kind = 'aws' as const;
  private readonly iam: IamPort;
  private readonly sm: SecretsManagerPort;
  private readonly eks: EksPort | undefined;
  private readonly clock: Clock;
  private readonly generate: (generator: SecretGenerator) => string;

  constructor(
    readonly config: AwsProviderConfig,
    deps: AwsProviderDeps,
  ) {
    if (config.mode === 'pod-identity' && !deps.eks) {
      throw new InvalidConfigError('aws provider: pod-identity mode needs an EKS client');
    }
    this.clock = deps.clock ?? systemClock;
    const limiter = new WriteLimiter(config.maxWritesPerSecond, this.clock);
    this.iam = limitWrites(deps.iam, iamWrites, limiter);
    this.sm = limitWrites(deps.secretsManager, secretsManagerWrites, limiter);
    // The EKS port is only used in pod-identity mode; IRSA needs no association.
    this.eks =
      config.mode === 'pod-identity' && deps.eks ? limitWrites(deps.eks, eksWrites, limiter) : undefined;
    this.generate = deps.generate ?? generateSecretValue;
  }

  /** Builds the provider from a ClusterCredentialProvider's spec (its `aws` part). */
  static fromSpec(
    spec: ClusterCredentialProviderSpec,
    deps: AwsProviderDeps & { name?: string },
  ): AwsProvider {
    return new AwsProvider(awsConfigFromSpec(spec.aws, deps.name), deps);
  }

  async plan(ref: IdentityRef): Promise<PlannedChange[]> {
    const desired = desiredRole(this.config, ref);
    const state = await readRole(this.iam, desired.name);
    if (state) assertOwned(state, uidOf(ref.identity));
    const changes = diffRole(desired, state).map(toPlannedChange);
    const roleArn = state?.role.arn;
    if (this.eks && roleArn) {
      changes.push(...(await planAssociation(this.eks, associationTarget(this.config, ref, roleArn))));
    }
    for (const secret of smSecretsOf(this.config, ref.identity)) {
      const target = secretTarget(this.config, ref, secret, this.generate);
      const live = await secrets.describeOwned(this.sm, target.name, target.uid);
      const resource = `secretsmanager:${target.name}`;
      if (!live) {
        changes.push({ action: 'create-secret', resource, reason: 'not present' });
      } else if (live.deletedDate) {
        changes.push({ action: 'restore-secret', resource, reason: 'scheduled for deletion' });
      }
    }
    return changes;
  }

  async provision(ref: IdentityRef): Promise<ProvisionResult> {
    const desired = desiredRole(this.config, ref);
    const { arn, applied } = await this.convergeRole(ref, desired, () => true);
    const changes = applied.map(toPlannedChange);
    try {
      return await this.provisionAfterRole(ref, desired, arn, changes);
    } catch (err) {
      // The role's writes happened: the caller audits them although a later write failed.
      throw withCompletedChanges(err, changes);
    }
  }

  private async provisionAfterRole(
    ref: IdentityRef,
    desired: DesiredRole,
    arn: string,
    changes: PlannedChange[],
  ): Promise<ProvisionResult> {
    if (this.eks) {
      changes.push(...(await ensureAssociation(this.eks, associationTarget(this.config, ref, arn))));
    }
    for (const secret of smSecretsOf(this.config, ref.identity)) {
      const target = secretTarget(this.config, ref, secret, this.generate);
      const outcome = await secrets.ensureSecret(this.sm, target);
      if (outcome !== 'unchanged') {
        changes.push({
          action: secretActions[outcome],
          resource: `secretsmanager:${target.name}`,
          reason: outcome,
        });
      }
    }
    const result: ProvisionResult = {
      status: { roleArn: arn, roleName: desired.name, policyHash: policyHash(desired.scopesPolicy) },
      changes,
    };
    if (this.config.mode === 'irsa') {
      result.serviceAccountAnnotations = {
        [ROLE_ARN_ANNOTATION]: arn,
        [TOKEN_EXPIRATION_ANNOTATION]: String(tokenExpirationSeconds(ref.identity)),
      };
    }
    return result;
  }

  async rotate(ref: IdentityRef, secret: SecretSpec, options?: RotateOptions): Promise<RotationResult> {
    assertSmSecret(secret);
    const target = secretTarget(this.config, ref, secret, this.generate);
    const writes = await secrets.rotateSecret(this.sm, target, options?.expectedCurrentVersion);
    const material = await secrets.readMaterial(this.sm, target.name, target.uid);
    if (!material) {
      throw new ProviderError(`Secrets Manager secret ${target.name} has no current value after rotation`);
    }
    return { material, writes };
  }

  async readSecret(ref: IdentityRef, secret: SecretSpec): Promise<SecretMaterial | undefined> {
    assertSmSecret(secret);
    return secrets.readMaterial(this.sm, secretName(ref.identity, secret), uidOf(ref.identity));
  }

  async retirePrevious(ref: IdentityRef, secret: SecretSpec): Promise<void> {
    assertSmSecret(secret);
    await secrets.retirePrevious(this.sm, secretName(ref.identity, secret), uidOf(ref.identity));
  }

  /** Adds the deny-all + earlier-sessions deny policy; the role and its other policies stay. */
  async quarantine(ref: IdentityRef): Promise<void> {
    const state = await readRole(this.iam, roleName(this.config.roleNamePrefix, ref.identity));
    if (!state) return;
    assertOwned(state, uidOf(ref.identity));
    if (isQuarantinePolicy(state.inline.get(QUARANTINE_POLICY))) return;
    await this.iam.putRolePolicy(
      state.role.name,
      QUARANTINE_POLICY,
      renderPolicy(quarantinePolicy(this.clock.now())),
    );
  }

  async restore(ref: IdentityRef): Promise<void> {
    const state = await readRole(this.iam, roleName(this.config.roleNamePrefix, ref.identity));
    if (!state) return;
    assertOwned(state, uidOf(ref.identity));
    if (state.inline.has(QUARANTINE_POLICY)) {
      await this.iam.deleteRolePolicy(state.role.name, QUARANTINE_POLICY);
    }
  }

  /** Deletes what carries this identity's tag: association, role, secrets. Not ours or gone: skipped. */
  async revoke(ref: IdentityRef): Promise<void> {
    const uid = uidOf(ref.identity);
    if (this.eks && this.config.podIdentity) {
      await deleteAssociation(this.eks, this.config.podIdentity.clusterName, ref.subject, uid);
    }
    const state = await readRole(this.iam, roleName(this.config.roleNamePrefix, ref.identity));
    if (state && state.tags[Marks.identityUid] === uid) await deleteRole(this.iam, state);
    const named = smSecretsOf(this.config, ref.identity).map((s) => secretName(ref.identity, s));
    const tagged = (await this.sm.listSecretsByTagKey(Marks.identityUid))
      .filter((s) => s.tags[Marks.identityUid] === uid)
      .map((s) => s.name);
    const how = this.config.forceDelete
      ? ({ force: true } as const)
      : { recoveryWindowDays: this.config.recoveryWindowDays };
    for (const name of new Set([...named, ...tagged])) {
      await secrets.deleteOwnedSecret(this.sm, name, uid, how);
    }
  }

  /** Observe mode: reads an IAM role it does not own (trust, tags, inline and attached policies); writes nothing. */
  async inspectForeignRole(name: string): Promise<ForeignRole | undefined> {
    const role = await this.iam.getRole(name);
    if (!role) return undefined;
    const tags = (await this.iam.listRoleTags(name)) ?? {};
    const inline = await this.iam.listRolePolicies(name);
    const documents = await Promise.all(inline.map((p) => this.iam.getRolePolicy(name, p)));
    const attached = await this.iam.listAttachedRolePolicies(name);
    const digest = createHash('sha256')
      .update(
        JSON.stringify([
          role.trustPolicy,
          role.maxSessionDuration,
          role.boundaryArn ?? '',
          tags,
          inline,
          documents,
          attached,
        ]),
      )
      .digest('hex');
    return {
      kind: 'iam-role',
      name: role.name,
      arn: role.arn,
      trustPolicy: role.trustPolicy,
      issuers: this.config.irsa ? [this.config.irsa.issuer] : [],
      ...(role.lastUsed ? { lastUsed: role.lastUsed } : {}),
      digest,
    };
  }

  async observe(ref: IdentityRef, options: { correctDrift: boolean }): Promise<Observation> {
    const desired = desiredRole(this.config, ref);
    const state = await readRole(this.iam, desired.name);
    const drift: Observation['drift'] = [];
    let lastUsed = state?.role.lastUsed;
    let corrected = false;
    if (state) {
      assertOwned(state, uidOf(ref.identity));
      const driftActions = diffRole(desired, state).filter((a) => a.drift);
      drift.push(...driftActions.map((a) => ({ resource: a.resource, field: a.field, detail: a.detail })));
      const quarantine = state.inline.get(QUARANTINE_POLICY);
      const quarantineAltered = quarantine !== undefined && !isQuarantinePolicy(quarantine);
      if (quarantineAltered) {
        const resource = `iam:role${desired.path}${desired.name}/policy/${QUARANTINE_POLICY}`;
        drift.push({
          resource,
          field: 'quarantinePolicy',
          detail: 'quarantine deny statements were altered',
        });
      }
      if (options.correctDrift && drift.length > 0) {
        await this.convergeRole(ref, desired, (a) => a.drift);
        if (quarantineAltered) await this.quarantine(ref);
        corrected = true;
      }
    } else {
      drift.push({
        resource: `iam:role${desired.path}${desired.name}`,
        field: 'role',
        detail: 'role is missing',
      });
      if (options.correctDrift) {
        await this.convergeRole(ref, desired, () => true);
        corrected = true;
      }
    }
    for (const secret of smSecretsOf(this.config, ref.identity)) {
      const target = secretTarget(this.config, ref, secret, this.generate);
      const live = await secrets.describeOwned(this.sm, target.name, target.uid);
      if (live?.lastAccessed && (!lastUsed || live.lastAccessed > lastUsed)) lastUsed = live.lastAccessed;
    }
    return lastUsed ? { lastUsed, drift, corrected } : { drift, corrected };
  }

  /**
   * Reads, diffs and applies the actions `select` picks. A create that collides (another writer, or
   * a create whose response was lost) re-reads once and adopts or refuses what is there.
   */
  private async convergeRole(
    ref: IdentityRef,
    desired: DesiredRole,
    select: (action: RoleAction) => boolean,
  ): Promise<{ arn: string; applied: RoleAction[] }> {
    for (let attempt = 0; ; attempt++) {
      const state = await readRole(this.iam, desired.name);
      if (state) assertOwned(state, uidOf(ref.identity));
      let arn = state?.role.arn ?? '';
      const applied: RoleAction[] = [];
      try {
        for (const action of diffRole(desired, state).filter(select)) {
          const created = await applyRoleAction(this.iam, desired, action);
          if (created) arn = created.arn;
          applied.push(action);
        }
        return { arn, applied };
      } catch (err) {
        if (!(err instanceof AlreadyExistsError) || attempt > 0)
          throw withCompletedChanges(err, applied.map(toPlannedChange));
      }
    }
  }
}
