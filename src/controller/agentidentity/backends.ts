// The backends an identity holds credentials in, and running one lifecycle phase over all of them.
// Quarantine (phase 1) disables every credential reversibly, revocation (phase 2) deletes what we own,
// restore re-enables. Each phase is idempotent, so a crash between two provider calls is finished by
// the next reconcile, and it keeps going past a failing backend: one unreachable Vault must not keep
// the Kubernetes RoleBinding alive. Owns no condition: the quarantine, revoke and provision steps call it.
// Every backend that fails a revocation is counted here (metrics: revocationBlocked), whichever step asked.
//
// The abandon annotation is honoured only for backends whose ClusterCredentialProvider is gone (no
// one can revoke there any more); a listed backend whose provider exists is revoked as usual, and
// the owner is told so. Each abandoned backend dropped from the record gets a high-severity audit
// record naming who asked and an Event.

import { Controls, parseAbandonValue } from '../../api/v1alpha1/annotations.ts';
import type { AgentIdentity } from '../../api/v1alpha1/types.ts';
import type { AuditAction, AuditEntry } from '../../governance/audit/audit.ts';
import { KUBERNETES_KEY } from '../../providers/registry.ts';
import { withRequestIds } from '../../providers/request-ids.ts';
import { type IdentityRef, ProviderError } from '../../providers/types.ts';
import { auditFailure, auditIdentity, auditRequestIds } from './identity.ts';
import type { ReconcilerDeps } from './ports.ts';

export type Phase = 'quarantine' | 'restore' | 'revoke';

const auditAction: Record<Phase, AuditAction> = {
  quarantine: 'quarantined',
  restore: 'restored',
  revoke: 'revoked',
};

/** One or more backends failed a phase; the others were still done. Names the backends, never data. */
export class PartialFailureError extends ProviderError {
  override readonly reason: string;
  constructor(
    readonly failures: Array<{ key: string; error: unknown }>,
    phase: Phase,
  ) {
    super(
      `${phase} failed for ${failures
        .map(({ key, error }) => `${key} (${error instanceof Error ? error.message : String(error)})`)
        .join('; ')}`,
    );
    const first = failures[0]?.error;
    this.reason = first instanceof ProviderError ? first.reason : 'ProviderError';
  }
}

export interface Abandonment {
  /** Listed backends whose ClusterCredentialProvider is gone: the operator stops trying to revoke there. */
  honoured: string[];
  /** Listed backends whose provider still exists: ignored, their credentials are revoked as usual. */
  ignored: string[];
  /** Who listed them (the annotation ends with the Kubernetes user, which admission checks). */
  by: string | undefined;
}

/** What the abandon annotation asks, split by whether the operator may honour it. */
export function abandonment(deps: ReconcilerDeps, identity: AgentIdentity): Abandonment {
  const { keys, by } = parseAbandonValue(identity.metadata.annotations?.[Controls.abandonBackends]);
  const gone = (key: string) => deps.providers.backendOf(key) === undefined;
  return { honoured: keys.filter(gone), ignored: keys.filter((k) => !gone(k)), by };
}

/**
 * After a step dropped `dropped` (honoured abandonments) from the backends it tracks: a high-severity
 * audit record per backend and an Event. A listed backend whose provider exists gets a Warning Event.
 * Nothing when the annotation asks for nothing.
 */
