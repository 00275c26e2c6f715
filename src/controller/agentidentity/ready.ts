// Ready and the human-facing phase (condition Ready), derived last from the conditions the other steps
// set and from the lifecycle decision: an identity on its way to quarantine or revocation is never
// Ready, even while that step fails.

import type { AgentIdentityStatus, Phase } from '../../api/v1alpha1/types.ts';
import { findCondition } from '../../runtime/status.ts';
import type { Decision } from './decision.ts';
import type { StatusDraft } from './status-draft.ts';

export function markReady(draft: StatusDraft, decision?: Decision): AgentIdentityStatus {
  const ready = draft.conditionsOf('ready');
  const pendingStop =
    decision && (decision.action === 'quarantine' || decision.action === 'revoke') ? decision : undefined;
  const phase: Phase = draft.is('Revoked')
    ? 'Revoked'
    : draft.is('Quarantined')
      ? 'Quarantined'
      : pendingStop
        ? pendingStop.action === 'revoke'
          ? 'Revoking'
          : 'Quarantining'
        : draft.is('PolicyCompliant', 'False')
          ? 'Denied'
          : draft.is('Provisioned')
            ? 'Active'
            : 'Pending';
  const blocking = (['Revoked', 'Quarantined', 'Expired', 'Orphaned'] as const).find((t) => draft.is(t));
  const notYet = (['PolicyCompliant', 'Provisioned', 'WorkloadBound'] as const).find((t) => !draft.is(t));
  if (blocking) ready.set('Ready', 'False', blocking, `the identity is ${blocking.toLowerCase()}`);
  else if (pendingStop) {
    ready.set('Ready', 'False', pendingStop.reason, `${pendingStop.action} pending: ${pendingStop.message}`);
  } else if (notYet) {
    const c = findCondition(draft.status.conditions, notYet);
    ready.set(
      'Ready',
      c ? 'False' : 'Unknown',
      c?.reason ?? 'Reconciling',
      c?.message ?? `waiting for ${notYet}`,
    );
  } else ready.set('Ready', 'True', 'Active', 'credentials provisioned and bound to the workload');
  draft.set('phase', phase);
  return draft.status;
}

/**
 * Observe mode: the phase is Observing. Ready is True (reason ObserveOnly) while every observed object
 * is reported and nothing blocks: the identity does what it is meant to, which is to observe; False
 * when it expired, is orphaned, violates the policy, or an observed object is missing or refused.
 */
export function markObserving(draft: StatusDraft): AgentIdentityStatus {
  const ready = draft.conditionsOf('ready');
  const blocking = (['Expired', 'Orphaned'] as const).find((t) => draft.is(t));
  const notYet = (['PolicyCompliant', 'Observed'] as const).find((t) => !draft.is(t));
  if (blocking)
    ready.set(
      'Ready',
      'False',
      blocking,
      `the identity is ${blocking.toLowerCase()} (observe-only: nothing is revoked)`,
    );
  else if (notYet) {
    const c = findCondition(draft.status.conditions, notYet);
    ready.set('Ready', 'False', c?.reason ?? 'Reconciling', c?.message ?? `waiting for ${notYet}`);
  } else
    ready.set(
      'Ready',
      'True',
      'ObserveOnly',
      'observe-only: the operator records and reports, and provisions nothing',
    );
  draft.set('phase', 'Observing');
  return draft.status;
}
