// Backoff after a provider failure (status.failedAttempts, lastFailureTime, lastFailedAction): kept in
// status so a restart does not hammer the backend (habit 10), counted per action so the kill switch
// is never delayed by an earlier provisioning failure.

import type { AgentIdentity } from '../../api/v1alpha1/types.ts';
import type { Decision } from './decision.ts';
import type { StatusDraft } from './status-draft.ts';

const BACKOFF_BASE_MS = 2_000;
const BACKOFF_MAX_MS = 5 * 60_000;

export function backoffMs(attempts: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1));
}

/**
 * While status records recent failures of the same action, the next attempt waits. A different action
 * — the kill switch after a failed provisioning — goes ahead at once.
 */
export function failureBackoffUntil(identity: AgentIdentity, decision: Decision): Date | undefined {
  const { failedAttempts, lastFailureTime, lastFailedAction } = identity.status ?? {};
  if (!failedAttempts || !lastFailureTime || decision.action === 'offboard') return undefined;
  if (lastFailedAction !== undefined && lastFailedAction !== decision.action) return undefined;
  return new Date(new Date(lastFailureTime).getTime() + backoffMs(failedAttempts));
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
