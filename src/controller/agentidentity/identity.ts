// How the reconciler names an AgentIdentity to the providers and to the audit trail.

import type { AgentIdentity } from '../../api/v1alpha1/types.ts';
import { pinProviderRefs } from '../../providers/resolution.ts';
import type { IdentityRef } from '../../providers/types.ts';
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
