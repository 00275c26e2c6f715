// The observational conditions (PolicyCompliant, WorkloadBound, Expired, Orphaned), the scheduled
// plan shown in status.plan, and the Events and audit records for condition transitions.

import type { AgentIdentity, AgentIdentityStatus, PlannedChange } from '../../api/v1alpha1/types.ts';
import type { AuditAction } from '../../governance/audit/audit.ts';
import type { LifecycleResult, WorkloadState } from './lifecycle.ts';
import type { ReconcilerDeps } from './ports.ts';
import { auditIdentity } from './rotation.ts';
import type { StatusDraft, Transition } from './status-draft.ts';

export function recordConditions(
  draft: StatusDraft,
  identity: AgentIdentity,
  workload: WorkloadState,
  violations: string[],
  lifecycle: LifecycleResult,
  lastUsed: Date | undefined,
  now: Date,
): void {
  const { deadlines, decision } = lifecycle;
  if (violations.length > 0)
    draft.condition('PolicyCompliant', 'False', 'PolicyViolation', violations.join('; '));
  else
    draft.condition(
      'PolicyCompliant',
      'True',
      'Compliant',
      'the identity satisfies the IdentityPolicy in force',
    );

  const ref = identity.spec.workloadRef;
  const sa = identity.spec.serviceAccountName ?? identity.metadata.name;
  switch (workload.kind) {
    case 'none':
      draft.condition(
        'WorkloadBound',
        'True',
        'NoWorkload',
        'no workloadRef: the identity is not tied to a workload',
      );
      draft.set('boundPods', undefined);
      break;
    case 'unresolvable':
      draft.condition('WorkloadBound', 'False', 'UnknownKind', workload.message);
      break;
    case 'missing':
      draft.condition(
        'WorkloadBound',
        'False',
        'WorkloadMissing',
        `${ref?.kind} ${ref?.name} does not exist`,
      );
      draft.set('boundPods', 0);
      break;
    case 'present':
      if (workload.usesServiceAccount) {
        draft.condition('WorkloadBound', 'True', 'Bound', `${ref?.kind} ${ref?.name} runs as ${sa}`);
      } else {
        draft.condition(
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
  if (orphaned) draft.condition('Orphaned', 'True', 'WorkloadGone', decision.message);
  else if (lifecycle.orphanedSince)
    draft.condition(
      'Orphaned',
      'False',
      'GracePeriod',
      `workload missing since ${lifecycle.orphanedSince}; grace ends ${deadlines.orphanedAt?.toISOString()}`,
    );
  else draft.condition('Orphaned', 'False', 'WorkloadPresent', 'the workload exists (or none is referenced)');

  draft.set('expiresAt', deadlines.expiresAt?.toISOString());
  draft.set('lastUsed', lastUsed?.toISOString());
  const expiredReason =
    'reason' in decision && (decision.reason === 'Expired' || decision.reason === 'Inactive')
      ? decision.reason
      : undefined;
  if (expiredReason)
    draft.condition(
      'Expired',
      'True',
      expiredReason === 'Expired' ? 'TTLElapsed' : 'Inactive',
      (decision as { message: string }).message,
    );
  else if (deadlines.expiryWarningAt && deadlines.expiryWarningAt <= now)
    draft.condition(
      'Expired',
      'False',
      'ExpiringSoon',
      `the identity expires at ${deadlines.expiresAt?.toISOString()}`,
    );
  else draft.condition('Expired', 'False', 'Valid', `valid until ${deadlines.expiresAt?.toISOString()}`);
}

/** What the operator will do next and when, for humans reading status.plan. */
export function scheduledPlan(
  identity: AgentIdentity,
  status: AgentIdentityStatus,
  lifecycle: LifecycleResult,
): PlannedChange[] {
  const plan: PlannedChange[] = [];
  const name = `${identity.metadata.namespace}/${identity.metadata.name}`;
  if (status.conditions?.some((c) => c.type === 'Revoked' && c.status === 'True')) return plan;
  if (status.quarantineUntil)
    plan.push({ action: 'revoke', resource: name, reason: `quarantine ends ${status.quarantineUntil}` });
  if (lifecycle.deadlines.orphanedAt && !status.quarantineUntil) {
    plan.push({
      action: 'quarantine',
      resource: name,
      reason: `workload grace period ends ${lifecycle.deadlines.orphanedAt.toISOString()}`,
    });
  }
  for (const s of status.secrets ?? []) {
    if (s.nextRotation)
      plan.push({
        action: 'rotate',
        resource: `secret/${s.name}`,
        reason: `interval ends ${s.nextRotation}`,
      });
  }
  if (lifecycle.deadlines.expiresAt)
    plan.push({
      action: 'expire',
      resource: name,
      reason: `ttl ends ${lifecycle.deadlines.expiresAt.toISOString()}`,
    });
  return plan;
}

const transitionAudit: Partial<Record<Transition['type'], AuditAction>> = {
  Expired: 'expired',
  Orphaned: 'orphaned',
  PolicyCompliant: 'denied',
};

const BAD_WHEN_TRUE = new Set<Transition['type']>(['Expired', 'Orphaned', 'Quarantined', 'Revoked']);
const BAD_WHEN_FALSE = new Set<Transition['type']>([
  'PolicyCompliant',
  'WorkloadBound',
  'Provisioned',
  'SecretsRotated',
]);

function isBad(t: Transition): boolean {
  return (
    (t.to === 'True' && BAD_WHEN_TRUE.has(t.type)) ||
    (t.to === 'False' && BAD_WHEN_FALSE.has(t.type)) ||
    t.reason === 'ExpiringSoon'
  );
}

/** One Event per condition transition worth a human's attention, and audit records for the lifecycle ones. */
export async function transitionsToEvents(
  deps: ReconcilerDeps,
  identity: AgentIdentity,
  transitions: Transition[],
): Promise<void> {
  for (const t of transitions) {
    const bad = isBad(t);
    const quietStart = t.from === undefined && !bad && t.to !== 'True';
    if (quietStart || (t.type === 'Ready' && t.to !== 'True')) continue;
    const reason = t.to === 'True' ? t.type : t.reason;
    await deps.notifier.event(identity, bad ? 'Warning' : 'Normal', reason, t.message);
    const action = deps.dryRun ? undefined : transitionAudit[t.type];
    const fires = t.type === 'PolicyCompliant' ? t.to === 'False' : t.to === 'True';
    if (action && fires) {
      await deps.audit.record({
        action,
        identity: auditIdentity(identity),
        actor: deps.actor,
        resource: `AgentIdentity/${identity.metadata.namespace}/${identity.metadata.name}`,
        origin: 'reconcile',
        outcome: action === 'denied' ? 'denied' : 'success',
        severity: 'warning',
        detail: t.message,
      });
    }
  }
}
