// The AgentIdentity reconcile, as a checklist: gather every read, decide the lifecycle (a pure
// function), run the one step the decision names, derive Ready, then write status once (only if it
// changed) and schedule the next deadline. Each condition is set by the step module that owns it
// (status-draft.ts has the table); this file sets none. An attestation request counts for the decision
// of the reconcile that records it (a confirmation restores at once) and is removed by the next one;
// owners are notified (notifications.ts) before the status write, which records what was delivered.
// Provider failures are recorded in status with a backoff that survives restarts; apiserver conflicts
// and offboarding failures go back to the queue.

import { Marks } from '../../api/v1alpha1/annotations.ts';
import { managementOf } from '../../api/v1alpha1/defaults.ts';
import type { AgentIdentity, PlannedChange } from '../../api/v1alpha1/types.ts';
import { assessRisk } from '../../governance/risk/index.ts';
import { type IdentityRef, ProviderError } from '../../providers/types.ts';
import type { ReconcileOutcome } from '../../runtime/controller.ts';
import { isConflict } from '../../runtime/errors.ts';
import { parseKey } from '../../runtime/keys.ts';
import { maskSecrets } from '../../runtime/redact.ts';
import { reportAnomalies } from './anomalies.ts';
import { clearRecordedAttestRequest, readAttestation, recordAttestation } from './attestation.ts';
import { clearFailures, countFailure, failureBackoffUntil } from './backoff.ts';
import type { Decision, LifecycleResult } from './decision.ts';
import { gather, type Observed, Observer } from './gather.ts';
import { identityRef } from './identity.ts';
import { decideLifecycle, nextDeadline } from './lifecycle.ts';
import { DeliveredNotifications, notifyOwners } from './notifications.ts';
import { observeConditions } from './observe.ts';
import { forgetObserved, recordObserved } from './observed.ts';
import type { ReconcilerDeps } from './ports.ts';
import {
  correctDrift,
  holdProvisioning,
  markDeprovisioned,
  planAll,
  provision,
  provisionFailed,
  recordIntent,
} from './provision.ts';
import { markActive, quarantine, quarantineEndsAt, quarantineFailed, restore } from './quarantine.ts';
import { markObserving, markReady } from './ready.ts';
import { scheduledPlan, transitionsToEvents } from './report.ts';
import { restartConsumers } from './restart.ts';
import { offboard, revoke, revokeFailed } from './revoke.ts';
import { rotate } from './rotate.ts';
import { StatusDraft } from './status-draft.ts';

/** Far deadlines (a 90-day ttl) are re-planned anyway by the periodic resync: wake at least daily. */
const MAX_REQUEUE_MS = 24 * 3_600_000;

/** How soon a reconcile handed a version this process has already written over looks again. */
const STALE_RETRY_MS = 100;

type StepOutcome =
  | { kind: 'finalized' }
  | { kind: 'requeue' }
  | { kind: 'intentRecorded'; identity: AgentIdentity }
  | { kind: 'retry'; afterMs: number }
  | { kind: 'done'; nextAt?: Date | undefined };

export class AgentIdentityReconciler {
  private readonly observer: Observer;
  private readonly delivered = new DeliveredNotifications();
  /**
   * Key -> UID of the identities whose finalizer this process released. Until the informer delivers
   * the deletion, the cache still shows the object with the finalizer; a reconcile then must not
   * offboard (revoke, audit, Event) a second time. An entry goes when the cache no longer has the key.
   */
  private readonly finalized = new Map<string, string>();
  /** UIDs whose retained credentials were reported while releasing the finalizer is retried (deletion.ts). */
  private readonly retentionsReported = new Set<string>();

  constructor(private readonly deps: ReconcilerDeps) {
    this.observer = new Observer(deps);
  }

  reconcile = async (key: string): Promise<ReconcileOutcome> => {
    const { namespace, name } = parseKey(key);
    const identity = this.deps.store.get(namespace ?? 'default', name);
    if (!identity) {
      this.observer.forget(key);
      this.delivered.forget(key);
      this.finalized.delete(key);
      return;
    }
    // This process wrote over the cached version: the watch brings the newer one in a moment.
    if (this.deps.store.isStale?.(identity)) return { requeueAfterMs: STALE_RETRY_MS };
    return this.reconcileIdentity(key, identity, true);
  };

