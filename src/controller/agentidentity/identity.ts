// How the reconciler names an AgentIdentity to the providers and to the audit trail.

import type { AgentIdentity } from '../../api/v1alpha1/types.ts';
import type { IdentityRef } from '../../providers/types.ts';
import { managedServiceAccountName } from './workload.ts';

export function identityRef(identity: AgentIdentity): IdentityRef {
  return {
    identity,
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
