// What the reconcile reports: the scheduled plan shown in status.plan (each entry from the module that
// owns the deadline), and the Events and audit records for condition transitions.

import { Controls, lockedBy } from '../../api/v1alpha1/annotations.ts';
import type { AgentIdentity, AgentIdentityStatus, PlannedChange } from '../../api/v1alpha1/types.ts';
import type { AuditAction } from '../../governance/audit/audit.ts';
import type { LifecycleResult } from './decision.ts';
import { auditIdentity, identityResource } from './identity.ts';
import type { ReconcilerDeps } from './ports.ts';
import { plannedRevocation } from './quarantine.ts';
import { plannedRotations } from './rotate.ts';
import type { Transition } from './status-draft.ts';

/** What the operator will do next and when, for humans reading status.plan. */
export function scheduledPlan(
  identity: AgentIdentity,
  status: AgentIdentityStatus,
  lifecycle: LifecycleResult,
): PlannedChange[] {
  const plan: PlannedChange[] = [];
  const name = `${identity.metadata.namespace}/${identity.metadata.name}`;
  if (status.conditions?.some((c) => c.type === 'Revoked' && c.status === 'True')) return plan;
  plan.push(...plannedRevocation(status, name));
  if (lifecycle.deadlines.orphanedAt && !status.quarantineUntil) {
    plan.push({
      action: 'quarantine',
      resource: name,
      reason: `workload grace period ends ${lifecycle.deadlines.orphanedAt.toISOString()}`,
    });
  }
  plan.push(...plannedRotations(status.secrets));
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

const BAD_WHEN_TRUE = new Set<Transition['type']>([
  'Expired',
  'Orphaned',
  'Quarantined',
  'Revoked',
  'AttestationDue',
]);
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

/**
 * What a quarantine in the same reconcile announces for them: the observations that led to it (the
 * workload gone, the grace over, the ttl passed). Their Events would repeat the Quarantined one.
 */
const CAUSES_OF_QUARANTINE = new Set<Transition['type']>(['WorkloadBound', 'Orphaned', 'Expired']);

/**
 * One Event per condition transition worth a human's attention, and audit records for the lifecycle
 * ones. A new identity's first good conditions are announced by its Ready alone; the bad observations
 * that a quarantine of the same reconcile acts on are named in the Quarantined Event instead of one
 * Event each (at scale every Event is an apiserver write; 200 workloads deleted at once are 200 Events,
 * not 600). Their audit records are kept.
 */
export async function transitionsToEvents(
  deps: ReconcilerDeps,
  identity: AgentIdentity,
  transitions: Transition[],
): Promise<void> {
  // The Events go out together (one round trip, not one per transition; the recorder never throws),
  // the audit records in order, made durable together; both before the status write that follows.
  const events: Promise<void>[] = [];
  const records: Promise<unknown>[] = [];
  const quarantined = transitions.some((t) => t.type === 'Quarantined' && t.to === 'True');
  const folded = quarantined ? transitions.filter((t) => CAUSES_OF_QUARANTINE.has(t.type) && isBad(t)) : [];
  for (const t of transitions) {
    const bad = isBad(t);
    // A new identity's conditions all appear at once; of the good ones only Ready says so (one Event
    // for the provisioning, not one per condition: at scale each Event is an apiserver write).
    const quietStart = t.from === undefined && !bad && !(t.type === 'Ready' && t.to === 'True');
    const announced = !(quietStart || (t.type === 'Ready' && t.to !== 'True') || folded.includes(t));
    const reason = t.to === 'True' ? t.type : t.reason;
    if (announced) {
      const also =
        t.type === 'Quarantined' && folded.length > 0
          ? ` (${folded.map((f) => `${f.type}=${f.to}: ${f.message}`).join('; ')})`
          : '';
      events.push(
        deps.notifier.event(
          identity,
          bad ? 'Warning' : 'Normal',
          reason,
          `${t.message}${also}`.slice(0, 1000),
        ),
      );
    }
    const action = deps.dryRun ? undefined : transitionAudit[t.type];
    const fires = t.type === 'PolicyCompliant' ? t.to === 'False' : t.to === 'True';
    if (!deps.dryRun && t.type === 'Quarantined' && t.to === 'True' && t.reason === 'Locked')
      records.push(recordLock(deps, identity, t));
    if (action && fires) {
      // Asked for in order now (the trail chains them so), made durable together below.
      records.push(
        deps.audit.record({
          action,
          identity: auditIdentity(identity),
          actor: deps.actor,
          resource: identityResource(identity),
          origin: 'reconcile',
          outcome: action === 'denied' ? 'denied' : 'success',
          severity: 'warning',
          detail: t.message,
        }),
      );
    }
  }
  await Promise.all([...events, ...records]);
}

/**
 * The kill switch took effect: an audit record whose actor is the Kubernetes user who locked (the
 * annotation begins with that name, which admission checks), or the spec for spec.locked (GitOps).
 */
async function recordLock(deps: ReconcilerDeps, identity: AgentIdentity, t: Transition): Promise<void> {
  const value = identity.metadata.annotations?.[Controls.lock];
  await deps.audit.record({
    action: 'locked',
    identity: auditIdentity(identity),
    actor: value ? lockedBy(value) : deps.actor,
    resource: identityResource(identity),
    origin: value ? `annotation ${Controls.lock}: ${value}` : 'spec.locked',
    outcome: 'success',
    severity: 'high',
    detail: t.message,
  });
}