  /**
   * One reconcile of `identity` as read. Once the intent record is written, the reconcile goes on at
   * once with the object the apiserver returned (the intent is durable: the write succeeded), instead
   * of waiting for the queue and the cache to bring it back; `mayContinue` allows that once.
   */
  private async reconcileIdentity(
    key: string,
    read: AgentIdentity,
    mayContinue: boolean,
  ): Promise<ReconcileOutcome> {
    let identity = read;
    const now = this.deps.now();
    const deleting = Boolean(identity.metadata.deletionTimestamp);
    const uid = identity.metadata.uid ?? '';
    if (deleting && this.finalized.get(key) === uid) return;
    // Observe mode touches no backend and adds no finalizer. An identity that was Managed before
    // keeps its finalizer: on deletion its own marked credentials are offboarded as usual.
    const hasFinalizer = Boolean(identity.metadata.finalizers?.includes(Marks.finalizer));
    if (managementOf(identity.spec) === 'Observe' && !(deleting && hasFinalizer)) {
      return deleting ? undefined : this.observeOnly(key, identity, now);
    }
    if (!deleting && !identity.metadata.finalizers?.includes(Marks.finalizer) && !this.deps.dryRun) {
      identity = await this.deps.store.addFinalizer(identity, Marks.finalizer);
    }
    if (deleting && !identity.metadata.finalizers?.includes(Marks.finalizer)) return;
    // The change of annotations brings the identity back at once, as it is now.
    if (!deleting && (await clearRecordedAttestRequest(this.deps, identity))) return;

    const ref = identityRef(identity);
    const gathered = await gather(this.observer, ref, key, now, identity);
    const attestation = readAttestation(identity, gathered.policy, now, !this.deps.dryRun);
    const lifecycle = decideLifecycle({
      identity,
      now,
      workload: gathered.workload,
      lastUsed: gathered.observed.lastUsed,
      policyViolations: gathered.violations,
      attestation,
    });
    const { decision } = lifecycle;
    const draft = new StatusDraft(identity, now);
    forgetObserved(draft);
    observeConditions(
      draft,
      identity,
      gathered.workload,
      gathered.violations,
      lifecycle,
      gathered.observed.lastUsed,
      now,
      gathered.observed.activity,
    );

    let nextWork: Date | undefined;
    if (this.deps.dryRun) {
      draft.set('plan', await this.plan(ref, decision));
    } else {
      const backoffUntil = failureBackoffUntil(identity, decision, now);
      if (backoffUntil && backoffUntil > now)
        return { requeueAfterMs: backoffUntil.getTime() - now.getTime() };
      try {
        const outcome = await this.runStep(ref, decision, draft, now, gathered.observed);
        if (outcome.kind === 'finalized') {
          this.finalized.set(key, uid);
          return;
        }
        if (outcome.kind === 'requeue') return { requeueAfterMs: 200 };
        if (outcome.kind === 'intentRecorded')
          return mayContinue ? this.reconcileIdentity(key, outcome.identity, false) : { requeueAfterMs: 200 };
        if (outcome.kind === 'retry') return { requeueAfterMs: outcome.afterMs };
        nextWork = outcome.nextAt;
        clearFailures(draft);
      } catch (error) {
        if (isConflict(error) || decision.action === 'offboard') throw error;
        nextWork = this.recordFailure(draft, decision, error, now);
      }
      draft.set('plan', scheduledPlan(identity, draft.status, lifecycle));
    }
    // After the backoff check: a reconcile that writes no status records no attestation.
    await recordAttestation(this.deps, identity, attestation, draft, now);
    const { workload } = gathered;
    const hardCodedSecrets = workload.kind === 'present' ? workload.hardCodedSecrets : undefined;
    draft.set('risk', assessRisk({ identity: { ...identity, status: draft.status }, now, hardCodedSecrets }));
    const status = markReady(draft, decision);
    await notifyOwners(
      this.deps,
      identity,
      gathered.policy,
      draft,
      lifecycle,
      gathered.observed.drifted.map((d) => d.key),
      now,
      this.delivered,
    );
    // Events and audit records of the transitions go first: a crash right after the status write
    // would otherwise lose them for good (the next reconcile sees no transition). A crash between the
    // two repeats them instead (at least once).
    await transitionsToEvents(this.deps, identity, draft.transitions);
    if (!this.deps.dryRun) await reportAnomalies(this.deps, identity, draft.status.activity);
    await this.deps.store.writeStatus(identity, status);
    return this.wakeUp(now, decision, lifecycle, status, nextWork);
  }

  /**
   * spec.management: Observe. Gathers and decides as for any identity, then only records: the
   * observational conditions, the observed objects (observed.ts), activity, risk, Ready and the phase,
   * and the owner's notices (expiry and inactivity only notify). No step runs, no backend is written.
   * The observed objects are not watched: they are read again every drift interval.
   */
  private async observeOnly(key: string, identity: AgentIdentity, now: Date): Promise<ReconcileOutcome> {
    const ref = identityRef(identity);
    const gathered = await gather(this.observer, ref, key, now, identity);
    const lifecycle = decideLifecycle({
      identity,
      now,
      workload: gathered.workload,
      lastUsed: gathered.observed.lastUsed,
      policyViolations: gathered.violations,
      attestation: readAttestation(identity, gathered.policy, now, false),
    });
    const draft = new StatusDraft(identity, now);
    observeConditions(
      draft,
      identity,
      gathered.workload,
      gathered.violations,
      lifecycle,
      gathered.observed.lastUsed,
      now,
      gathered.observed.activity,
    );
    await recordObserved(this.deps, identity, draft, gathered.violations);
    const { workload } = gathered;
    const hardCodedSecrets = workload.kind === 'present' ? workload.hardCodedSecrets : undefined;
    draft.set('risk', assessRisk({ identity: { ...identity, status: draft.status }, now, hardCodedSecrets }));
    const status = markObserving(draft);
    await notifyOwners(this.deps, identity, gathered.policy, draft, lifecycle, [], now, this.delivered);
    await transitionsToEvents(this.deps, identity, draft.transitions);
    if (!this.deps.dryRun) await reportAnomalies(this.deps, identity, draft.status.activity);
    if (!this.deps.dryRun) await this.deps.store.writeStatus(identity, status);
    const { deadlines } = lifecycle;
    const wakeAt = nextDeadline(
      now,
      deadlines.expiryWarningAt,
      deadlines.expiresAt,
      deadlines.inactiveAt,
      deadlines.inactivityWarningAt,
      new Date(now.getTime() + this.deps.driftIntervalMs),
    );
    return wakeAt
      ? { requeueAfterMs: Math.min(MAX_REQUEUE_MS, Math.max(1000, wakeAt.getTime() - now.getTime() + 50)) }
      : undefined;
  }

