// The AgentIdentity reconcile, as a checklist: read everything (gather), decide (pure lifecycle and
// policy functions), act through the providers, then write status once, only if it changed, and
// schedule the next deadline. Provider failures are recorded in status with a backoff that survives
// restarts; apiserver conflicts and offboarding failures go back to the rate-limited queue.

import type { AgentIdentity, IdentityPolicy, PlannedChange } from '../../api/v1alpha1/types.ts';
import { Marks } from '../../api/v1alpha1/types.ts';
import { assessRisk, exceedsMaxRiskLevel } from '../../governance/risk/index.ts';
import { type IdentityRef, ProviderError } from '../../providers/types.ts';
import type { ReconcileOutcome } from '../../runtime/controller.ts';
import { isConflict } from '../../runtime/errors.ts';
import { parseKey } from '../../runtime/keys.ts';
import { maskSecrets } from '../../runtime/redact.ts';
import {
  ABANDON_ANNOTATION,
  type Decision,
  decideLifecycle,
  nextDeadline,
  REVOKING_ANNOTATION,
} from './lifecycle.ts';
import { correctDrift, Observer, observeProviders } from './observation.ts';
import type { ReconcilerDeps } from './ports.ts';
import { planAll, provisionAll, unrecordedProviders } from './provisioning.ts';
import { recordConditions, scheduledPlan, transitionsToEvents } from './report.ts';
import { applyPhase, credentialKeys, PartialFailureError, quarantineUntil } from './revocation.ts';
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

type ActOutcome =
  | { kind: 'finalized' }
  | { kind: 'requeue' }
  | { kind: 'done'; nextAt?: Date | undefined; driftRestored?: boolean };

export class AgentIdentityReconciler {
  private readonly observer: Observer;

  constructor(private readonly deps: ReconcilerDeps) {
    this.observer = new Observer(deps);
  }

  reconcile = async (key: string): Promise<ReconcileOutcome> => {
    const { namespace, name } = parseKey(key);
    let identity = this.deps.store.get(namespace ?? 'default', name);
    if (!identity) {
      this.observer.forget(key);
      return;
    }
    const now = this.deps.now();
    const deleting = Boolean(identity.metadata.deletionTimestamp);
    if (!deleting && !identity.metadata.finalizers?.includes(Marks.finalizer) && !this.deps.dryRun) {
      identity = await this.deps.store.addFinalizer(identity, Marks.finalizer);
    }
    if (deleting && !identity.metadata.finalizers?.includes(Marks.finalizer)) return;

    const ref = identityRef(identity);
    const workload = deleting
      ? ({ kind: 'none' } as const)
      : await observeWorkload(this.deps.workloads, identity);
    const policy = this.deps.policy();
    const violations = [...this.deps.checkPolicy(identity, policy), ...riskGate(identity, policy, now)];
    const observed = await observeProviders(this.observer, ref, key, workload, now);
    const lifecycle = decideLifecycle({
      identity,
      now,
      workload,
      lastUsed: observed.lastUsed,
      policyViolations: violations,
    });
    const { decision } = lifecycle;
    const draft = new StatusDraft(identity, now);
    recordConditions(draft, identity, workload, violations, lifecycle, observed.lastUsed, now);

    let nextWork: Date | undefined;
    if (this.deps.dryRun) {
      draft.set('plan', await this.plan(ref, decision));
    } else {
      const backoffUntil = failureBackoffUntil(identity, decision);
      if (backoffUntil && backoffUntil > now)
        return { requeueAfterMs: backoffUntil.getTime() - now.getTime() };
      try {
        const outcome = await this.act(ref, decision, draft, now, observed.driftDue);
        if (outcome.kind === 'finalized') return;
        if (outcome.kind === 'requeue') return { requeueAfterMs: 200 };
        nextWork = outcome.nextAt;
        // A steady provision already restored (and recorded) what drifted; correct the rest only.
        if (decision.action === 'provision' && !outcome.driftRestored) {
          await correctDrift(this.deps, ref, observed.drifted);
        }
        draft.set('failedAttempts', undefined);
        draft.set('lastFailureTime', undefined);
        draft.set('lastFailedAction', undefined);
      } catch (error) {
        if (isConflict(error) || decision.action === 'offboard') throw error;
        nextWork = this.recordFailure(draft, decision, error, now);
      }
      draft.set('plan', scheduledPlan(identity, draft.status, lifecycle));
    }
    draft.set('risk', assessRisk({ identity: { ...identity, status: draft.status }, now }));
    const status = draft.finish(decision);
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
    if (!wakeAt || (decision.action === 'hold' && decision.reason === 'Revoked')) return undefined;
    // Far deadlines (a 90-day ttl) are re-planned anyway by the periodic resync: wake at least daily.
    return {
      requeueAfterMs: Math.min(MAX_REQUEUE_MS, Math.max(1000, wakeAt.getTime() - now.getTime() + 50)),
    };
  };

