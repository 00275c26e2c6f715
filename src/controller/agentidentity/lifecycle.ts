// The lifecycle decision: a pure function from what gather() read to what the reconcile must do.
//
//   Pending → Active ⇄ Rotating → {Expired | Orphaned | Locked} → Quarantined → Revoked
//
// Every deadline it computes is returned too, so the reconcile can schedule its own re-add.

import { parseDuration } from '../../api/v1alpha1/duration.ts';
import type { AgentIdentity, Condition } from '../../api/v1alpha1/types.ts';

export const Defaults = {
  ttl: '2160h',
  credentialTTL: '15m',
  inactivityTimeout: '720h',
  orphanGracePeriod: '5m',
  quarantinePeriod: '24h',
  rotationInterval: '168h',
} as const;

/** How long before expiry the owner is warned: a tenth of the ttl, at most 7 days. */
export function expiryWarningMs(ttlMs: number): number {
  return Math.min(ttlMs / 10, 7 * 24 * 3_600_000);
}

export type WorkloadState =
  | { kind: 'none' }
  | { kind: 'present'; usesServiceAccount: boolean; boundPods: number }
  | { kind: 'missing' }
  | { kind: 'unresolvable'; message: string };

export type QuarantineReason = 'Orphaned' | 'Expired' | 'Inactive' | 'Locked';

export type Decision =
  | { action: 'offboard' }
  | { action: 'hold'; reason: 'Revoked' | 'PolicyViolation' | 'WorkloadUnresolvable'; message: string }
  | { action: 'quarantine'; reason: QuarantineReason; message: string }
  | { action: 'revoke'; reason: string; message: string }
  | { action: 'provision'; restore: boolean };

export interface LifecycleInput {
  identity: AgentIdentity;
  now: Date;
  workload: WorkloadState;
  lastUsed?: Date | undefined;
  policyViolations: string[];
}

export interface Deadlines {
  expiresAt?: Date | undefined;
  expiryWarningAt?: Date | undefined;
  inactiveAt?: Date | undefined;
  orphanedAt?: Date | undefined;
  quarantineEndsAt?: Date | undefined;
}

export interface LifecycleResult {
  decision: Decision;
  deadlines: Deadlines;
  /** New value of status.orphanedSince (undefined clears it). */
  orphanedSince?: string;
}

/**
 * `nhi.dev/abandon-backends: vault/old,aws/gone`: backends whose ClusterCredentialProvider was deleted,
 * which a human decided to stop trying to revoke (offboarding would otherwise wait for them forever).
 */
export const ABANDON_ANNOTATION = 'nhi.dev/abandon-backends';

/** Set before phase 2 starts, so a revocation once begun is finished and never undone by a restore. */
export const REVOKING_ANNOTATION = 'nhi.dev/revocation-started';

/** Set by `nhictl lock` (who and when); the kill switch works without touching spec, so GitOps does not undo it. */
export const LOCK_ANNOTATION = 'nhi.dev/locked';

export function isLocked(identity: AgentIdentity): boolean {
  return identity.spec.locked === true || Boolean(identity.metadata.annotations?.[LOCK_ANNOTATION]);
}

export function conditionIs(conditions: Condition[] | undefined, type: string, status = 'True'): boolean {
  return conditions?.some((c) => c.type === type && c.status === status) ?? false;
}

function ms(value: string | undefined, fallback: string): number {
  return parseDuration(value ?? fallback) ?? parseDuration(fallback) ?? 0;
}

function at(base: Date | string | undefined, offsetMs: number): Date | undefined {
  if (base === undefined) return undefined;
  return new Date(new Date(base).getTime() + offsetMs);
}

function reached(deadline: Date | undefined, now: Date): boolean {
  return deadline !== undefined && deadline.getTime() <= now.getTime();
}

