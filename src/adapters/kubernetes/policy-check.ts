// The reconciler's operator-side re-check of the admission rules (`checkPolicy`): the compliance
// policies over what the user wrote, against the ClusterCredentialProviders in the cache. The fields
// the apiserver adds are dropped first, as the admission check never sees them either.

import type { AgentIdentity, ClusterCredentialProvider, IdentityPolicy } from '../../api/v1alpha1/types.ts';
import { complianceViolations } from '../../policies/compliance.ts';
import { describe as describeViolation } from '../../policies/violation.ts';

/** Field-named violations, empty when the identity complies with the policy. */
export function compliancePolicyCheck(
  providerConfigs: () => readonly ClusterCredentialProvider[],
): (identity: AgentIdentity, policy: IdentityPolicy | undefined) => string[] {
  return (identity, policy) => {
    const byName = new Map(providerConfigs().map((c) => [c.metadata.name, c] as const));
    return complianceViolations(withoutServerFields(identity), policy, byName).map(describeViolation);
  };
}

/** The fields the apiserver adds, which a manifest never carries: validate what the user wrote. */
function withoutServerFields(identity: AgentIdentity): AgentIdentity {
  const { name, namespace, labels, annotations } = identity.metadata;
  return {
    apiVersion: identity.apiVersion,
    kind: identity.kind,
    metadata: {
      name,
      ...(namespace && { namespace }),
      ...(labels && { labels }),
      ...(annotations && { annotations }),
    },
    spec: identity.spec,
  };
}