  /** The one step the lifecycle decision names. */
  private async runStep(
    ref: IdentityRef,
    decision: Decision,
    draft: StatusDraft,
    now: Date,
    observed: Observed,
  ): Promise<StepOutcome> {
    const { deps } = this;
    switch (decision.action) {
      case 'offboard': {
        const retryAfterMs = await offboard(deps, ref, draft, now, this.retentionsReported);
        return retryAfterMs === undefined ? { kind: 'finalized' } : { kind: 'retry', afterMs: retryAfterMs };
      }
      case 'hold':
        holdProvisioning(draft, decision);
        return { kind: 'done' };
      case 'quarantine':
        await quarantine(deps, ref, decision, draft, now, observed.driftDue);
        return { kind: 'done' };
      case 'revoke':
        if ((await revoke(deps, ref, decision, draft, now)) === 'marked') return { kind: 'requeue' };
        markDeprovisioned(draft);
        return { kind: 'done' };
      case 'provision': {
        const recorded = await recordIntent(deps, ref);
        if (recorded) return { kind: 'intentRecorded', identity: recorded };
        if (decision.restore) await restore(deps, ref, draft);
        else markActive(draft);
        const { driftRestored } = await provision(deps, ref, draft, decision.restore);
        const nextAt = await rotate(deps, ref, draft, now, decision.restore);
        await restartConsumers(deps, ref, draft, now);
        // A steady provision already restored (and recorded) what drifted; correct the rest only.
        if (!driftRestored) await correctDrift(deps, ref, observed.drifted);
        return { kind: 'done', nextAt };
      }
    }
  }

  /**
   * A provider failure: the step that owns the action says why in its condition (typed errors carry
   * no secret), the attempt is counted in status, and the retry is scheduled with exponential backoff.
   * Nothing is deleted because of an error.
   */
  private recordFailure(draft: StatusDraft, decision: Decision, error: unknown, now: Date): Date {
    const { attempts, retryAt } = countFailure(draft, decision.action, now);
    const reason = error instanceof ProviderError ? error.reason : 'ProviderError';
    const message = maskSecrets(error instanceof Error ? error.message : String(error)).slice(0, 500);
    const said = `attempt ${attempts} failed: ${message}`;
    if (decision.action === 'quarantine') quarantineFailed(draft, reason, said);
    else if (decision.action === 'revoke') revokeFailed(draft, reason, said);
    else provisionFailed(draft, reason, said);
    this.deps.logger.warn('provider call failed; retrying with backoff', {
      action: decision.action,
      reason,
      attempts,
      error: message,
    });
    return retryAt;
  }

  private wakeUp(
    now: Date,
    decision: Decision,
    lifecycle: LifecycleResult,
    status: ReturnType<typeof markReady>,
    nextWork: Date | undefined,
  ): ReconcileOutcome {
    const { deadlines } = lifecycle;
    const wakeAt = nextDeadline(
      now,
      deadlines.expiryWarningAt,
      deadlines.expiresAt,
      deadlines.inactiveAt,
      deadlines.orphanedAt,
      deadlines.inactivityWarningAt,
      deadlines.attestationDueAt,
      deadlines.attestationOverdueAt,
      quarantineEndsAt(status),
      ...(status.secrets ?? []).map((s) => (s.nextRotation ? new Date(s.nextRotation) : undefined)),
      nextWork,
    );
    if (!wakeAt || (decision.action === 'hold' && decision.reason === 'Revoked')) return undefined;
    return {
      requeueAfterMs: Math.min(MAX_REQUEUE_MS, Math.max(1000, wakeAt.getTime() - now.getTime() + 50)),
    };
  }

  private async plan(ref: IdentityRef, decision: Decision): Promise<PlannedChange[]> {
    if (decision.action === 'provision') return planAll(this.deps, ref);
    if (decision.action === 'hold') return [];
    return [
      {
        action: decision.action,
        resource: `AgentIdentity/${ref.identity.metadata.name}`,
        reason: 'lifecycle',
      },
    ];
  }
}
