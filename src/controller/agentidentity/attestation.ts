// Periodic attestation (condition AttestationDue): the sponsor confirms, every attestationInterval of
// the identity's environment (IdentityPolicy; defaults.ts), that the identity is still needed. A
// confirmation is the annotation nhi.dev/attest-requested (`nhictl attest`), which admission lets
// through only from a requester holding the attest verb and naming themselves; this step records it
// in status (attestedAt, attestedBy), in the audit trail, and then removes the annotation. Past the
// due date the condition turns True; past the grace too, the lifecycle (lifecycle.ts) quarantines
// when the policy's attestationAction says so, until the next attestation restores it.

import { attestedByOf, attestRequestKey, Controls } from '../../api/v1alpha1/annotations.ts';
import {
  type AttestationRules,
  attestationDeadlines,
  attestationRules,
} from '../../api/v1alpha1/defaults.ts';
import type { AgentIdentity, IdentityPolicy } from '../../api/v1alpha1/types.ts';
import { auditIdentity, identityResource } from './identity.ts';
import { recordedPast } from './lifecycle.ts';
import type { ReconcilerDeps } from './ports.ts';
import type { StatusDraft } from './status-draft.ts';

/** What the reconcile knows about attestation before deciding: the rules, the last one, the deadlines. */
export interface Attestation {
  rules: AttestationRules;
  /** The last attestation (or the creation when there was none), the start of the current interval. */
  since: Date;
  attestedAt?: string | undefined;
  attestedBy?: string | undefined;
  dueAt: Date;
  overdueAt: Date;
  /** An attest request not yet recorded: it is recorded by this reconcile, at `now`. */
  request?: { value: string; key: string; by: string } | undefined;
}

/**
 * The attestation state, pure: rules of the identity's environment, the recorded attestation (a time in
 * the future is ignored: status may be forged), and a new request, which counts from now on.
 */
export function readAttestation(
  identity: AgentIdentity,
  policy: IdentityPolicy | undefined,
  now: Date,
  /** False in a dry run: a request is neither recorded nor counted. */
  acceptRequests = true,
): Attestation | undefined {
  const environment = identity.spec.environment;
  const rules = attestationRules(environment, policy?.spec.environments[environment]);
  if (!rules) return undefined;
  const status = identity.status ?? {};
  const request = acceptRequests ? pendingAttestRequest(identity) : undefined;
  const recorded = recordedPast(status.attestedAt, now);
  const created = identity.metadata.creationTimestamp ?? now.toISOString();
  const since = request ? now : (recorded ?? new Date(created));
  const attestedAt = request ? now.toISOString() : recorded?.toISOString();
  const attestedBy = request ? request.by : recorded ? status.attestedBy : undefined;
  return { rules, since, attestedAt, attestedBy, ...attestationDeadlines(rules, since), request };
}

/** The attest request on the identity that status has not recorded yet, if any. */
export function pendingAttestRequest(identity: AgentIdentity): Attestation['request'] {
  const value = identity.metadata.annotations?.[Controls.attestRequest];
  if (!value) return undefined;
  const key = attestRequestKey(value);
  if (key === identity.status?.attestationRequest) return undefined;
  return { value, key, by: attestedByOf(value).trim() };
}

/**
 * Writes AttestationDue and the attestation fields of status; a new request is recorded in the audit
 * trail with the Kubernetes user who made it (admission checked that the value begins with that name).
 */
export async function recordAttestation(
  deps: ReconcilerDeps,
  identity: AgentIdentity,
  attestation: Attestation | undefined,
  draft: StatusDraft,
  now: Date,
): Promise<void> {
  const condition = draft.conditionsOf('attestation');
  if (!attestation) {
    // No attestation is required here, but a confirmation made is still recorded.
    const request = deps.dryRun ? undefined : pendingAttestRequest(identity);
    if (request) {
      await auditAttestation(deps, identity, request, 'no periodic attestation required here');
      draft.set('attestationRequest', request.key);
      draft.set('attestedAt', now.toISOString());
      draft.set('attestedBy', request.by);
    }
    condition.set(
      'AttestationDue',
      'False',
      'NotRequired',
      `no periodic attestation for ${identity.spec.environment} (IdentityPolicy attestationInterval)`,
    );
    return;
  }
  const { request, dueAt, overdueAt, rules } = attestation;
  if (request) {
    await auditAttestation(deps, identity, request, `next attestation due ${dueAt.toISOString()}`);
    draft.set('attestationRequest', request.key);
  }
  draft.set('attestedAt', attestation.attestedAt);
  draft.set('attestedBy', attestation.attestedBy);
  const sponsor = identity.spec.sponsor?.name ?? identity.spec.owner.team;
  const then =
    rules.action === 'quarantine' ? 'then the identity is quarantined until attested' : 'then notify';
  if (now < dueAt) {
    condition.set(
      'AttestationDue',
      'False',
      attestation.attestedAt ? 'Attested' : 'NotYetDue',
      attestation.attestedAt
        ? `attested by ${attestation.attestedBy ?? 'unknown'} at ${attestation.attestedAt}; next due ${dueAt.toISOString()}`
        : `never attested; first due ${dueAt.toISOString()}`,
    );
  } else if (now < overdueAt) {
    condition.set(
      'AttestationDue',
      'True',
      'Due',
      `attestation by ${sponsor} due since ${dueAt.toISOString()} (nhictl attest); grace ends ${overdueAt.toISOString()}, ${then}`,
    );
  } else {
    condition.set(
      'AttestationDue',
      'True',
      'Overdue',
      `attestation by ${sponsor} overdue: due ${dueAt.toISOString()}, grace ended ${overdueAt.toISOString()}${rules.action === 'quarantine' ? '; quarantined until attested (nhictl attest)' : ''}`,
    );
  }
}

async function auditAttestation(
  deps: ReconcilerDeps,
  identity: AgentIdentity,
  request: NonNullable<Attestation['request']>,
  next: string,
): Promise<void> {
  if (deps.dryRun) return;
  await deps.audit.record({
    action: 'attested',
    identity: auditIdentity(identity),
    actor: request.by,
    resource: identityResource(identity),
    origin: `annotation ${Controls.attestRequest}: ${request.value}`.slice(0, 512),
    outcome: 'success',
    severity: 'info',
    detail: `still needed, confirmed by ${request.by}; ${next}`,
  });
}

/**
 * An attest request that status already recorded (a previous reconcile wrote it) is removed, with the
 * resourceVersion of the object read: a newer request in between is a conflict, never lost. Removing it
 * in the reconcile that recorded it would conflict with that reconcile's own status write.
 */
export async function clearRecordedAttestRequest(
  deps: ReconcilerDeps,
  identity: AgentIdentity,
): Promise<boolean> {
  const value = identity.metadata.annotations?.[Controls.attestRequest];
  if (deps.dryRun || value === undefined || pendingAttestRequest(identity)) return false;
  await deps.store.annotate(identity, { [Controls.attestRequest]: null });
  return true;
}
