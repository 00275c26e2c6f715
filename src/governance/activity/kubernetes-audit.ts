// Kubernetes apiserver audit events (audit.k8s.io/v1 Event, one JSON object a line, as
// `--audit-log-path` writes them and as an audit webhook receives them in an EventList) reduced to
// activity events. Only the final stage of a request counts (ResponseComplete or Panic), so one
// request is one event. Metadata level is enough: bodies are never read even when present.

import { maskSecrets } from '../../runtime/redact.ts';
import type { ActivityEvent, ActivityOutcome, KubernetesTarget } from './types.ts';

const SERVICE_ACCOUNT_USER = /^system:serviceaccount:([a-z0-9.-]+):([a-z0-9.-]+)$/;

interface KubeAuditEvent {
  kind?: string;
  apiVersion?: string;
  stage?: string;
  verb?: string;
  requestURI?: string;
  user?: { username?: string };
  impersonatedUser?: { username?: string };
  sourceIPs?: string[];
  objectRef?: {
    resource?: string;
    subresource?: string;
    namespace?: string;
    name?: string;
    apiGroup?: string;
  };
  responseStatus?: { code?: number };
  stageTimestamp?: string;
  requestReceivedTimestamp?: string;
  annotations?: Record<string, string>;
}

/** The ServiceAccount a Kubernetes username names, if it names one. */
export function serviceAccountOfUser(username: string): { namespace: string; name: string } | undefined {
  const match = SERVICE_ACCOUNT_USER.exec(username);
  return match ? { namespace: match[1] as string, name: match[2] as string } : undefined;
}

export function kubernetesUsername(namespace: string, serviceAccount: string): string {
  return `system:serviceaccount:${namespace}:${serviceAccount}`;
}

function outcomeOf(event: KubeAuditEvent): ActivityOutcome {
  const code = event.responseStatus?.code ?? 0;
  if (event.annotations?.['authorization.k8s.io/decision'] === 'forbid' || code === 401 || code === 403)
    return 'denied';
  if (event.stage === 'Panic' || code >= 400 || code === 0) return 'error';
  return 'allowed';
}

function targetOf(event: KubeAuditEvent): KubernetesTarget | undefined {
  const ref = event.objectRef;
  if (!ref?.resource) return undefined;
  return {
    apiGroup: ref.apiGroup ?? '',
    resource: ref.subresource ? `${ref.resource}/${ref.subresource}` : ref.resource,
    ...(ref.namespace ? { namespace: ref.namespace } : {}),
    ...(ref.name ? { name: ref.name } : {}),
  };
}

function resourceOf(event: KubeAuditEvent): string {
  const ref = event.objectRef;
  if (!ref?.resource) return (event.requestURI ?? '').split('?')[0] ?? '';
  const kind = `${ref.apiGroup ? `${ref.apiGroup}/` : ''}${ref.resource}${ref.subresource ? `/${ref.subresource}` : ''}`;
  const where = ref.namespace ? `${ref.namespace}/${ref.name ?? '*'}` : (ref.name ?? '*');
  return `${kind} ${where}`;
}

/** Each event of an audit.k8s.io/v1 Event or EventList object. */
function eventsOf(value: unknown): KubeAuditEvent[] {
  const v = value as { kind?: string; apiVersion?: string; items?: unknown[] };
  if (typeof v !== 'object' || v === null || !String(v.apiVersion ?? '').startsWith('audit.k8s.io/'))
    return [];
  if (v.kind === 'EventList') return (v.items ?? []) as KubeAuditEvent[];
  return v.kind === 'Event' ? [v as KubeAuditEvent] : [];
}

/**
 * The activity events in one parsed JSON value (an Event or a webhook's EventList). Events of other
 * stages, or without a user or verb, give nothing.
 */
export function parseKubernetesAudit(value: unknown): ActivityEvent[] {
  const out: ActivityEvent[] = [];
  for (const event of eventsOf(value)) {
    if (event.stage !== 'ResponseComplete' && event.stage !== 'Panic') continue;
    // The acting user is the impersonated one when impersonation was used.
    const username = event.impersonatedUser?.username ?? event.user?.username;
    const time = event.stageTimestamp ?? event.requestReceivedTimestamp;
    if (!username || !event.verb || !time) continue;
    const serviceAccount = serviceAccountOfUser(username);
    const code = event.responseStatus?.code;
    const target = targetOf(event);
    out.push({
      time: new Date(time).toISOString(),
      backend: 'kubernetes',
      principal: maskSecrets(username),
      verb: event.verb,
      resource: maskSecrets(resourceOf(event)),
      outcome: outcomeOf(event),
      ...(code ? { code: String(code) } : {}),
      ...(event.sourceIPs?.[0] ? { sourceAddress: event.sourceIPs[0] } : {}),
      match: serviceAccount ? { serviceAccount } : {},
      ...(target ? { target } : {}),
    });
  }
  return out;
}
