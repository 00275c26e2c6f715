// The AgentIdentity reconcile, as a checklist: read everything (gather), decide (pure lifecycle and
// policy functions), act through the providers, then write status once, only if it changed, and
// schedule the next deadline. Failures throw and come back through the rate-limited queue.

import type { AgentIdentity, PlannedChange } from '../../api/v1alpha1/types.ts';
import { Marks } from '../../api/v1alpha1/types.ts';
import { type IdentityRef, type Observation, ProviderError } from '../../providers/types.ts';
import type { ReconcileOutcome } from '../../runtime/controller.ts';
import { isConflict } from '../../runtime/errors.ts';
import { parseKey } from '../../runtime/keys.ts';
import { maskSecrets } from '../../runtime/redact.ts';
import { type Decision, decideLifecycle, nextDeadline, type WorkloadState } from './lifecycle.ts';
import type { ReconcilerDeps } from './ports.ts';
import { planAll, provisionAll } from './provisioning.ts';
import { recordConditions, scheduledPlan, transitionsToEvents } from './report.ts';
import { applyToAllProviders, quarantineUntil } from './revocation.ts';
import { auditIdentity, rotateDueSecrets } from './rotation.ts';
import { StatusDraft } from './status-draft.ts';
import { managedServiceAccountName, observeWorkload } from './workload.ts';

export function identityRef(identity: AgentIdentity): IdentityRef {
  return {
    identity,
    subject: {
      namespace: identity.metadata.namespace ?? 'default',
      serviceAccountName: managedServiceAccountName(identity),
    },
  };
}

export class AgentIdentityReconciler {
  private readonly lastObserved = new Map<string, number>();

  constructor(private readonly deps: ReconcilerDeps) {}

  reconcile = async (key: string): Promise<ReconcileOutcome> => {
    const { namespace, name } = parseKey(key);
    const identity = this.deps.store.get(namespace ?? 'default', name);
    if (!identity) return;
    const now = this.deps.now();
    const deleting = Boolean(identity.metadata.deletionTimestamp);
    if (!deleting && !identity.metadata.finalizers?.includes(Marks.finalizer) && !this.deps.dryRun) {
      await this.deps.store.addFinalizer(identity, Marks.finalizer);
    }
    if (deleting && !identity.metadata.finalizers?.includes(Marks.finalizer)) return;

    const ref = identityRef(identity);
    const workload = deleting
      ? ({ kind: 'none' } as const)
      : await observeWorkload(this.deps.workloads, identity);
    const violations = this.deps.checkPolicy(identity, this.deps.policy());
    const lastUsed = await this.observeUse(ref, workload, now);
    const lifecycle = decideLifecycle({ identity, now, workload, lastUsed, policyViolations: violations });
    const draft = new StatusDraft(identity, now);
    recordConditions(draft, identity, workload, violations, lifecycle, lastUsed, now);

    let nextWork: Date | undefined;
    if (this.deps.dryRun) {
      draft.set('plan', await this.plan(ref, lifecycle.decision));
    } else {
      const backoffUntil = failureBackoffUntil(identity);
      if (backoffUntil && backoffUntil > now && lifecycle.decision.action !== 'offboard') {
        return { requeueAfterMs: backoffUntil.getTime() - now.getTime() };
      }
      try {
        const outcome = await this.act(ref, lifecycle.decision, draft, now);
        if (outcome === 'finalized') return;
        nextWork = outcome;
        draft.set('failedAttempts', undefined);
        draft.set('lastFailureTime', undefined);
      } catch (error) {
        if (isConflict(error) || lifecycle.decision.action === 'offboard') throw error;
        nextWork = this.recordFailure(draft, lifecycle.decision, error, now);
      }
      draft.set('plan', scheduledPlan(identity, draft.status, lifecycle));
    }
    const status = draft.finish();
    await this.deps.store.writeStatus(identity, status);
    await transitionsToEvents(this.deps, identity, draft.transitions);

    const wakeAt = nextDeadline(
      now,
      lifecycle.deadlines.expiryWarningAt,
      lifecycle.deadlines.expiresAt,
      lifecycle.deadlines.inactiveAt,
      lifecycle.deadlines.orphanedAt,
      status.quarantineUntil ? new Date(status.quarantineUntil) : undefined,
      ...(status.secrets ?? []).map((s) => (s.nextRotation ? new Date(s.nextRotation) : undefined)),
      nextWork,
    );
    return wakeAt ? { requeueAfterMs: Math.max(1000, wakeAt.getTime() - now.getTime() + 50) } : undefined;
  };