  /**
   * A provider failure: the condition the action owns says why (typed errors carry no secret), the
   * attempt is counted in status so a restart does not hammer the backend, and the retry is scheduled
   * with exponential backoff. Nothing is deleted because of an error.
   */
  private recordFailure(draft: StatusDraft, decision: Decision, error: unknown, now: Date): Date {
    const attempts =
      (draft.status.lastFailedAction === decision.action ? (draft.status.failedAttempts ?? 0) : 0) + 1;
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
    draft.set('lastFailedAction', decision.action);
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
    driftDue: boolean,
  ): Promise<ActOutcome> {
    const { deps } = this;
    const identity = ref.identity;
    switch (decision.action) {
      case 'offboard':
        try {
          await applyPhase(
            deps,
            ref,
            credentialKeys(deps, identity),
            'revoke',
            'AgentIdentity deleted (offboarding)',
          );
        } catch (error) {
          await this.reportBlockedOffboarding(ref, draft, error);
          throw error;
        }
        await deps.audit.record({
          action: 'offboarded',
          identity: auditIdentity(identity),
          actor: deps.actor,
          resource: `AgentIdentity/${identity.metadata.namespace}/${identity.metadata.name}`,
          origin: 'finalizer',
          outcome: 'success',
        });
        await deps.store.removeFinalizer(identity, Marks.finalizer);
        return { kind: 'finalized' };
      case 'hold':
        if (decision.reason === 'PolicyViolation' && !draft.is('Provisioned')) {
          draft.condition(
            'Provisioned',
            'False',
            'PolicyViolation',
            'nothing is provisioned while the policy is violated',
          );
        }
        if (decision.reason === 'WorkloadUnresolvable')
          draft.condition('Provisioned', 'False', 'WorkloadUnresolvable', decision.message);
        return { kind: 'done' };
      case 'quarantine':
        if (!draft.is('Quarantined')) {
          await applyPhase(
            deps,
            ref,
            credentialKeys(deps, identity),
            'quarantine',
            `${decision.reason}: ${decision.message}`,
          );
          draft.set('quarantineUntil', decision.reason === 'Locked' ? undefined : quarantineUntil(ref, now));
        } else if (driftDue) {
          // Re-assert quarantine each drift interval: a RoleBinding or policy put back is removed again.
          await applyPhase(deps, ref, credentialKeys(deps, identity), 'quarantine', 'drift check', {
            audit: false,
          });
        }
        draft.condition('Quarantined', 'True', decision.reason, `credentials disabled: ${decision.message}`);
        return { kind: 'done' };
      case 'revoke':
        if (!identity.metadata.annotations?.[REVOKING_ANNOTATION]) {
          // Mark first, act next: a revocation once started is finished, never undone by a restore.
          await deps.store.annotate(identity, {
            [REVOKING_ANNOTATION]: `${decision.reason}: ${now.toISOString()}`,
          });
          return { kind: 'requeue' };
        }
        await applyPhase(
          deps,
          ref,
          credentialKeys(deps, identity),
          'revoke',
          `${decision.reason}: quarantine period over`,
        );
        draft.condition(
          'Revoked',
          'True',
          decision.reason,
          'credentials deleted after the quarantine period',
        );
        draft.condition('Provisioned', 'False', 'Revoked', 'credentials deleted');
        draft.set('quarantineUntil', undefined);
        draft.set('secrets', undefined);
        draft.set('providers', undefined);
        return { kind: 'done' };
      case 'provision':
        return this.provision(ref, decision.restore, draft, now);
    }
  }

