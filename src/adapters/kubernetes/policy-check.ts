// The reconciler's operator-side re-check of the admission rules (`checkPolicy`): the compliance
// policies over what the user wrote, against the ClusterCredentialProviders and the Namespace in the
// cache. The fields the apiserver adds are dropped first, as the admission check never sees them
// either; status.providers is kept aside, as it decides which provider an unnamed scope uses.

import { createHash } from 'node:crypto';
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
  // The verdict is a pure function of what it reads, and evaluating the CEL rules was the costliest
  // part of a steady reconcile: remembered per identity until any input changes.
  const verdicts = new Map<string, { inputs: string; violations: string[] }>();
  return (identity, policy) => {
    const configs = providerConfigs();
    const byName = new Map(configs.map((c) => [c.metadata.name, c] as const));
    const context = {
      namespaceLabels: namespaceLabels(identity.metadata.namespace ?? 'default'),
      recordedProviders: identity.status?.providers ?? [],
    };
    const written = withoutServerFields(identity);
    const inputs = createHash('sha256')
      .update(JSON.stringify([written, versionOf(policy), configs.map(versionOf), context]))
      .digest('base64');
    const key = `${identity.metadata.namespace ?? ''}/${identity.metadata.name}`;
    const known = verdicts.get(key);
    if (known?.inputs === inputs) return [...known.violations];
    const violations = complianceViolations(written, policy, byName, context).map(describeViolation);
    if (verdicts.size >= 100_000) verdicts.clear(); // identities come and go: bounded, never stale
    verdicts.set(key, { inputs, violations });
    return [...violations];
  };
}

/** An object's identity and version when the apiserver gave it one; otherwise the object itself. */
function versionOf(obj: { metadata?: { uid?: string; resourceVersion?: string } } | undefined): unknown {
  if (!obj) return null;
  const { uid, resourceVersion } = obj.metadata ?? {};
  return resourceVersion ? [uid, resourceVersion] : obj;
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