export function decideLifecycle(input: LifecycleInput): LifecycleResult {
  const { identity, now, workload } = input;
  const { spec, status = {} } = identity;
  const created = identity.metadata.creationTimestamp ?? now.toISOString();

  const ttlMs = ms(spec.ttl, Defaults.ttl);
  const expiresAt = at(created, ttlMs);
  const lastActivity = input.lastUsed ?? (status.lastUsed ? new Date(status.lastUsed) : new Date(created));
  const orphanedSince = workload.kind === 'missing' ? (status.orphanedSince ?? now.toISOString()) : undefined;
  const deadlines: Deadlines = {
    ...(expiresAt && { expiresAt, expiryWarningAt: new Date(expiresAt.getTime() - expiryWarningMs(ttlMs)) }),
    inactiveAt: new Date(lastActivity.getTime() + ms(spec.inactivityTimeout, Defaults.inactivityTimeout)),
    ...(orphanedSince && {
      orphanedAt: at(orphanedSince, ms(spec.orphanGracePeriod, Defaults.orphanGracePeriod)),
    }),
    ...(status.quarantineUntil && { quarantineEndsAt: new Date(status.quarantineUntil) }),
  };
  const result = (decision: Decision): LifecycleResult => ({
    decision,
    deadlines,
    ...(orphanedSince !== undefined && { orphanedSince }),
  });

  if (identity.metadata.deletionTimestamp) return result({ action: 'offboard' });
  if (conditionIs(status.conditions, 'Revoked')) {
    return result({
      action: 'hold',
      reason: 'Revoked',
      message: 'credentials were revoked; recreate the AgentIdentity to start over',
    });
  }

  const revoking = identity.metadata.annotations?.[REVOKING_ANNOTATION];
  if (revoking) {
    return result({
      action: 'revoke',
      reason: revoking.split(':')[0] || 'Revoking',
      message: `revocation started: ${revoking}`,
    });
  }

  const reason = quarantineReason(input, deadlines);
  if (reason) {
    const quarantined = conditionIs(status.conditions, 'Quarantined');
    if (quarantined && reason.reason !== 'Locked' && reached(deadlines.quarantineEndsAt, now)) {
      return result({ action: 'revoke', ...reason });
    }
    return result({ action: 'quarantine', ...reason });
  }

  if (workload.kind === 'unresolvable') {
    return result({ action: 'hold', reason: 'WorkloadUnresolvable', message: workload.message });
  }
  if (input.policyViolations.length > 0) {
    return result({ action: 'hold', reason: 'PolicyViolation', message: input.policyViolations.join('; ') });
  }
  return result({ action: 'provision', restore: conditionIs(status.conditions, 'Quarantined') });
}

function quarantineReason(
  input: LifecycleInput,
  deadlines: Deadlines,
): { reason: QuarantineReason; message: string } | undefined {
  const { identity, now, workload } = input;
  if (isLocked(identity)) {
    const by = identity.metadata.annotations?.[LOCK_ANNOTATION];
    return { reason: 'Locked', message: `locked (kill switch)${by ? `: ${by}` : ''}` };
  }
  if (reached(deadlines.expiresAt, now)) {
    return { reason: 'Expired', message: `ttl elapsed at ${deadlines.expiresAt?.toISOString()}` };
  }
  if (reached(deadlines.inactiveAt, now)) {
    return { reason: 'Inactive', message: `not used since before ${deadlines.inactiveAt?.toISOString()}` };
  }
  if (workload.kind === 'missing' && reached(deadlines.orphanedAt, now)) {
    const ref = identity.spec.workloadRef;
    return {
      reason: 'Orphaned',
      message: `workload ${ref?.kind}/${ref?.name} missing since ${input.identity.status?.orphanedSince ?? now.toISOString()}`,
    };
  }
  return undefined;
}

/** The earliest future deadline, for the reconcile's scheduled re-add. */
export function nextDeadline(now: Date, ...candidates: Array<Date | undefined>): Date | undefined {
  return candidates
    .filter((d): d is Date => d !== undefined && d.getTime() > now.getTime())
    .sort((a, b) => a.getTime() - b.getTime())[0];
}
