// Notifications that reach the owner and sponsor: CloudEvents sent to the IdentityPolicy's webhook
// (through the WebhookPort, adapters/webhook/) for expiry and inactivity notices, attestation due and
// overdue, quarantine, revocation and drift. Kubernetes Events stay as they are (report.ts); this adds
// the channel someone watches. Each occurrence has a dedupe key, which is also its CloudEvents id: it is
// recorded in status.notified once delivered, so a restart or the next reconcile does not send it again
// (a crash between delivery and the status write sends it once more, with the same id, for the
// receiver to drop). An occurrence not delivered is tried again on the next reconcile while it holds.
// Owns no condition. Never a secret value: names, reasons, times and condition messages only.

import { createHash } from 'node:crypto';
import { NOTIFIED_KEYS_MAX } from '../../api/v1alpha1/defaults.ts';
import type { AgentIdentity, Condition, IdentityPolicy } from '../../api/v1alpha1/types.ts';
import { maskSecrets } from '../../runtime/redact.ts';
import { findCondition } from '../../runtime/status.ts';
import type { LifecycleResult } from './decision.ts';
import { auditIdentity, identityResource } from './identity.ts';
import type { CloudEvent, ReconcilerDeps } from './ports.ts';
import type { StatusDraft } from './status-draft.ts';

/** The CloudEvents `source` of every notification. */
export const NOTIFICATION_SOURCE = 'nhi.dev/nhi-operator';

/** The CloudEvents types, one per occurrence kind. */
export const NotificationTypes = {
  expiring: 'dev.nhi.identity.expiring',
  inactive: 'dev.nhi.identity.inactivity-notice',
  attestationDue: 'dev.nhi.identity.attestation.due',
  attestationOverdue: 'dev.nhi.identity.attestation.overdue',
  quarantined: 'dev.nhi.identity.quarantined',
  revoked: 'dev.nhi.identity.revoked',
  drift: 'dev.nhi.identity.drift',
} as const;
export type NotificationType = (typeof NotificationTypes)[keyof typeof NotificationTypes];

export interface Occurrence {
  type: NotificationType;
  /** Stable for the occurrence: `<kind>/<the time or fact that makes it one>`. */
  key: string;
  reason: string;
  message: string;
  /** The deadline it is about, if any. */
  deadline?: string | undefined;
}

const trueCondition = (draft: StatusDraft, type: string): Condition | undefined => {
  const c = findCondition(draft.status.conditions, type);
  return c?.status === 'True' ? c : undefined;
};

/** What happened in this reconcile (or holds now) that the owner must hear about, pure. */
export function occurrences(
  draft: StatusDraft,
  lifecycle: LifecycleResult,
  drifted: readonly string[],
  now: Date,
): Occurrence[] {
  const { deadlines } = lifecycle;
  const out: Occurrence[] = [];
  const revoked = trueCondition(draft, 'Revoked');
  if (revoked) {
    return [
      {
        type: NotificationTypes.revoked,
        key: `revoked/${revoked.lastTransitionTime}`,
        reason: revoked.reason,
        message: revoked.message,
      },
    ];
  }
  const quarantined = trueCondition(draft, 'Quarantined');
  if (quarantined) {
    out.push({
      type: NotificationTypes.quarantined,
      key: `quarantined/${quarantined.lastTransitionTime}`,
      reason: quarantined.reason,
      message: quarantined.message,
      deadline: draft.status.quarantineUntil,
    });
  }
  const expired = findCondition(draft.status.conditions, 'Expired');
  if (expired?.status === 'False' && expired.reason === 'ExpiringSoon' && deadlines.expiresAt) {
    out.push({
      type: NotificationTypes.expiring,
      key: `expiring/${deadlines.expiresAt.toISOString()}`,
      reason: expired.reason,
      message: expired.message,
      deadline: deadlines.expiresAt.toISOString(),
    });
  }
  const { inactiveAt, inactivityWarningAt } = deadlines;
  if (!quarantined && inactiveAt && inactivityWarningAt && inactivityWarningAt <= now && now < inactiveAt) {
    out.push({
      type: NotificationTypes.inactive,
      key: `inactive/${inactiveAt.toISOString()}`,
      reason: 'InactiveSoon',
      message: `no use seen; the identity expires for inactivity at ${inactiveAt.toISOString()} unless used`,
      deadline: inactiveAt.toISOString(),
    });
  }
  const due = trueCondition(draft, 'AttestationDue');
  if (due && deadlines.attestationDueAt) {
    const overdue = due.reason === 'Overdue';
    const deadline = overdue ? deadlines.attestationOverdueAt : deadlines.attestationDueAt;
    out.push({
      type: overdue ? NotificationTypes.attestationOverdue : NotificationTypes.attestationDue,
      key: `${overdue ? 'attestation-overdue' : 'attestation-due'}/${deadline?.toISOString()}`,
      reason: due.reason,
      message: due.message,
      deadline: deadline?.toISOString(),
    });
  }
  if (drifted.length > 0) {
    out.push({
      type: NotificationTypes.drift,
      key: `drift/${now.toISOString()}`,
      reason: 'Drift',
      message: `the live state in ${drifted.join(', ')} differs from the desired state; the operator restores what it can (audit: drift-corrected)`,
    });
  }
  return out;
}

