// Real signals of use for the Kubernetes backend, and drift of the RBAC we own.
//
// Last use is the most recent of:
//  - a Pod running with the managed ServiceAccount: in use now (the observation time);
//  - a Pod that ran and finished: when its last container finished (else its start or creation);
//  - a Pod not started yet (Pending): its creation, the moment a workload claimed the identity;
//  - a legacy token Secret of the ServiceAccount: its creation (issuance) or the day the apiserver
//    last saw it used (label kubernetes.io/legacy-token-last-used).
// Bound pods are the Pods using the ServiceAccount that are neither finished nor being deleted.

import type * as k8s from '@kubernetes/client-node';
import type { IdentityRef, Observation } from '../types.ts';
import { resourceName } from './names.ts';
import type { Plan } from './plan.ts';
import type { KubernetesPort } from './port.ts';
import type { NowSource } from './secrets.ts';

const TOKEN_TYPE = 'kubernetes.io/service-account-token';
const TOKEN_SA_ANNOTATION = 'kubernetes.io/service-account.name';
const LEGACY_LAST_USED = 'kubernetes.io/legacy-token-last-used';

function time(value: Date | string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function latest(values: Array<number | undefined>): number | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length ? Math.max(...known) : undefined;
}

/** When a pod last used its ServiceAccount, as far as its status tells. */
export function podLastUse(pod: k8s.V1Pod, now: number): number | undefined {
  const phase = pod.status?.phase;
  if (phase === 'Running') return now;
  if (phase === 'Succeeded' || phase === 'Failed') {
    const finished = (pod.status?.containerStatuses ?? []).map((c) => time(c.state?.terminated?.finishedAt));
    return latest(finished) ?? time(pod.status?.startTime) ?? time(pod.metadata?.creationTimestamp);
  }
  return latest([time(pod.status?.startTime), time(pod.metadata?.creationTimestamp)]);
}

export function isBound(pod: k8s.V1Pod): boolean {
  const phase = pod.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed' && !pod.metadata?.deletionTimestamp;
}

export function tokenSecretLastUse(secret: k8s.V1Secret): number | undefined {
  const lastUsedDay = secret.metadata?.labels?.[LEGACY_LAST_USED];
  return latest([
    time(secret.metadata?.creationTimestamp),
    lastUsedDay ? time(`${lastUsedDay}T00:00:00Z`) : undefined,
  ]);
}

export async function observeUse(
  port: KubernetesPort,
  ref: IdentityRef,
  clock: NowSource,
): Promise<{ lastUsed?: Date; boundPods: number }> {
  const { namespace, serviceAccountName } = ref.subject;
  const [pods, tokens] = await Promise.all([
    port.list('Pod', { namespace, fieldSelector: `spec.serviceAccountName=${serviceAccountName}` }),
    port.list('Secret', { namespace, fieldSelector: `type=${TOKEN_TYPE}` }),
  ]);
  const now = clock.now();
  const ours = pods.filter((pod) => pod.spec?.serviceAccountName === serviceAccountName);
  const tokenSecrets = tokens.filter(
    (s) => s.metadata?.annotations?.[TOKEN_SA_ANNOTATION] === serviceAccountName,
  );
  const last = latest([...ours.map((pod) => podLastUse(pod, now)), ...tokenSecrets.map(tokenSecretLastUse)]);
  const boundPods = ours.filter(isBound).length;
  return last === undefined ? { boundPods } : { lastUsed: new Date(last), boundPods };
}

/** Drift of the ServiceAccount, Role and RoleBinding, from a plan; corrected by running its drift actions. */
export async function driftOf(
  port: KubernetesPort,
  ref: IdentityRef,
  plan: Plan,
  correct: boolean,
): Promise<Pick<Observation, 'drift' | 'corrected'>> {
  const ns = ref.subject.namespace;
  const actions = plan.actions.filter((a) => a.drift !== undefined && a.kind !== 'Secret');
  const drift: Observation['drift'] = actions.map((a) => ({
    resource: resourceName(a.kind, ns, a.name),
    field: a.drift ?? '',
    detail: `${a.verb}: ${a.reason}`,
  }));
  for (const refused of plan.refused) {
    drift.push({
      resource: resourceName(refused.kind, ns, refused.name),
      field: 'ownership',
      detail: 'exists without nhi.dev marks for this identity; not touched',
    });
  }
  if (!correct || actions.length === 0) return { drift, corrected: false };
  for (const action of actions) await action.run(port);
  return { drift, corrected: plan.refused.length === 0 };
}
