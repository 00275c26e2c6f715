// Explainable anomalies in an identity's activity, against a baseline of what it is known to do:
//  - first-use: an action (backend, verb, resource) not in the baseline, once the baseline period
//    has passed (before that, new actions are learnt silently); it is then added, so reported once;
//  - unexpected-source: a source address not in the baseline, the same way;
//  - denial-burst: at least `denialBurst` denied requests within `denialBurstWindow`, once a burst;
//  - after-quarantine: any request after the identity was quarantined (locked, expired, orphaned).
// Pure: the recorded baseline and anomalies, the window's observations and the thresholds in; the
// new baseline, the anomalies found now and the latest ones out. Messages name actions and
// addresses only: no token, no body, no secret value is ever part of an observation.

import {
  ANOMALIES_KEPT,
  type AnomalyLimits,
  BASELINE_ACTIONS_MAX,
  BASELINE_SOURCES_MAX,
} from '../../api/v1alpha1/defaults.ts';
import type { ActivityAnomaly, ActivityBaseline } from '../../api/v1alpha1/types.ts';
import type { Use } from './rightsize.ts';

/** `kubernetes get configmaps`, `kubernetes get apps/deployments/scale`, `vault read secret/data/x`, `aws s3:GetObject ...`. */
export function actionOf(use: Use): string {
  if (use.backend === 'kubernetes')
    return `kubernetes ${use.verb} ${use.apiGroup ? `${use.apiGroup}/` : ''}${use.resource}`;
  return `${use.backend} ${use.verb} ${use.resource}`;
}

export interface AnomalyInput {
  now: Date;
  limits: AnomalyLimits;
  recorded?: { baseline?: ActivityBaseline | undefined; anomalies?: ActivityAnomaly[] | undefined };
  uses: readonly Use[];
  /** Source address -> last seen. */
  sources: ReadonlyMap<string, string>;
  /** Times, ascending. */
  requests: readonly string[];
  denials: readonly string[];
  /** When the identity was quarantined (Quarantined=True), if it is. */
  quarantinedSince?: string | undefined;
}

export interface AnomalyResult {
  baseline: ActivityBaseline;
  /** Found by this observation: each becomes an Event and an audit record. */
  found: ActivityAnomaly[];
  /** The latest anomalies, recorded and found, at most ANOMALIES_KEPT. */
  anomalies: ActivityAnomaly[];
}

const latestOf = (anomalies: readonly ActivityAnomaly[], kind: ActivityAnomaly['kind']) =>
  anomalies
    .filter((a) => a.kind === kind)
    .map((a) => a.time)
    .sort()
    .at(-1);

function denialBursts(input: AnomalyInput, recorded: readonly ActivityAnomaly[]): ActivityAnomaly[] {
  const { denialBurst, denialBurstWindowMs } = input.limits;
  const out: ActivityAnomaly[] = [];
  // A burst already reported covers every denial up to a window after it.
  const last = latestOf(recorded, 'denial-burst');
  let quietUntil = last ? Date.parse(last) + denialBurstWindowMs : Number.NEGATIVE_INFINITY;
  const times = input.denials.map((t) => Date.parse(t));
  let first = 0;
  for (let i = 0; i < times.length; i++) {
    const t = times[i] as number;
    while ((times[first] as number) <= t - denialBurstWindowMs) first += 1;
    const count = i - first + 1;
    if (count >= denialBurst && t > quietUntil) {
      out.push({
        kind: 'denial-burst',
        time: new Date(t).toISOString(),
        message: `${count} requests denied within ${Math.round(denialBurstWindowMs / 1000)}s (threshold ${denialBurst})`,
      });
      quietUntil = t + denialBurstWindowMs;
    }
  }
  return out;
}

function afterQuarantine(input: AnomalyInput, recorded: readonly ActivityAnomaly[]): ActivityAnomaly[] {
  if (!input.quarantinedSince) return [];
  const reported = latestOf(recorded, 'after-quarantine') ?? '';
  const after = input.requests.filter((t) => t > (input.quarantinedSince as string));
  const fresh = after.filter((t) => t > reported);
  const last = fresh.at(-1);
  if (!last) return [];
  return [
    {
      kind: 'after-quarantine',
      time: last,
      message: `${after.length} request${after.length > 1 ? 's' : ''} after the identity was quarantined at ${input.quarantinedSince}: its credentials are still being presented`,
    },
  ];
}

export function detectAnomalies(input: AnomalyInput): AnomalyResult {
  const recorded = input.recorded?.anomalies ?? [];
  const previous = input.recorded?.baseline;
  const baseline: ActivityBaseline = {
    since: previous?.since ?? input.now.toISOString(),
    actions: [...(previous?.actions ?? [])],
    sources: [...(previous?.sources ?? [])],
  };
  const learning = input.now.getTime() - Date.parse(baseline.since) < input.limits.baselinePeriodMs;
  const found: ActivityAnomaly[] = [];

  const uses = [...input.uses].sort((a, b) => a.lastSeen.localeCompare(b.lastSeen));
  for (const use of uses) {
    const action = actionOf(use);
    if (baseline.actions.includes(action) || baseline.actions.length >= BASELINE_ACTIONS_MAX) continue;
    baseline.actions.push(action);
    if (!learning)
      found.push({
        kind: 'first-use',
        time: use.lastSeen,
        message: `first use of ${action}: never seen since the baseline began at ${baseline.since}`,
      });
  }
  const sources = [...input.sources].sort((a, b) => a[1].localeCompare(b[1]));
  for (const [address, seen] of sources) {
    if (baseline.sources.includes(address) || baseline.sources.length >= BASELINE_SOURCES_MAX) continue;
    baseline.sources.push(address);
    if (!learning)
      found.push({
        kind: 'unexpected-source',
        time: seen,
        message: `request from ${address}, a source address never seen since the baseline began at ${baseline.since}`,
      });
  }
  found.push(...denialBursts(input, recorded), ...afterQuarantine(input, recorded));
  baseline.actions.sort();
  baseline.sources.sort();
  const anomalies = [...recorded, ...found]
    .sort((a, b) => a.time.localeCompare(b.time))
    .slice(-ANOMALIES_KEPT);
  return { baseline, found, anomalies };
}
