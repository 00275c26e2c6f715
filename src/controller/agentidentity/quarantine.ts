// Quarantine (condition Quarantined): disabling every credential of the identity reversibly (phase 1),
// re-asserting that each drift interval, restoring when the reason is gone, and the quarantine period:
// when it starts, when it ends (then revocation, phase 2, follows), and how it is announced in
// status.plan. A lock, and an overdue attestation, have no period: they hold until lifted.

import { quarantinePeriodEnd } from '../../api/v1alpha1/defaults.ts';
import type { AgentIdentity, AgentIdentityStatus, PlannedChange } from '../../api/v1alpha1/types.ts';
import type { IdentityRef } from '../../providers/types.ts';
import { applyPhaseEverywhere } from './backends.ts';
import type { Decision, QuarantineReason } from './decision.ts';
import type { ReconcilerDeps } from './ports.ts';
import type { StatusDraft } from './status-draft.ts';

/**
 * Quarantines that hold until a human acts (unlock; attest): no quarantine period, so they never lead
 * to revocation on their own.
 */
export const UNTIL_LIFTED: ReadonlySet<QuarantineReason> = new Set(['Locked', 'AttestationOverdue']);

/** When the current quarantine period ends, as stamped in status. */
export function quarantineEndsAt(status: AgentIdentityStatus | undefined): Date | undefined {
  return status?.quarantineUntil ? new Date(status.quarantineUntil) : undefined;
}

/** A quarantine (not a lock) whose period has run out: revocation is due. */
export function quarantinePeriodOver(identity: AgentIdentity, reason: QuarantineReason, now: Date): boolean {
  const quarantined = identity.status?.conditions?.some(
    (c) => c.type === 'Quarantined' && c.status === 'True',
  );
  const endsAt = quarantineEndsAt(identity.status);
  return Boolean(quarantined) && !UNTIL_LIFTED.has(reason) && endsAt !== undefined && endsAt <= now;
}

/** Disables the credentials on entry and stamps the period; re-asserts each drift interval after. */
export async function quarantine(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  decision: Extract<Decision, { action: 'quarantine' }>,
  draft: StatusDraft,
  now: Date,
  driftDue: boolean,
): Promise<void> {
  if (!draft.is('Quarantined')) {
    await applyPhaseEverywhere(deps, ref, 'quarantine', `${decision.reason}: ${decision.message}`);
    draft.set(
      'quarantineUntil',
      UNTIL_LIFTED.has(decision.reason)
        ? undefined
        : quarantinePeriodEnd(ref.identity.spec, now).toISOString(),
    );
  } else if (driftDue) {
    // Re-assert quarantine each drift interval: a RoleBinding or policy put back is removed again.
    await applyPhaseEverywhere(deps, ref, 'quarantine', 'drift check', { audit: false });
  }
  if (draft.is('Quarantined') && !UNTIL_LIFTED.has(decision.reason) && !draft.status.quarantineUntil) {
    // Quarantined by a lock that was lifted while another reason (expiry, orphan) holds: the period
    // starts now, or the identity would stay quarantined forever and never be revoked.
    draft.set('quarantineUntil', quarantinePeriodEnd(ref.identity.spec, now).toISOString());
  }
  draft
    .conditionsOf('quarantine')
    .set('Quarantined', 'True', decision.reason, `credentials disabled: ${decision.message}`);
}

/** The quarantine reason is gone: re-enable every credential before provisioning goes on. */
export async function restore(deps: ReconcilerDeps, ref: IdentityRef, draft: StatusDraft): Promise<void> {
  await applyPhaseEverywhere(deps, ref, 'restore', 'the quarantine reason is gone');
  draft.set('quarantineUntil', undefined);
  draft
    .conditionsOf('quarantine')
    .set('Quarantined', 'False', 'Restored', 'the quarantine reason is gone: credentials restored');
}

/** Provisioning goes ahead on an identity that was not quarantined. */
export function markActive(draft: StatusDraft): void {
  if (!draft.is('Quarantined', 'False')) {
    draft.conditionsOf('quarantine').set('Quarantined', 'False', 'Active', 'credentials enabled');
  }
}

/** A failed quarantine says so, unless the identity is already quarantined (a re-assert failed). */
export function quarantineFailed(draft: StatusDraft, reason: string, message: string): void {
  if (!draft.is('Quarantined')) draft.conditionsOf('quarantine').set('Quarantined', 'False', reason, message);
}

/** Revocation finished: the period is over. */
export function endQuarantinePeriod(draft: StatusDraft): void {
  draft.set('quarantineUntil', undefined);
}

export function plannedRevocation(status: AgentIdentityStatus, resource: string): PlannedChange[] {
  return status.quarantineUntil
    ? [{ action: 'revoke', resource, reason: `quarantine ends ${status.quarantineUntil}` }]
    : [];
}