  /**
   * A provider failure: the condition the action owns says why (typed errors carry no secret), the
   * attempt is counted in status so a restart does not hammer the backend, and the retry is scheduled
   * with exponential backoff. Nothing is deleted because of an error.
   */
  private recordFailure(draft: StatusDraft, decision: Decision, error: unknown, now: Date): Date {
    const attempts = (draft.status.failedAttempts ?? 0) + 1;
    const reason = error instanceof ProviderError ? error.reason : 'ProviderError';
    const message = maskSecrets(error instanceof Error ? error.message : String(error)).slice(0, 500);
    const type =
      decision.action === 'quarantine'
        ? 'Quarantined'
        : decision.action === 'revoke'
          ? 'Revoked'
          : 'Provisioned';
    if (type === 'Provisioned' || !draft.is(type)) {
      draft.condition(type, 'False', reason, `attempt ${attempts} failed: ${message}`);
    }
    draft.set('failedAttempts', attempts);
    draft.set('lastFailureTime', now.toISOString());
    this.deps.logger.warn('provider call failed; retrying with backoff', {
      action: decision.action,
      reason,
      attempts,
      error: message,
    });
    return new Date(now.getTime() + backoffMs(attempts));
  }

  private async act(
    ref: IdentityRef,
    decision: Decision,
    draft: StatusDraft,
    now: Date,
  ): Promise<'finalized' | Date | undefined> {
    const { deps } = this;
    switch (decision.action) {
      case 'offboard':
        await applyToAllProviders(deps, ref, 'revoke', 'AgentIdentity deleted (offboarding)');
        await deps.audit.record({
          action: 'offboarded',
          identity: auditIdentity(ref.identity),
          actor: deps.actor,
          resource: `AgentIdentity/${ref.identity.metadata.namespace}/${ref.identity.metadata.name}`,
          origin: 'finalizer',
          outcome: 'success',
        });
        await deps.store.removeFinalizer(ref.identity, Marks.finalizer);
        return 'finalized';
      case 'hold':
        if (decision.reason === 'PolicyViolation' && !draft.is('Provisioned')) {
          draft.condition(
            'Provisioned',
            'False',
            'PolicyViolation',
            'nothing is provisioned while the policy is violated',
          );
        }
        if (decision.reason === 'WorkloadUnresolvable') {
          draft.condition('Provisioned', 'False', 'WorkloadUnresolvable', decision.message);
        }
        return;
      case 'quarantine':
        if (!draft.is('Quarantined')) {
          await applyToAllProviders(deps, ref, 'quarantine', `${decision.reason}: ${decision.message}`);
          draft.set('quarantineUntil', decision.reason === 'Locked' ? undefined : quarantineUntil(ref, now));
        }
        draft.condition('Quarantined', 'True', decision.reason, `credentials disabled: ${decision.message}`);
        return;
      case 'revoke':
        await applyToAllProviders(deps, ref, 'revoke', `${decision.reason}: quarantine period over`);
        draft.condition(
          'Revoked',
          'True',
          decision.reason,
          'credentials deleted after the quarantine period',
        );
        draft.condition('Provisioned', 'False', 'Revoked', 'credentials deleted');
        draft.set('quarantineUntil', undefined);
        draft.set('secrets', undefined);
        return;
      case 'provision':
        return this.provision(ref, decision.restore, draft, now);
    }
  }

