// How the reconciler names an AgentIdentity to the providers and to the audit trail.

import type { AgentIdentity } from '../../api/v1alpha1/types.ts';
import { pinProviderRefs } from '../../providers/resolution.ts';
import type { IdentityRef } from '../../providers/types.ts';
import { maskSecrets } from '../../runtime/redact.ts';
import { managedServiceAccountName } from './workload.ts';

/**
 * The identity as the providers see it: every aws and vault scope and secret carries the provider it
 * resolves to (providers/resolution.ts), so each provider picks exactly its own and an identity stays
 * with the provider its credentials are recorded in. When the resolution is ambiguous the spec is
 * passed as written, and resolving its providers fails with the reason (nothing is provisioned).
 */
export function identityRef(identity: AgentIdentity): IdentityRef {
  let pinned = identity;
  try {
    pinned = pinProviderRefs(identity);
  } catch {
    // ProviderRegistry.forIdentity throws the same error where provisioning reports it.
  }
  return {
    identity: pinned,
    subject: {
      namespace: identity.metadata.namespace ?? 'default',
      serviceAccountName: managedServiceAccountName(identity),
    },
  };
}

export function auditIdentity(identity: AgentIdentity) {
  return {
    uid: identity.metadata.uid ?? '',
    namespace: identity.metadata.namespace ?? '',
    name: identity.metadata.name,
  };
}

export function identityResource(identity: AgentIdentity): string {
  return `AgentIdentity/${identity.metadata.namespace}/${identity.metadata.name}`;
}

/**
 * The request IDs an audit record carries from the backend calls of its step (collected with
 * withRequestIds): `requestId` the last call's, `requestIds` every call's when there were several.
 */
export function auditRequestIds(ids: readonly string[]): { requestId?: string; requestIds?: string[] } {
  const last = ids.at(-1);
  if (last === undefined) return {};
  return { requestId: last, ...(ids.length > 1 && { requestIds: [...ids] }) };
}

/**
 * How a failed backend call reads in an audit record: the error's reason and message (secret values
 * masked) and the backend's request ID when the error or its cause carries one (AWS SDK `$metadata`).
 */
export function auditFailure(error: unknown): { detail: string; requestId?: string } {
  const reason = (error as { reason?: unknown })?.reason;
  const message = error instanceof Error ? error.message : String(error);
  const detail = maskSecrets(typeof reason === 'string' ? `${reason}: ${message}` : message);
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const requestId = (e as { $metadata?: { requestId?: unknown } }).$metadata?.requestId;
    if (typeof requestId === 'string') return { detail, requestId };
  }
  return { detail };
}
