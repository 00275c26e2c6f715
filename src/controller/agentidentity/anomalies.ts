// Anomalies found in the audit logs (governance/activity/anomalies.ts, taken with status.activity by
// gather and written by observe.ts): each new one becomes a Warning Event on the identity and an
// `anomaly` audit record, before the status that records it is written (so a crash between the two
// repeats them rather than losing them: at least once). Owns no condition; changes nothing but
// Events and the audit trail: an anomaly is reported, never acted on.

import type { ActivityAnomaly, ActivityStatus, AgentIdentity } from '../../api/v1alpha1/types.ts';
import { auditIdentity } from './identity.ts';
import type { ReconcilerDeps } from './ports.ts';

const REASONS: Record<ActivityAnomaly['kind'], string> = {
  'first-use': 'FirstSeenAction',
  'unexpected-source': 'UnexpectedSource',
  'denial-burst': 'DenialBurst',
  'after-quarantine': 'UseAfterQuarantine',
};

const keyOf = (a: ActivityAnomaly) => `${a.kind}\u0000${a.time}\u0000${a.message}`;

/** The anomalies of `taken` that the recorded status does not hold yet. */
export function newAnomalies(recorded: ActivityStatus | undefined, taken: ActivityStatus | undefined) {
  const known = new Set((recorded?.anomalies ?? []).map(keyOf));
  return (taken?.anomalies ?? []).filter((a) => !known.has(keyOf(a)));
}

export async function reportAnomalies(
  deps: Pick<ReconcilerDeps, 'notifier' | 'audit' | 'actor'>,
  identity: AgentIdentity,
  taken: ActivityStatus | undefined,
): Promise<void> {
  for (const anomaly of newAnomalies(identity.status?.activity, taken)) {
    await deps.notifier.event(identity, 'Warning', REASONS[anomaly.kind], anomaly.message);
    await deps.audit.record({
      action: 'anomaly',
      identity: auditIdentity(identity),
      actor: deps.actor,
      resource: `activity:${anomaly.kind}`,
      origin: `reconcile: audit logs, request at ${anomaly.time}`,
      outcome: 'success',
      severity: anomaly.kind === 'after-quarantine' ? 'high' : 'warning',
      detail: anomaly.message,
    });
  }
}
