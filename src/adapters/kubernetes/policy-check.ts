// The reconciler's operator-side re-check of the admission rules (`checkPolicy`): the compliance
// policies over what the user wrote, against the ClusterCredentialProviders and the Namespace in the
// cache. The fields the apiserver adds are dropped first, as the admission check never sees them
// either; status.providers is kept aside, as it decides which provider an unnamed scope uses.

import type { AgentIdentity, ClusterCredentialProvider, IdentityPolicy } from '../../api/v1alpha1/types.ts';
import { complianceViolations } from '../../policies/compliance.ts';
import type { NamespaceLabels } from '../../policies/provider-namespaces.ts';
import { describe as describeViolation } from '../../policies/violation.ts';

/**
 * Field-named violations, empty when the identity complies with the policy. `namespaceLabels` reads
 * the labels of a namespace from the cache (undefined when it is not there).
 */
export function compliancePolicyCheck(
  providerConfigs: () => readonly ClusterCredentialProvider[],
  namespaceLabels: (namespace: string) => NamespaceLabels,
): (identity: AgentIdentity, policy: IdentityPolicy | undefined) => string[] {
  return (identity, policy) => {
    const byName = new Map(providerConfigs().map((c) => [c.metadata.name, c] as const));
    const context = {
      namespaceLabels: namespaceLabels(identity.metadata.namespace ?? 'default'),
      recordedProviders: identity.status?.providers ?? [],
    };
    return complianceViolations(withoutServerFields(identity), policy, byName, context).map(
      describeViolation,
    );
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
