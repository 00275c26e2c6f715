// IdentityPolicy requirePermissionsBoundary: every IAM role the operator would create for an
// identity must carry a permissions boundary. Whether it does depends on the
// ClusterCredentialProvider the identity names, which a ValidatingAdmissionPolicy cannot read
// (it sees only the object and its params), so this rule is checked here, by the operator for
// PolicyCompliant and by `nhictl lint` when the providers are among its inputs.

import type {
  AgentIdentity,
  ClusterCredentialProvider,
  EnvironmentRules,
  IdentityPolicy,
} from '../api/v1alpha1/types.ts';
import { resolvedProviderUses } from '../providers/resolution.ts';
import { childPath, type Violation } from './violation.ts';

function rulesFor(identity: AgentIdentity, policy: IdentityPolicy): EnvironmentRules | undefined {
  return policy.spec.environments[identity.spec.environment];
}

/**
 * Where the identity needs an IAM role: aws scopes, and secrets kept in AWS Secrets Manager, each with
 * the provider it resolves to (providerRef, else where its credentials are recorded, else `aws`). An
 * ambiguous resolution yields none: provisioning fails then, naming the reason.
 */
function awsUses(identity: AgentIdentity): Array<{ field: string; providerRef: string }> {
  let uses: ReturnType<typeof resolvedProviderUses>;
  try {
    uses = resolvedProviderUses(identity);
  } catch {
    return [];
  }
  return uses
    .filter((use) => use.kind === 'aws')
    .map((use) => ({ field: childPath(use.field, 'providerRef'), providerRef: use.provider }));
}

export function permissionsBoundaryViolations(
  identity: AgentIdentity,
  policy: IdentityPolicy,
  providers: ReadonlyMap<string, ClusterCredentialProvider>,
): Violation[] {
  if (rulesFor(identity, policy)?.requirePermissionsBoundary !== true) return [];
  const environment = identity.spec.environment;
  const out: Violation[] = [];
  for (const use of awsUses(identity)) {
    const provider = providers.get(use.providerRef);
    const rule = 'operator:permissions-boundary-required';
    if (!provider) {
      out.push({
        field: use.field,
        message: `ClusterCredentialProvider ${use.providerRef} not found: cannot confirm the permissions boundary IdentityPolicy ${policy.metadata.name} requires for ${environment}`,
        rule,
      });
    } else if (!provider.spec.aws) {
      out.push({
        field: use.field,
        message: `ClusterCredentialProvider ${use.providerRef} is not an aws provider`,
        rule,
      });
    } else if (!provider.spec.aws.permissionsBoundaryArn) {
      out.push({
        field: use.field,
        message: `ClusterCredentialProvider ${use.providerRef} sets no aws.permissionsBoundaryArn, which IdentityPolicy ${policy.metadata.name} requires for ${environment} (requirePermissionsBoundary)`,
        rule,
      });
    }
  }
  return out;
}
