// Revocation (condition Revoked): phase 2 after the quarantine period, deleting every credential the
// operator owns, and offboarding when the AgentIdentity is deleted (revoke everywhere, then release
// the finalizer). A revocation is marked on the object before it starts, so once begun it is finished
// and never undone by a restore. Offboarding that cannot finish says where and what to do, and retries.
// Whether offboarding revokes at all (deletionPolicy Retain, the CRD being deleted) and how long it
// may hold a namespace being deleted is deletion.ts's answer.

import { Controls, Marks, OperatorAnnotations } from '../../api/v1alpha1/annotations.ts';
import type { IdentityRef } from '../../providers/types.ts';
import { maskSecrets } from '../../runtime/redact.ts';
import {
  applyPhaseEverywhere,
  droppedByAbandonment,
  PartialFailureError,
  reportAbandonment,
} from './backends.ts';
import type { Decision } from './decision.ts';
import { releaseIfOverdue, retainCredentials, retentionOf } from './deletion.ts';
import { auditIdentity, identityResource } from './identity.ts';
import type { ReconcilerDeps } from './ports.ts';
import { endQuarantinePeriod } from './quarantine.ts';
import { markReady } from './ready.ts';
import type { StatusDraft } from './status-draft.ts';

export type RevokeOutcome = 'marked' | 'revoked';

/**
 * First call: records that revocation started (the caller requeues, so the next reconcile sees the
 * mark). Then: deletes everywhere and records Revoked.
 */
export async function revoke(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  decision: Extract<Decision, { action: 'revoke' }>,
  draft: StatusDraft,
  now: Date,
): Promise<RevokeOutcome> {
  const { identity } = ref;
  if (!identity.metadata.annotations?.[OperatorAnnotations.revocationStarted]) {
    await deps.store.annotate(identity, {
      [OperatorAnnotations.revocationStarted]: `${decision.reason}: ${now.toISOString()}`,
    });
    return 'marked';
  }
  await applyPhaseEverywhere(deps, ref, 'revoke', `${decision.reason}: quarantine period over`);
  await reportAbandonment(deps, ref, droppedByAbandonment(deps, identity), 'revocation');
  draft
    .conditionsOf('revoke')
    .set('Revoked', 'True', decision.reason, 'credentials deleted after the quarantine period');
  endQuarantinePeriod(draft);
  draft.set('secrets', undefined);
  draft.set('providers', undefined);
  return 'revoked';
}

/** A failed revocation says so, unless the identity is already revoked. */
export function revokeFailed(draft: StatusDraft, reason: string, message: string): void {
  if (!draft.is('Revoked')) draft.conditionsOf('revoke').set('Revoked', 'False', reason, message);
}

/**
 * The AgentIdentity is being deleted: revoke everywhere, record it, release the finalizer; or keep
 * every credential when deletion.ts says so. Returns undefined once the finalizer is released, or how
 * long to wait before retrying a failure in a namespace being deleted; other failures throw (the queue
 * retries with backoff). `retentionsReported`: see deletion.ts retainCredentials.
 */
export async function offboard(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  draft: StatusDraft,
  now: Date,
  retentionsReported: Set<string>,
): Promise<number | undefined> {
  const { identity } = ref;
  const blocked = async (error: unknown) => {
    await reportBlockedOffboarding(deps, ref, draft, error);
    const release = await releaseIfOverdue(deps, ref, error, now);
    if (release === 'released') return undefined;
    if (release !== undefined) return release;
    throw error;
  };
  let retention: Awaited<ReturnType<typeof retentionOf>>;
  try {
    retention = await retentionOf(deps, ref);
  } catch (error) {
    return blocked(error);
  }
  // Nothing is revoked; a failure to release the finalizer goes back to the queue.
  if (retention) return void (await retainCredentials(deps, ref, retention, retentionsReported));
  try {
    await applyPhaseEverywhere(deps, ref, 'revoke', 'AgentIdentity deleted (offboarding)');
  } catch (error) {
    return blocked(error);
  }
  await reportAbandonment(deps, ref, droppedByAbandonment(deps, identity), 'offboarding');
  await deps.audit.record({
    action: 'offboarded',
    identity: auditIdentity(identity),
    actor: deps.actor,
    resource: identityResource(identity),
    origin: 'finalizer',
    outcome: 'success',
  });
  await deps.store.removeFinalizer(identity, Marks.finalizer);
}

/** Offboarding cannot finish: say where and what to do, in status and as an Event, then retry. */
async function reportBlockedOffboarding(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  draft: StatusDraft,
  error: unknown,
): Promise<void> {
  const failed = error instanceof PartialFailureError ? error.failures.map((f) => f.key) : [];
  const message = maskSecrets(
    `revocation blocked in ${failed.join(', ') || 'a backend'}: ${error instanceof Error ? error.message : String(error)}. ` +
      `If a ClusterCredentialProvider was deleted, re-create it, or give up on the backend (nhictl abandon; annotation ${Controls.abandonBackends}, which needs the abandon verb and is honoured only while the provider is gone)`,
  ).slice(0, 900);
  draft.conditionsOf('revoke').set('Revoked', 'False', 'RevocationBlocked', message);
  await deps.store.writeStatus(ref.identity, markReady(draft)).catch(() => undefined);
  await deps.notifier.event(ref.identity, 'Warning', 'RevocationBlocked', message);
}
