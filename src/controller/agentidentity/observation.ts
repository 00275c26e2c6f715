// Observation: last real use and drift, read from the providers once per drift interval. Reading
// never changes anything; drift is corrected only after the lifecycle decided to provision (a spec
// the operator judged non-compliant is never applied by a drift correction).

import { parseDuration } from '../../api/v1alpha1/duration.ts';
import type { ProviderKind } from '../../api/v1alpha1/types.ts';
import type { CredentialProvider, IdentityRef, Observation } from '../../providers/types.ts';
import { maskSecrets } from '../../runtime/redact.ts';
import { Defaults, type WorkloadState } from './lifecycle.ts';
import type { ReconcilerDeps } from './ports.ts';
import { auditIdentity } from './rotation.ts';

/** Remembers, per identity key, when its backends were last observed. Entries go with the identity. */
export class Observer {
  private readonly lastObserved = new Map<string, number>();

  constructor(readonly deps: ReconcilerDeps) {}

  due(key: string, now: Date): boolean {
    return (
      (this.lastObserved.get(key) ?? Number.NEGATIVE_INFINITY) + this.deps.driftIntervalMs <= now.getTime()
    );
  }

  mark(key: string, now: Date): void {
    this.lastObserved.set(key, now.getTime());
  }

  forget(key: string): void {
    this.lastObserved.delete(key);
  }
}

export interface Drifted {
  kind: ProviderKind;
  key: string;
  provider: CredentialProvider;
  observation: Observation;
}

export interface Observed {
  lastUsed: Date | undefined;
  drifted: Drifted[];
  /** The drift interval has come round for this identity (quarantine is re-asserted then too). */
  driftDue: boolean;
}

/**
 * How far "last used" must move before status records it: a hundredth of the inactivity timeout,
 * between 1 s and 5 min. Without this step every reconcile of a busy identity would write status,
 * and every status write would trigger another reconcile.
 */
export function lastUsedStepMs(ref: IdentityRef): number {
  const inactivity = parseDuration(ref.identity.spec.inactivityTimeout ?? Defaults.inactivityTimeout) ?? 0;
  return Math.min(5 * 60_000, Math.max(1000, inactivity / 100));
}

export async function observeProviders(
  observer: Observer,
  ref: IdentityRef,
  key: string,
  workload: WorkloadState,
  now: Date,
): Promise<Observed> {
  const { deps } = observer;
  const stored = ref.identity.status?.lastUsed ? new Date(ref.identity.status.lastUsed) : undefined;
  let lastUsed = stored;
  const later = (d: Date | undefined) => {
    if (d && (!lastUsed || d > lastUsed)) lastUsed = d;
  };
  if (workload.kind === 'present' && workload.boundPods > 0) {
    if (!stored || now.getTime() - stored.getTime() >= lastUsedStepMs(ref)) later(now);
  }
  const conditions = ref.identity.status?.conditions ?? [];
  const provisioned = conditions.some((c) => c.type === 'Provisioned' && c.status === 'True');
  const quarantined = conditions.some((c) => c.type === 'Quarantined' && c.status === 'True');
  const driftDue = observer.due(key, now) && !ref.identity.metadata.deletionTimestamp;
  const drifted: Drifted[] = [];
  if (!driftDue) return { lastUsed, drifted, driftDue };
  observer.mark(key, now);
  if (!provisioned || quarantined) return { lastUsed, drifted, driftDue };

  let entries: ReturnType<typeof deps.providers.forIdentity> = [];
  try {
    entries = deps.providers.forIdentity(ref.identity);
  } catch (error) {
    deps.logger.warn('observe skipped: a provider cannot be resolved', { error: maskSecrets(String(error)) });
  }
  for (const entry of entries) {
    try {
      const observation = await entry.provider.observe(ref, { correctDrift: false });
      later(observation.lastUsed);
      if (observation.drift.length > 0) drifted.push({ ...entry, observation });
    } catch (error) {
      // Observation is best effort: an unreachable backend must not block the lifecycle.
      deps.logger.warn('observe failed', { provider: entry.key, error: maskSecrets(String(error)) });
    }
  }
  return { lastUsed, drifted, driftDue };
}

/** After a successful provision: restore what drifted, with a high-severity audit record and an Event. */
export async function correctDrift(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  drifted: Drifted[],
): Promise<void> {
  for (const { key, provider, observation } of drifted) {
    const after = await provider.observe(ref, { correctDrift: true });
    const corrected = after.corrected || after.drift.length === 0;
    const what = observation.drift.map((d) => `${d.resource} ${d.field}`).join(', ');
    await deps.audit.record({
      action: 'drift-corrected',
      identity: auditIdentity(ref.identity),
      actor: deps.actor,
      resource: `${key}:${observation.drift.map((d) => `${d.resource}.${d.field}`).join(',')}`,
      origin: 'drift check',
      outcome: corrected ? 'success' : 'failure',
      severity: 'high',
      detail: maskSecrets(observation.drift.map((d) => d.detail).join('; ')),
    });
    await deps.notifier.event(
      ref.identity,
      'Warning',
      'DriftCorrected',
      `${key}: ${what} ${corrected ? 'restored' : 'still differs'}`,
    );
  }
}