  private async provision(
    ref: IdentityRef,
    restore: boolean,
    draft: StatusDraft,
    now: Date,
  ): Promise<Date | undefined> {
    if (restore) {
      await applyToAllProviders(this.deps, ref, 'restore', 'the quarantine reason is gone');
      draft.set('quarantineUntil', undefined);
    }
    if (restore)
      draft.condition(
        'Quarantined',
        'False',
        'Restored',
        'the quarantine reason is gone: credentials restored',
      );
    else if (!draft.is('Quarantined', 'False'))
      draft.condition('Quarantined', 'False', 'Active', 'credentials enabled');
    const outcome = await provisionAll(this.deps, ref);
    draft.set('serviceAccount', outcome.status.serviceAccount);
    draft.set('aws', outcome.status.aws);
    draft.set('vault', outcome.status.vault);
    draft.condition(
      'Provisioned',
      'True',
      'Provisioned',
      `service account ${outcome.status.serviceAccount} and its grants are in place`,
    );
    const rotation = await rotateDueSecrets(this.deps, ref, now, restore);
    draft.set('secrets', rotation.secrets.length > 0 ? rotation.secrets : undefined);
    draft.condition(
      'SecretsRotated',
      'True',
      rotation.rotated.length > 0 ? 'Rotated' : 'UpToDate',
      rotation.rotated.length > 0
        ? `rotated ${rotation.rotated.join(', ')}`
        : 'every secret is within its rotation interval',
    );
    return rotation.nextAt;
  }

  /** Last real use: bound pods now, or what the providers report (checked every drift interval, with drift correction). */
  private async observeUse(ref: IdentityRef, workload: WorkloadState, now: Date): Promise<Date | undefined> {
    let lastUsed = ref.identity.status?.lastUsed ? new Date(ref.identity.status.lastUsed) : undefined;
    const later = (d: Date | undefined) => {
      if (d && (!lastUsed || d > lastUsed)) lastUsed = d;
    };
    if (workload.kind === 'present' && workload.boundPods > 0) later(now);
    const uid = ref.identity.metadata.uid ?? '';
    const due = (this.lastObserved.get(uid) ?? 0) + this.deps.driftIntervalMs <= now.getTime();
    const active = ref.identity.status?.conditions?.some(
      (c) => c.type === 'Provisioned' && c.status === 'True',
    );
    const quarantined = ref.identity.status?.conditions?.some(
      (c) => c.type === 'Quarantined' && c.status === 'True',
    );
    if (!due || !active || quarantined || ref.identity.metadata.deletionTimestamp) return lastUsed;
    this.lastObserved.set(uid, now.getTime());
    for (const { kind, provider } of this.deps.providers.forIdentity(ref.identity)) {
      let observation: Observation;
      try {
        observation = await provider.observe(ref, { correctDrift: !this.deps.dryRun });
      } catch (error) {
        // Observation is best effort: an unreachable backend must not block the lifecycle.
        this.deps.logger.warn('observe failed', { provider: kind, error: maskSecrets(String(error)) });
        continue;
      }
      later(observation.lastUsed);
      if (observation.drift.length > 0) {
        await this.deps.audit.record({
          action: 'drift-corrected',
          identity: auditIdentity(ref.identity),
          actor: this.deps.actor,
          resource: `${kind}:${observation.drift.map((d) => `${d.resource}.${d.field}`).join(',')}`,
          origin: 'drift check',
          outcome: observation.corrected ? 'success' : 'failure',
          severity: 'high',
          detail: observation.drift.map((d) => d.detail).join('; '),
        });
        await this.deps.notifier.event(
          ref.identity,
          'Warning',
          'DriftCorrected',
          `${kind}: ${observation.drift.map((d) => `${d.resource} ${d.field}`).join(', ')} ${observation.corrected ? 'restored' : 'differs'}`,
        );
      }
    }
    return lastUsed;
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

const BACKOFF_BASE_MS = 2_000;
const BACKOFF_MAX_MS = 5 * 60_000;

export function backoffMs(attempts: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1));
}

/** While status records recent failures, the next attempt waits (survives restarts: habit 10). */
export function failureBackoffUntil(identity: AgentIdentity): Date | undefined {
  const { failedAttempts, lastFailureTime } = identity.status ?? {};
  if (!failedAttempts || !lastFailureTime) return undefined;
  return new Date(new Date(lastFailureTime).getTime() + backoffMs(failedAttempts));
}
