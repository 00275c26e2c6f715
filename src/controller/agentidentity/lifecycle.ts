// The lifecycle decision: a pure function from what gather() read to what the reconcile must do.
//
//   Pending → Active ⇄ Rotating → {Expired | Orphaned | Locked | AttestationOverdue} → Quarantined → Revoked
//
// (Locked and AttestationOverdue hold until lifted: no quarantine period, no revocation for them.)
//
// Every deadline it computes is returned too, so the reconcile can schedule its own re-add.

import { Controls, OperatorAnnotations } from '../../api/v1alpha1/annotations.ts';
import {
  expiryWarningLeadMs,
  ttlMs as identityTtlMs,
  inactivityTimeoutMs,
  inactivityWarningLeadMs,
  orphanGraceMs,
} from '../../api/v1alpha1/defaults.ts';
import type { AgentIdentity, Condition } from '../../api/v1alpha1/types.ts';
import type { Deadlines, Decision, LifecycleInput, LifecycleResult, QuarantineReason } from './decision.ts';
import { quarantineEndsAt, quarantinePeriodOver } from './quarantine.ts';

export function isLocked(identity: AgentIdentity): boolean {
  return identity.spec.locked === true || Boolean(identity.metadata.annotations?.[Controls.lock]);
}

export function conditionIs(conditions: Condition[] | undefined, type: string, status = 'True'): boolean {
  return conditions?.some((c) => c.type === type && c.status === status) ?? false;
}

function at(base: Date | string | undefined, offsetMs: number): Date | undefined {
  if (base === undefined) return undefined;
  return new Date(new Date(base).getTime() + offsetMs);
}

/** A time read from status, if it is one and not in the future: status may be forged. */
export function recordedPast(value: string | undefined, now: Date): Date | undefined {
  const at = value ? Date.parse(value) : Number.NaN;
  return Number.isNaN(at) || at > now.getTime() ? undefined : new Date(at);
}

function reached(deadline: Date | undefined, now: Date): boolean {
  return deadline !== undefined && deadline.getTime() <= now.getTime();
}

export function decideLifecycle(input: LifecycleInput): LifecycleResult {
  const { identity, now, workload } = input;
  const { spec, status = {} } = identity;
  const created = identity.metadata.creationTimestamp ?? now.toISOString();

  const ttlMs = identityTtlMs(spec);
  const expiresAt = at(created, ttlMs);
  // Status is forgeable: a time it records in the future (or that is not a time) is ignored, so it
  // cannot postpone inactivity or the orphan grace. orphanedSince is written back, anchoring the grace.
  const lastActivity =
    (input.lastUsed && input.lastUsed <= now ? input.lastUsed : undefined) ??
    recordedPast(status.lastUsed, now) ??
    new Date(created);
  const orphanedSince =
    workload.kind === 'missing'
      ? recordedPast(status.orphanedSince, now) && status.orphanedSince
        ? status.orphanedSince
        : now.toISOString()
      : undefined;
  const deadlines: Deadlines = {
    ...(expiresAt && {
      expiresAt,
      expiryWarningAt: new Date(expiresAt.getTime() - expiryWarningLeadMs(ttlMs)),
    }),
    inactiveAt: new Date(lastActivity.getTime() + inactivityTimeoutMs(spec)),
    inactivityWarningAt: new Date(
      lastActivity.getTime() + inactivityTimeoutMs(spec) - inactivityWarningLeadMs(spec),
    ),
    ...(input.attestation && {
      attestationDueAt: input.attestation.dueAt,
      attestationOverdueAt: input.attestation.overdueAt,
    }),
    ...(orphanedSince && {
      orphanedAt: at(orphanedSince, orphanGraceMs(spec)),
    }),
    quarantineEndsAt: quarantineEndsAt(status),
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

  const revoking = identity.metadata.annotations?.[OperatorAnnotations.revocationStarted];
  if (revoking) {
    return result({
      action: 'revoke',
      reason: revoking.split(':')[0] || 'Revoking',
      message: `revocation started: ${revoking}`,
    });
  }

  const reason = quarantineReason(input, deadlines);
  if (reason) {
    if (quarantinePeriodOver(identity, reason.reason, now)) {
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
    const by = identity.metadata.annotations?.[Controls.lock];
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
  const attestation = input.attestation;
  if (attestation?.rules.action === 'quarantine' && reached(attestation.overdueAt, now)) {
    return {
      reason: 'AttestationOverdue',
      message: `attestation was due ${attestation.dueAt.toISOString()}, grace ended ${attestation.overdueAt.toISOString()}: quarantined until the sponsor attests (nhictl attest)`,
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
