// PolicyCompliant for the operator: everything admission enforces (re-checked in case admission
// was bypassed, e.g. objects created before the policy or while it was missing), plus the rules
// only the operator can check because they need other objects (the ClusterCredentialProviders).
// maxRiskLevel needs the risk score and is left to the risk module's caller.

import type { AgentIdentity, ClusterCredentialProvider, IdentityPolicy } from '../api/v1alpha1/types.ts';
import { validateObject } from './admission.ts';
import { awsManagedSecretViolations } from './aws-managed-secrets.ts';
import { permissionsBoundaryViolations } from './permissions-boundary.ts';
import type { Violation } from './violation.ts';

export function complianceViolations(
  identity: AgentIdentity,
  policy: IdentityPolicy | undefined,
  providers: ReadonlyMap<string, ClusterCredentialProvider>,
): Violation[] {
  const admission = validateObject(identity, policy);
  if (admission.length > 0) return admission;
  const managed = awsManagedSecretViolations(identity);
  if (managed.length > 0 || !policy) return managed;
  return permissionsBoundaryViolations(identity, policy, providers);
}