  private async provision(
    ref: IdentityRef,
    restore: boolean,
    draft: StatusDraft,
    now: Date,
  ): Promise<ActOutcome> {
    const unrecorded = unrecordedProviders(this.deps, ref);
    if (unrecorded.length > 0) {
      // Record the intent before creating anything in a new backend, so a crash cannot lose track of it.
      const recorded = [...new Set([...(ref.identity.status?.providers ?? []), ...unrecorded])];
      await this.deps.store.writeStatus(ref.identity, { ...ref.identity.status, providers: recorded });
      return { kind: 'requeue' };
    }
    if (restore) {
      await applyPhase(
        this.deps,
        ref,
        credentialKeys(this.deps, ref.identity),
        'restore',
        'the quarantine reason is gone',
      );
      draft.set('quarantineUntil', undefined);
      draft.condition(
        'Quarantined',
        'False',
        'Restored',
        'the quarantine reason is gone: credentials restored',
      );
    } else if (!draft.is('Quarantined', 'False')) {
      draft.condition('Quarantined', 'False', 'Active', 'credentials enabled');
    }
    const identity = ref.identity;
    const steady =
      !restore &&
      draft.is('Provisioned') &&
      identity.status?.observedGeneration === identity.metadata.generation;
    const outcome = await provisionAll(this.deps, ref, steady);
    if (outcome.stranded.length > 0) {
      await this.deps.notifier.event(
        identity,
        'Warning',
        'CredentialsStranded',
        `credentials may remain in ${outcome.stranded.join(', ')}: their ClusterCredentialProvider is gone. Re-create it so the operator can revoke them, or list them in the annotation ${ABANDON_ANNOTATION}`,
      );
    }
    if (steady && outcome.changes.length > 0) {
      const what = outcome.changes.map((c) => `${c.action} ${c.resource}`).join(', ');
      await this.deps.notifier.event(
        identity,
        'Warning',
        'DriftCorrected',
        `restored the desired state: ${what}`.slice(0, 900),
      );
    }
    draft.set('providers', outcome.providers);
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
    return { kind: 'done', nextAt: rotation.nextAt, driftRestored: steady && outcome.changes.length > 0 };
  }

  /** Offboarding cannot finish: say where and what to do, in status and as an Event, then retry. */
  private async reportBlockedOffboarding(
    ref: IdentityRef,
    draft: StatusDraft,
    error: unknown,
  ): Promise<void> {
    const failed = error instanceof PartialFailureError ? error.failures.map((f) => f.key) : [];
    const message = maskSecrets(
      `revocation blocked in ${failed.join(', ') || 'a backend'}: ${error instanceof Error ? error.message : String(error)}. ` +
        `If a ClusterCredentialProvider was deleted, re-create it, or list the backend in the annotation ${ABANDON_ANNOTATION} to give up on it`,
    ).slice(0, 900);
    draft.condition('Revoked', 'False', 'RevocationBlocked', message);
    await this.deps.store.writeStatus(ref.identity, draft.finish()).catch(() => undefined);
    await this.deps.notifier.event(ref.identity, 'Warning', 'RevocationBlocked', message);
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

const MAX_REQUEUE_MS = 24 * 3_600_000;
const BACKOFF_BASE_MS = 2_000;
const BACKOFF_MAX_MS = 5 * 60_000;

export function backoffMs(attempts: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1));
}

/**
 * While status records recent failures of the same action, the next attempt waits (survives restarts:
 * habit 10). A different action — the kill switch after a failed provisioning — goes ahead at once.
 */
export function failureBackoffUntil(identity: AgentIdentity, decision: Decision): Date | undefined {
  const { failedAttempts, lastFailureTime, lastFailedAction } = identity.status ?? {};
  if (!failedAttempts || !lastFailureTime || decision.action === 'offboard') return undefined;
  if (lastFailedAction !== undefined && lastFailedAction !== decision.action) return undefined;
  return new Date(new Date(lastFailureTime).getTime() + backoffMs(failedAttempts));
}

/**
 * maxRiskLevel of the IdentityPolicy, judged on what the spec asks for (not on transient state such as
 * "no activity yet", which would make a new identity flap): the risk module's explainable factors name
 * why.
 */
export function riskGate(identity: AgentIdentity, policy: IdentityPolicy | undefined, now: Date): string[] {
  const max = policy?.spec.environments[identity.spec.environment]?.maxRiskLevel;
  if (!max) return [];
  const { status: _status, ...intrinsic } = identity;
  const risk = assessRisk({ identity: intrinsic, now });
  if (!exceedsMaxRiskLevel(risk, max)) return [];
  const why = risk.factors
    .filter((f) => f.id.startsWith('likelihood.'))
    .map((f) => f.id.replace('likelihood.', ''))
    .join(', ');
  return [
    `spec: risk ${risk.level} (likelihood ${risk.likelihood} x impact ${risk.impact}) exceeds maxRiskLevel ${max} for ${identity.spec.environment}${why ? `: ${why}` : ''}`,
  ];
}
