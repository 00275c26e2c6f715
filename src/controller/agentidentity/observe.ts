// The observational conditions (PolicyCompliant, WorkloadBound, Orphaned, Expired) and the status
// fields that go with them (boundPods, orphanedSince, expiresAt, lastUsed, activity): what gather() found and the
// lifecycle decided, written down. Changes nothing outside status.

import type { ActivityStatus, AgentIdentity } from '../../api/v1alpha1/types.ts';
import { serviceAccountNameOf } from '../../providers/kubernetes/names.ts';
import type { LifecycleResult, WorkloadState } from './decision.ts';
import type { StatusDraft } from './status-draft.ts';

export function observeConditions(
  draft: StatusDraft,
  identity: AgentIdentity,
  workload: WorkloadState,
  violations: string[],
  lifecycle: LifecycleResult,
  lastUsed: Date | undefined,
  now: Date,
  activity?: ActivityStatus,
): void {
  const { deadlines, decision } = lifecycle;
  const observed = draft.conditionsOf('observe');
  if (violations.length > 0)
    observed.set('PolicyCompliant', 'False', 'PolicyViolation', violations.join('; '));
  else
    observed.set(
      'PolicyCompliant',
      'True',
      'Compliant',
      'the identity satisfies the IdentityPolicy in force',
    );

  const ref = identity.spec.workloadRef;
  const sa = serviceAccountNameOf(identity);
  switch (workload.kind) {
    case 'none':
      observed.set(
        'WorkloadBound',
        'True',
        'NoWorkload',
        'no workloadRef: the identity is not tied to a workload',
      );
      draft.set('boundPods', undefined);
      break;
    case 'unresolvable':
      observed.set('WorkloadBound', 'False', 'UnknownKind', workload.message);
      break;
    case 'missing':
      observed.set('WorkloadBound', 'False', 'WorkloadMissing', `${ref?.kind} ${ref?.name} does not exist`);
      draft.set('boundPods', 0);
      break;
    case 'present':
      if (workload.usesServiceAccount) {
        observed.set('WorkloadBound', 'True', 'Bound', `${ref?.kind} ${ref?.name} runs as ${sa}`);
      } else {
        observed.set(
          'WorkloadBound',
          'False',
          'ServiceAccountNotUsed',
          `${ref?.kind} ${ref?.name}'s pod template does not set serviceAccountName: ${sa}`,
        );
      }
      draft.set('boundPods', workload.boundPods);
  }

  draft.set('orphanedSince', lifecycle.orphanedSince);
  const orphaned = decision.action !== 'provision' && 'reason' in decision && decision.reason === 'Orphaned';
  if (orphaned) observed.set('Orphaned', 'True', 'WorkloadGone', decision.message);
  else if (lifecycle.orphanedSince)
    observed.set(
      'Orphaned',
      'False',
      'GracePeriod',
      `workload missing since ${lifecycle.orphanedSince}; grace ends ${deadlines.orphanedAt?.toISOString()}`,
    );
  else observed.set('Orphaned', 'False', 'WorkloadPresent', 'the workload exists (or none is referenced)');

  draft.set('expiresAt', deadlines.expiresAt?.toISOString());
  draft.set('lastUsed', lastUsed?.toISOString());
  // Between two observations, and while the counts stay the same, the recorded summary is kept:
  // no status write for a new observedAt alone.
  if (activity && !sameActivity(identity.status?.activity, activity)) draft.set('activity', activity);
  const expiredReason =
    'reason' in decision && (decision.reason === 'Expired' || decision.reason === 'Inactive')
      ? decision.reason
      : undefined;
  if (expiredReason)
    observed.set(
      'Expired',
      'True',
      expiredReason === 'Expired' ? 'TTLElapsed' : 'Inactive',
      (decision as { message: string }).message,
    );
  else if (deadlines.expiryWarningAt && deadlines.expiryWarningAt <= now)
    observed.set(
      'Expired',
      'False',
      'ExpiringSoon',
      `the identity expires at ${deadlines.expiresAt?.toISOString()}`,
    );
  else observed.set('Expired', 'False', 'Valid', `valid until ${deadlines.expiresAt?.toISOString()}`);
}

function sameActivity(recorded: ActivityStatus | undefined, taken: ActivityStatus): boolean {
  return (
    recorded?.window === taken.window &&
    JSON.stringify(recorded.backends) === JSON.stringify(taken.backends) &&
    JSON.stringify(judged(recorded.rightSizing)) === JSON.stringify(judged(taken.rightSizing)) &&
    JSON.stringify(recorded.baseline) === JSON.stringify(taken.baseline) &&
    JSON.stringify(recorded.anomalies) === JSON.stringify(taken.anomalies)
  );
}

/** What right-sizing found, without the start of its evidence (which moves with every observation). */
function judged(rightSizing: ActivityStatus['rightSizing']) {
  if (!rightSizing) return undefined;
  const { since: _since, ...rest } = rightSizing;
  return rest;
}
