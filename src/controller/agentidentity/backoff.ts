// Backoff after a provider failure (status.failedAttempts, lastFailureTime, lastFailedAction): kept in
// status so a restart does not hammer the backend (habit 10), counted per action so the kill switch
// is never delayed by an earlier provisioning failure.
//
// Status can be forged by whoever may write agentidentities/status, so nothing read from it may hold
// work back for long: the wait never ends later than now + backoffMs(failedAttempts) (five minutes
// at most, whatever failedAttempts says); a lastFailureTime in the future, or one that is not a time,
// is no failure record at all (no real failure is recorded ahead of the clock, and a real one is
// recorded afresh by the next attempt); and the safety actions — quarantine (lock, expiry, orphan,
// inactivity) and revoke — wait at most the base backoff after a recorded failure.

import type { AgentIdentity } from '../../api/v1alpha1/types.ts';
import type { Decision } from './decision.ts';
import type { StatusDraft } from './status-draft.ts';

const BACKOFF_BASE_MS = 2_000;
const BACKOFF_MAX_MS = 5 * 60_000;

export function backoffMs(attempts: number): number {
  if (!Number.isFinite(attempts)) return BACKOFF_MAX_MS;
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(30, Math.max(0, attempts - 1)));
}

/** Actions that take credentials away: a recorded failure may slow their retries, never stop them. */
function isSafetyAction(decision: Decision): boolean {
  return decision.action === 'quarantine' || decision.action === 'revoke';
}

/**
 * While status records recent failures of the same action, the next attempt waits. A different action
 * — the kill switch after a failed provisioning — goes ahead at once. The wait ends no later than
 * now + backoffMs(failedAttempts); for quarantine and revoke no later than the base backoff after the
 * recorded failure.
 */
export function failureBackoffUntil(
  identity: AgentIdentity,
  decision: Decision,
  now: Date,
): Date | undefined {
  const { failedAttempts, lastFailureTime, lastFailedAction } = identity.status ?? {};
  if (!failedAttempts || !lastFailureTime || decision.action === 'offboard') return undefined;
  if (lastFailedAction !== undefined && lastFailedAction !== decision.action) return undefined;
  const failedAt = Date.parse(lastFailureTime);
  if (Number.isNaN(failedAt) || failedAt > now.getTime()) return undefined;
  return new Date(failedAt + (isSafetyAction(decision) ? BACKOFF_BASE_MS : backoffMs(failedAttempts)));
}

/** Counts one more failed attempt of `action`; returns the attempt number and when to retry. */
export function countFailure(draft: StatusDraft, action: Decision['action'], now: Date) {
  const attempts = (draft.status.lastFailedAction === action ? (draft.status.failedAttempts ?? 0) : 0) + 1;
  draft.set('failedAttempts', attempts);
  draft.set('lastFailureTime', now.toISOString());
  draft.set('lastFailedAction', action);
  return { attempts, retryAt: new Date(now.getTime() + backoffMs(attempts)) };
}

export function clearFailures(draft: StatusDraft): void {
  draft.set('failedAttempts', undefined);
  draft.set('lastFailureTime', undefined);
  draft.set('lastFailedAction', undefined);
}