export async function reportAbandonment(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  dropped: readonly string[],
  origin: string,
): Promise<void> {
  const { identity } = ref;
  const { ignored, by } = abandonment(deps, identity);
  const value = identity.metadata.annotations?.[Controls.abandonBackends] ?? '';
  const requester = by ?? 'not recorded (the annotation names no user)';
  for (const key of dropped) {
    await deps.audit.record({
      action: 'abandoned',
      identity: auditIdentity(identity),
      actor: by ?? deps.actor,
      resource: `${key}:identity/${identity.metadata.namespace}/${identity.metadata.name}`,
      origin: `${origin}: annotation ${Controls.abandonBackends}=${value}`,
      outcome: 'success',
      severity: 'high',
      detail: `honoured: the ClusterCredentialProvider of ${key} is gone, so its credentials were not revoked and are no longer tracked; requested by ${requester}`,
    });
  }
  if (dropped.length > 0) {
    await deps.notifier.event(
      identity,
      'Warning',
      'BackendAbandoned',
      `stopped tracking ${dropped.join(', ')} (their ClusterCredentialProvider is gone; credentials there were not revoked), as ${Controls.abandonBackends} asked by ${requester}`.slice(
        0,
        900,
      ),
    );
  }
  if (ignored.length > 0) {
    await deps.notifier.event(
      identity,
      'Warning',
      'AbandonIgnored',
      `${ignored.join(', ')} listed in ${Controls.abandonBackends} but their ClusterCredentialProvider exists: the operator still manages and revokes credentials there`.slice(
        0,
        900,
      ),
    );
  }
}

/** Recorded backends that `abandonment` lets a step drop now. */
export function droppedByAbandonment(deps: ReconcilerDeps, identity: AgentIdentity): string[] {
  const { honoured } = abandonment(deps, identity);
  return (identity.status?.providers ?? []).filter((k) => honoured.includes(k));
}

/** The keys of every backend holding credentials: what status recorded plus what the spec names. */
export function credentialKeys(deps: ReconcilerDeps, identity: AgentIdentity): string[] {
  const { honoured } = abandonment(deps, identity);
  const keys = new Set((identity.status?.providers ?? []).filter((k) => !honoured.includes(k)));
  keys.add(KUBERNETES_KEY);
  try {
    for (const entry of deps.providers.forIdentity(identity)) keys.add(entry.key);
  } catch {
    // A provider the spec names but that cannot be resolved holds nothing yet (provisioning failed too).
  }
  return [...keys];
}

/**
 * Runs `phase` on each backend in `keys` (kubernetes last, as it was provisioned last), continuing past
 * failures, and throws PartialFailureError at the end if any failed. Returns the keys that succeeded.
 */
export async function applyPhase(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  keys: readonly string[],
  phase: Phase,
  origin: string,
  options: { audit: boolean } = { audit: true },
): Promise<string[]> {
  const ordered = [...keys.filter((k) => k !== KUBERNETES_KEY), ...keys.filter((k) => k === KUBERNETES_KEY)];
  const failures: Array<{ key: string; error: unknown }> = [];
  const done: string[] = [];
  const record = (key: string, outcome: AuditEntry['outcome'], more: Partial<AuditEntry> = {}) =>
    options.audit
      ? deps.audit.record({
          action: auditAction[phase],
          identity: auditIdentity(ref.identity),
          actor: deps.actor,
          resource: `${key}:identity/${ref.identity.metadata.namespace}/${ref.identity.metadata.name}`,
          origin,
          outcome,
          ...more,
        })
      : undefined;
  for (const key of ordered) {
    // Intent before the backend call, outcome after it: a crash in between leaves an intent
    // without an outcome (`nhictl audit show`: interrupted), and the next reconcile runs it again.
    await record(key, 'intent');
    const ids: string[] = [];
    try {
      await withRequestIds(ids, () => deps.providers.resolveKey(key).provider[phase](ref));
    } catch (error) {
      failures.push({ key, error });
      if (phase === 'revoke') deps.metrics.revocationBlocked(key);
      await record(key, 'failure', { severity: 'warning', ...auditRequestIds(ids), ...auditFailure(error) });
      continue;
    }
    done.push(key);
    await record(key, 'success', {
      severity: phase === 'restore' ? 'info' : 'warning',
      ...auditRequestIds(ids),
    });
  }
  if (failures.length > 0) throw new PartialFailureError(failures, phase);
  return done;
}

/** Runs `phase` over every backend holding the identity's credentials. */
export function applyPhaseEverywhere(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  phase: Phase,
  origin: string,
  options?: { audit: boolean },
): Promise<string[]> {
  return applyPhase(deps, ref, credentialKeys(deps, ref.identity), phase, origin, options);
}
