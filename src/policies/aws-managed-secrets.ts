// Secrets Manager secrets the operator manages live at nhi/<namespace>/<identity>/<secret>. An aws
// scope must never reach another identity's: an AgentIdentity granting secretsmanager actions on
// `nhi/other-ns/*`, or on a wildcard that covers `nhi/`, would read credentials it does not own.
// Operator-side (PolicyCompliant) in every environment; CEL offers no safe way to parse ARNs here.

import type { AgentIdentity } from '../api/v1alpha1/types.ts';
import type { Violation } from './violation.ts';

const MANAGED_PREFIX = 'nhi/';

function secretNamePattern(resource: string): string | undefined {
  if (resource === '*') return '*';
  if (!resource.startsWith('arn:')) return undefined;
  const parts = resource.split(':');
  // arn:partition:secretsmanager:region:account:secret:name
  if (parts[2] !== 'secretsmanager' && parts[2] !== '*') return undefined;
  if (parts[5] === undefined) return parts[2] === '*' ? '*' : undefined;
  if (parts[5] !== 'secret' && parts[5] !== '*') return undefined;
  return parts.slice(6).join(':') || '*';
}

/** Could the glob match some name under nhi/ other than `own`? */
function reachesOtherManaged(pattern: string, own: string): boolean {
  if (pattern.startsWith(own)) return false;
  const wildcard = pattern.search(/[*?]/);
  const literal = wildcard < 0 ? pattern : pattern.slice(0, wildcard);
  if (wildcard < 0) return literal.startsWith(MANAGED_PREFIX);
  // The literal part is a prefix of nhi/ (so the wildcard covers all of it) or already inside nhi/.
  return MANAGED_PREFIX.startsWith(literal) || literal.startsWith(MANAGED_PREFIX);
}

export function awsManagedSecretViolations(identity: AgentIdentity): Violation[] {
  const own = `${MANAGED_PREFIX}${identity.metadata.namespace ?? 'default'}/${identity.metadata.name}/`;
  const out: Violation[] = [];
  (identity.spec.scopes ?? []).forEach((scope, i) => {
    if (scope.provider !== 'aws') return;
    const touchesSecrets = scope.actions.some((a) => {
      const action = a.toLowerCase();
      return action === '*' || action.startsWith('secretsmanager:') || action === 'secretsmanager:*';
    });
    if (!touchesSecrets) return;
    scope.resources.forEach((resource, j) => {
      const pattern = secretNamePattern(resource);
      if (pattern !== undefined && reachesOtherManaged(pattern, own)) {
        out.push({
          field: `spec.scopes[${i}].resources[${j}]`,
          message: `"${resource.slice(0, 200)}" reaches Secrets Manager secrets the operator manages for other identities (nhi/...); grant only ${own}* or names outside nhi/`,
          rule: 'aws-managed-secrets-own-path',
        });
      }
    });
  });
  return out;
}
