// gather(): every read a reconcile needs, before anything is decided — the workload, the policy in
// force and its verdict, and (once per drift interval) last real use and drift from the providers.
// Reading never changes anything; drift is corrected by the provision step only after the lifecycle
// decided to provision (a spec the operator judged non-compliant is never applied by a correction).

import { anomalyLimits, lastUsedStepMs } from '../../api/v1alpha1/defaults.ts';
import type { ActivityStatus, AgentIdentity, IdentityPolicy } from '../../api/v1alpha1/types.ts';
import type { HardCodedSecret } from '../../governance/risk/factors.ts';
import { hardCodedSecretOf, OPERATOR_SCAN_MAX_VALUES, scanPodSpec } from '../../governance/secrets/detect.ts';
import { riskGate } from '../../policies/risk-gate.ts';
import type { IdentityRef } from '../../providers/types.ts';
import { resyncSlice } from '../../runtime/controller.ts';
import { maskSecrets } from '../../runtime/redact.ts';
import type { WorkloadState } from './decision.ts';
import { recordedPast } from './lifecycle.ts';
import type { ReconcilerDeps } from './ports.ts';
import type { Drifted } from './provision.ts';
import { observeWorkload, type WorkloadScanner } from './workload.ts';

/**
 * Remembers, per identity key, when its backends were last observed and what the secret scan found in
 * its workload's pod template at which version (a scan runs again only when the template changed).
 * Entries go with the identity.
 */
export class Observer {
  private readonly lastObserved = new Map<string, number>();
  private readonly scans = new Map<string, { version: string; secrets: readonly HardCodedSecret[] }>();

  constructor(readonly deps: ReconcilerDeps) {}

  /** The workload scanner for identity `key`: literal credentials in the pod template, cached per version. */
  scanner(key: string): WorkloadScanner {
    return async (workload, podSpec) => {
      const meta = workload.metadata ?? {};
      const version = `${meta.uid ?? ''}/${meta.generation ?? meta.resourceVersion ?? ''}`;
      const cached = this.scans.get(key);
      if (cached?.version === version) return cached.secrets;
      try {
        const ref = {
          kind: workload.kind ?? 'Workload',
          name: meta.name ?? '',
          namespace: meta.namespace ?? '',
        };
        const secrets = (await scanPodSpec(podSpec, ref, OPERATOR_SCAN_MAX_VALUES)).map(hardCodedSecretOf);
        this.scans.set(key, { version, secrets });
        return secrets;
      } catch (error) {
        // The scan only informs the risk score; a rule that throws must not stop the lifecycle.
        this.deps.logger.warn('workload secret scan failed', { error: maskSecrets(String(error)) });
        return undefined;
      }
    };
  }

  /**
   * Whether the drift interval has come round for `key`. Each key's interval is shortened by up to a
   * tenth, by a hash of the key, so identities first observed together do not all come due together.
   */
  due(key: string, now: Date): boolean {
    const last = this.lastObserved.get(key);
    if (last === undefined) return true;
    const interval = this.deps.driftIntervalMs;
    return last + interval - Math.floor((resyncSlice(key, 1000) / 1000) * (interval / 10)) <= now.getTime();
  }

  mark(key: string, now: Date): void {
    this.lastObserved.set(key, now.getTime());
  }

  forget(key: string): void {
    this.lastObserved.delete(key);
    this.scans.delete(key);
  }
}

export interface Observed {
  lastUsed: Date | undefined;
  /** Taken once per drift interval from the audit logs the operator follows (ports.ts ActivityPort). */
  activity?: ActivityStatus | undefined;
  drifted: Drifted[];
  /** The drift interval has come round for this identity (quarantine is re-asserted then too). */
  driftDue: boolean;
}

export async function observeProviders(
  observer: Observer,
  ref: IdentityRef,
  key: string,
  workload: WorkloadState,
  now: Date,
): Promise<Observed> {
  const { deps } = observer;
  const stored = recordedPast(ref.identity.status?.lastUsed, now);
  let lastUsed = stored;
  const later = (d: Date | undefined) => {
    if (d && (!lastUsed || d > lastUsed)) lastUsed = d;
  };
  if (workload.kind === 'present' && workload.boundPods > 0) {
    if (!stored || now.getTime() - stored.getTime() >= lastUsedStepMs(ref.identity.spec)) later(now);
  }
  const conditions = ref.identity.status?.conditions ?? [];
  const provisioned = conditions.some((c) => c.type === 'Provisioned' && c.status === 'True');
  const quarantined = conditions.some((c) => c.type === 'Quarantined' && c.status === 'True');
  const driftDue = observer.due(key, now) && !ref.identity.metadata.deletionTimestamp;
  const drifted: Drifted[] = [];
  // Once per drift interval, and until a summary is recorded (the first visits may not write it).
  const activity =
    driftDue || !ref.identity.status?.activity
      ? deps.activity?.summaryFor(ref.identity, now, anomalyLimitsFor(deps.policy(), ref.identity))
      : undefined;
  // Real use in the audit logs counts as use (inactivity expiry), a time from the future never.
  for (const b of activity?.backends ?? []) later(recordedPast(b.lastUsed, now));
  if (!driftDue) return { lastUsed, drifted, driftDue, activity };
  observer.mark(key, now);
  if (!provisioned || quarantined) return { lastUsed, drifted, driftDue, activity };

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
  return { lastUsed, drifted, driftDue, activity };
}

/** The anomaly thresholds of the identity's environment in the IdentityPolicy (defaults.ts otherwise). */
function anomalyLimitsFor(policy: IdentityPolicy | undefined, identity: AgentIdentity) {
  return anomalyLimits(policy?.spec.environments?.[identity.spec.environment]?.anomalies);
}

export interface Gathered {
  workload: WorkloadState;
  policy: IdentityPolicy | undefined;
  /** Field-named policy violations (admission re-check and the risk gate); empty when compliant. */
  violations: string[];
  observed: Observed;
}

/**
 * `identity` is the object as read from the cache, which the policy checks judge (the spec as written,
 * status.providers for where credentials are recorded); `ref` is the identity as the providers see it
 * (every providerRef resolved, identity.ts).
 */
export async function gather(
  observer: Observer,
  ref: IdentityRef,
  key: string,
  now: Date,
  identity: AgentIdentity = ref.identity,
): Promise<Gathered> {
  const { deps } = observer;
  const workload = identity.metadata.deletionTimestamp
    ? ({ kind: 'none' } as const)
    : await observeWorkload(deps.workloads, identity, observer.scanner(key));
  const policy = deps.policy();
  const violations = [...deps.checkPolicy(identity, policy), ...riskGate(identity, policy, now)];
  const observed = await observeProviders(observer, ref, key, workload, now);
  return { workload, policy, violations, observed };
}