/** The CloudEvent for one occurrence; its id is derived from the identity and the dedupe key. */
export function cloudEvent(identity: AgentIdentity, occurrence: Occurrence, now: Date): CloudEvent {
  const { metadata, spec } = identity;
  return {
    specversion: '1.0',
    id: createHash('sha256')
      .update(`${metadata.uid ?? `${metadata.namespace}/${metadata.name}`}\n${occurrence.key}`)
      .digest('hex')
      .slice(0, 32),
    source: NOTIFICATION_SOURCE,
    type: occurrence.type,
    subject: `agentidentities/${metadata.namespace}/${metadata.name}`,
    time: now.toISOString(),
    datacontenttype: 'application/json',
    data: {
      identity: auditIdentity(identity),
      environment: spec.environment,
      owner: spec.owner,
      ...(spec.sponsor && { sponsor: spec.sponsor }),
      reason: occurrence.reason,
      message: maskSecrets(occurrence.message).slice(0, 1024),
      ...(occurrence.deadline && { deadline: occurrence.deadline }),
      ...(identity.status?.attestedAt && { attestedAt: identity.status.attestedAt }),
      key: occurrence.key,
    },
  };
}

const kindOf = (key: string) => key.slice(0, key.indexOf('/'));

/**
 * Keys this process delivered that the status it read does not show yet, per identity: the informer's
 * cache can lag the status write that recorded them, and a reconcile reading that stale copy must
 * neither send them again nor drop them from status. A key leaves once status shows it.
 */
export class DeliveredNotifications {
  private readonly byIdentity = new Map<string, Set<string>>();

  /** The keys delivered but not in `recorded`; the ones in it are forgotten. */
  unrecorded(identity: string, recorded: ReadonlySet<string>): string[] {
    const keys = this.byIdentity.get(identity);
    if (!keys) return [];
    for (const key of keys) if (recorded.has(key)) keys.delete(key);
    if (keys.size === 0) this.byIdentity.delete(identity);
    return [...keys];
  }

  add(identity: string, key: string): void {
    const keys = this.byIdentity.get(identity) ?? new Set<string>();
    keys.add(key);
    this.byIdentity.set(identity, keys);
  }

  forget(identity: string): void {
    this.byIdentity.delete(identity);
  }
}

/**
 * Sends each occurrence not yet in status.notified to the webhook, and records the delivered ones
 * there (the latest NOTIFIED_KEYS_MAX). Nothing is sent without a webhook, in a dry run, or when the
 * IdentityPolicy's webhook is unset; a failed delivery is logged and tried again next reconcile.
 */
export async function notifyOwners(
  deps: ReconcilerDeps,
  identity: AgentIdentity,
  policy: IdentityPolicy | undefined,
  draft: StatusDraft,
  lifecycle: LifecycleResult,
  drifted: readonly string[],
  now: Date,
  memory: DeliveredNotifications = new DeliveredNotifications(),
): Promise<void> {
  const webhook = policy?.spec.notifications?.webhook;
  if (!webhook || !deps.webhook || deps.dryRun) return;
  const recorded = new Set(draft.status.notified ?? []);
  const who = `${identity.metadata.namespace}/${identity.metadata.name}`;
  const delivered = memory.unrecorded(who, recorded);
  for (const occurrence of occurrences(draft, lifecycle, drifted, now)) {
    if (recorded.has(occurrence.key) || delivered.includes(occurrence.key)) continue;
    // Delivered by this process but not yet in the status read: a stale copy may re-enact the same
    // occurrence under a new time (quarantined again, say), which must not be sent as another.
    const kind = kindOf(occurrence.key);
    if (delivered.some((key) => kindOf(key) === kind)) continue;
    const event = cloudEvent({ ...identity, status: draft.status }, occurrence, now);
    try {
      await deps.webhook.deliver(webhook, event);
    } catch (error) {
      deps.logger.warn('webhook notification not delivered; tried again next reconcile', {
        type: event.type,
        id: event.id,
        error: maskSecrets(error instanceof Error ? error.message : String(error)),
      });
      continue;
    }
    delivered.push(occurrence.key);
    memory.add(who, occurrence.key);
    await deps.audit.record({
      action: 'notified',
      identity: auditIdentity(identity),
      actor: deps.actor,
      resource: identityResource(identity),
      origin: `webhook ${new URL(webhook.url).host}`,
      outcome: 'success',
      severity: 'info',
      detail: `${event.type} ${event.id} (${occurrence.key})`,
    });
  }
  // Delivered now, or earlier by this process but not in the copy read: status records them.
  if (delivered.length > 0) {
    draft.set('notified', [...(draft.status.notified ?? []), ...delivered].slice(-NOTIFIED_KEYS_MAX));
  }
}
