// PolicyCompliant for the operator: everything admission enforces (re-checked in case admission
// was bypassed, e.g. objects created before the policy or while it was missing), plus the rules
// only the operator can check because they need other objects: the ClusterCredentialProviders (which
// namespaces may use each, whether it sets a permissions boundary) and the namespace's labels.
// maxRiskLevel needs the risk score and is left to the risk module's caller.

import type { AgentIdentity, ClusterCredentialProvider, IdentityPolicy } from '../api/v1alpha1/types.ts';
import { validateObject } from './admission.ts';
import { awsManagedSecretViolations } from './aws-managed-secrets.ts';
import { permissionsBoundaryViolations } from './permissions-boundary.ts';
import { type NamespaceLabels, providerNamespaceViolations } from './provider-namespaces.ts';
import type { Violation } from './violation.ts';

/** What the operator knows beyond the object as written. */
export interface ComplianceContext {
  /** The labels of the identity's namespace; undefined when not known. */
  namespaceLabels?: NamespaceLabels;
  /** status.providers: where its credentials are recorded, which decides unnamed providers. */
  recordedProviders?: readonly string[];
}

/**
 * The providers' allowedNamespaces are checked whatever the IdentityPolicy says (they are the
 * providers' own rule) and reported first; then admission, managed secrets, the permissions boundary.
 */
export function complianceViolations(
  identity: AgentIdentity,
  policy: IdentityPolicy | undefined,
  providers: ReadonlyMap<string, ClusterCredentialProvider>,
  context: ComplianceContext = {},
): Violation[] {
  // Provider resolution reads where credentials are recorded; the rules read the spec as written.
  const resolvable = context.recordedProviders
    ? { ...identity, status: { providers: [...context.recordedProviders] } }
    : identity;
  const tenancy = providerNamespaceViolations(resolvable, providers, context.namespaceLabels);
  const labels = context.namespaceLabels;
  const admission = validateObject(identity, policy, labels ? { namespaceLabels: { ...labels } } : {});
  if (admission.length > 0) return [...tenancy, ...admission];
  const managed = awsManagedSecretViolations(identity);
  if (managed.length > 0 || !policy) return [...tenancy, ...managed];
  return [...tenancy, ...permissionsBoundaryViolations(resolvable, policy, providers)];
}
