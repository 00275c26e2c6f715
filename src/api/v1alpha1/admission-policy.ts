// The ValidatingAdmissionPolicy that enforces the IdentityPolicy named `default` on every
// AgentIdentity CREATE and spec UPDATE, in the apiserver, with no webhook server to run.
// generate.ts writes it to config/admission/; src/policies/admission.ts evaluates these same
// expressions offline for `nhictl lint` and for the operator's PolicyCompliant condition.
//
// Written for the Kubernetes CEL environment with `object`, `oldObject`, `params`, `request` and
// `variables` typed dyn. Only functions both the apiserver and the offline evaluator have are
// used: has, in, all, exists, filter, map, size, join, lowerAscii, startsWith, endsWith,
// substring, duration.

import { API_VERSION, GROUP, VERSION } from './types.ts';

export const ADMISSION_POLICY_NAME = 'nhi-identity-policy';
export const ADMISSION_BINDING_NAME = 'nhi-identity-policy-default';
/** The IdentityPolicy the binding uses as params. */
export const DEFAULT_IDENTITY_POLICY_NAME = 'default';
/**
 * Deny: when the IdentityPolicy `default` is missing every AgentIdentity CREATE or spec UPDATE is
 * refused. Guardrails must not switch off silently because someone deleted (or has not yet
 * applied) the policy; the chart ships the policy with the binding, and the message says what is
 * missing. Allow would admit anything until the operator's re-check, which only blocks
 * provisioning after the object is already stored.
 */
export const PARAMETER_NOT_FOUND_ACTION = 'Deny' as const;

export interface PolicyVariable {
  name: string;
  expression: string;
}

export interface PolicyValidation {
  /** Names the rule in lint output and tests; not written to the manifest. */
  id: string;
  /** The field the rule is about; every message names it. Not written to the manifest. */
  field: string;
  expression: string;
  messageExpression: string;
  /** Fallback when messageExpression cannot be evaluated. */
  message: string;
}

const where = "' for ' + variables.env + ' (IdentityPolicy ' + params.metadata.name + ')'";

export const matchConditions: PolicyVariable[] = [
  // Metadata-only updates (finalizers, labels set by the operator) are not re-judged, so a policy
  // tightened later never blocks the operator from cleaning up an older identity.
  { name: 'spec-changed', expression: "request.operation != 'UPDATE' || object.spec != oldObject.spec" },
];

export const variables: PolicyVariable[] = [
  { name: 'env', expression: 'object.spec.environment' },
  { name: 'governed', expression: 'variables.env in params.spec.environments' },
  { name: 'rules', expression: 'variables.governed ? params.spec.environments[variables.env] : {}' },
  { name: 'scopes', expression: 'has(object.spec.scopes) ? object.spec.scopes : []' },
  { name: 'secrets', expression: 'has(object.spec.secrets) ? object.spec.secrets : []' },
  { name: 'awsScopes', expression: "variables.scopes.filter(s, s.provider == 'aws')" },
  { name: 'vaultScopes', expression: "variables.scopes.filter(s, s.provider == 'vault')" },
  { name: 'kubernetesScopes', expression: "variables.scopes.filter(s, s.provider == 'kubernetes')" },
  {
    name: 'forbiddenActions',
    expression:
      'has(variables.rules.forbiddenActions) ? variables.rules.forbiddenActions.map(a, a.lowerAscii()) : []',
  },
  {
    name: 'forbiddenResources',
    expression: 'has(variables.rules.forbiddenResources) ? variables.rules.forbiddenResources : []',
  },
];

function withinMaximum(field: string, specField: string, limit: string): PolicyValidation {
  return {
    id: `${specField}-within-${limit}`,
    field,
    expression: `!has(variables.rules.${limit}) || (has(object.spec.${specField}) && duration(object.spec.${specField}) <= duration(variables.rules.${limit}))`,
    messageExpression: `'${field} ' + (has(object.spec.${specField}) ? object.spec.${specField} : '(unset)') + ' exceeds ${limit} ' + variables.rules.${limit} + ${where}`,
    message: `${field} exceeds the IdentityPolicy ${limit} for its environment`,
  };
}

/**
 * Whether AWS action `a` (as written) collides with forbidden pattern `f` (lowercased), in CEL:
 *  - the same action, in any case;
 *  - `f` names a whole service (`iam:*`), so every action of that service is forbidden;
 *  - `a` is a wildcard (`iam:*`, `*`, `s3:Get*`) that covers `f` (a wildcard reaches what it covers).
 * The bare `*` and `*:*` patterns forbid only the wildcard itself: they cannot mean "every action".
 */
function actionCollides(a: string, f: string): string {
  return (
    `${a}.lowerAscii() == ${f} || ` +
    `(${f}.endsWith(':*') && ${f} != '*:*' && ${a}.lowerAscii().startsWith(${f}.substring(0, ${f}.size() - 1))) || ` +
    `(${a}.endsWith('*') && ${f} != '*' && ${f} != '*:*' && ${f}.startsWith(${a}.lowerAscii().substring(0, ${a}.size() - 1)))`
  );
}

function notForbidden(
  id: string,
  field: string,
  list: 'forbiddenActions' | 'forbiddenResources',
  allowed: string,
  offenders: string,
): PolicyValidation {
  return {
    id,
    field,
    expression: allowed,
    messageExpression: `'${field} ' + ${offenders} + ' forbidden' + ${where} + ': ${list} ' + variables.rules.${list}.join(', ')`,
    message: `${field} names a value the IdentityPolicy ${list} forbids for its environment`,
  };
}

/** Joins the non-empty strings of a CEL list expression. */
const joined = (expr: string) => `${expr}.filter(x, x != '').join(', ')`;

export const validations: PolicyValidation[] = [
  {
    id: 'environment-governed',
    field: 'spec.environment',
    expression: 'variables.governed',
    messageExpression:
      "'spec.environment ' + variables.env + ' has no rules in IdentityPolicy ' + params.metadata.name + ': add spec.environments.' + variables.env + ' to it'",
    message: 'spec.environment has no rules in the IdentityPolicy',
  },
  withinMaximum('spec.ttl', 'ttl', 'maxTTL'),
  withinMaximum('spec.credentialTTL', 'credentialTTL', 'maxCredentialTTL'),
  {
    id: 'rotationInterval-within-maxRotationInterval',
    field: 'spec.secrets[].rotationInterval',
    expression:
      '!has(variables.rules.maxRotationInterval) || variables.secrets.all(s, has(s.rotationInterval) && duration(s.rotationInterval) <= duration(variables.rules.maxRotationInterval))',
    messageExpression:
      "variables.secrets.filter(s, !has(s.rotationInterval) || duration(s.rotationInterval) > duration(variables.rules.maxRotationInterval)).map(s, 'spec.secrets[' + s.name + '].rotationInterval ' + (has(s.rotationInterval) ? s.rotationInterval : '(unset)')).join(', ') + ' exceeds maxRotationInterval ' + variables.rules.maxRotationInterval + " +
      where,
    message:
      'spec.secrets[].rotationInterval exceeds the IdentityPolicy maxRotationInterval for its environment',
  },
  notForbidden(
    'aws-actions-allowed',
    'spec.scopes[].actions',
    'forbiddenActions',
    `variables.awsScopes.all(s, s.actions.all(a, !variables.forbiddenActions.exists(f, ${actionCollides('a', 'f')})))`,
    joined(
      `variables.awsScopes.map(s, s.actions.filter(a, variables.forbiddenActions.exists(f, ${actionCollides('a', 'f')})).join(', '))`,
    ),
  ),
  notForbidden(
    'kubernetes-verbs-allowed',
    'spec.scopes[].rules[].verbs',
    'forbiddenActions',
    'variables.kubernetesScopes.all(s, s.rules.all(r, r.verbs.all(v, !(v in variables.forbiddenActions))))',
    joined(
      `variables.kubernetesScopes.map(s, ${joined("s.rules.map(r, r.verbs.filter(v, v in variables.forbiddenActions).join(', '))")})`,
    ),
  ),
  notForbidden(
    'vault-capabilities-allowed',
    'spec.scopes[].paths[].capabilities',
    'forbiddenActions',
    'variables.vaultScopes.all(s, s.paths.all(p, p.capabilities.all(c, !(c in variables.forbiddenActions))))',
    joined(
      `variables.vaultScopes.map(s, ${joined("s.paths.map(p, p.capabilities.filter(c, c in variables.forbiddenActions).map(c, p.path + ' ' + c).join(', '))")})`,
    ),
  ),
  notForbidden(
    'aws-resources-allowed',
    'spec.scopes[].resources',
    'forbiddenResources',
    'variables.awsScopes.all(s, s.resources.all(r, !(r in variables.forbiddenResources)))',
    joined("variables.awsScopes.map(s, s.resources.filter(r, r in variables.forbiddenResources).join(', '))"),
  ),
  notForbidden(
    'kubernetes-resources-allowed',
    'spec.scopes[].rules[].resources',
    'forbiddenResources',
    'variables.kubernetesScopes.all(s, s.rules.all(r, r.resources.all(x, !(x in variables.forbiddenResources))))',
    joined(
      `variables.kubernetesScopes.map(s, ${joined("s.rules.map(r, r.resources.filter(x, x in variables.forbiddenResources).join(', '))")})`,
    ),
  ),
  notForbidden(
    'vault-paths-allowed',
    'spec.scopes[].paths[].path',
    'forbiddenResources',
    'variables.vaultScopes.all(s, s.paths.all(p, !(p.path in variables.forbiddenResources)))',
    joined(
      "variables.vaultScopes.map(s, s.paths.filter(p, p.path in variables.forbiddenResources).map(p, p.path).join(', '))",
    ),
  ),
  {
    id: 'scope-providers-allowed',
    field: 'spec.scopes[].provider',
    expression:
      '!has(variables.rules.allowedProviders) || variables.scopes.all(s, s.provider in variables.rules.allowedProviders)',
    messageExpression:
      "'spec.scopes[].provider ' + variables.scopes.filter(s, !(s.provider in variables.rules.allowedProviders)).map(s, s.provider).join(', ') + ' not allowed' + " +
      where +
      " + ': allowedProviders ' + variables.rules.allowedProviders.join(', ')",
    message: 'spec.scopes[].provider is not in the IdentityPolicy allowedProviders for its environment',
  },
  {
    id: 'secret-backends-allowed',
    field: 'spec.secrets[].backend',
    expression:
      "!has(variables.rules.allowedProviders) || variables.secrets.all(s, {'kubernetes': 'kubernetes', 'aws-secrets-manager': 'aws', 'vault-kv': 'vault'}[s.backend] in variables.rules.allowedProviders)",
    messageExpression:
      "'spec.secrets[].backend ' + variables.secrets.filter(s, !({'kubernetes': 'kubernetes', 'aws-secrets-manager': 'aws', 'vault-kv': 'vault'}[s.backend] in variables.rules.allowedProviders)).map(s, s.backend).join(', ') + ' not allowed' + " +
      where +
      " + ': allowedProviders ' + variables.rules.allowedProviders.join(', ')",
    message:
      'spec.secrets[].backend uses a provider not in the IdentityPolicy allowedProviders for its environment',
  },
  {
    id: 'namespace-allowed',
    field: 'metadata.namespace',
    expression:
      "!has(variables.rules.allowedNamespaces) || !has(object.metadata.namespace) || variables.rules.allowedNamespaces.exists(n, n == object.metadata.namespace || (n.endsWith('*') && object.metadata.namespace.startsWith(n.substring(0, n.size() - 1))))",
    messageExpression:
      "'metadata.namespace ' + object.metadata.namespace + ' not allowed' + " +
      where +
      " + ': allowedNamespaces ' + variables.rules.allowedNamespaces.join(', ')",
    message: 'metadata.namespace is not in the IdentityPolicy allowedNamespaces for its environment',
  },
];

export function validatingAdmissionPolicy(): Record<string, unknown> {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: ADMISSION_POLICY_NAME, labels: { 'app.kubernetes.io/part-of': 'nhi-operator' } },
    spec: {
      failurePolicy: 'Fail',
      paramKind: { apiVersion: API_VERSION, kind: 'IdentityPolicy' },
      matchConstraints: {
        resourceRules: [
          {
            apiGroups: [GROUP],
            apiVersions: [VERSION],
            operations: ['CREATE', 'UPDATE'],
            resources: ['agentidentities'],
          },
        ],
      },
      matchConditions,
      variables,
      validations: validations.map(({ expression, messageExpression, message }) => ({
        expression,
        messageExpression,
        message,
        reason: 'Invalid',
      })),
    },
  };
}

export function validatingAdmissionPolicyBinding(): Record<string, unknown> {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: ADMISSION_BINDING_NAME, labels: { 'app.kubernetes.io/part-of': 'nhi-operator' } },
    spec: {
      policyName: ADMISSION_POLICY_NAME,
      paramRef: { name: DEFAULT_IDENTITY_POLICY_NAME, parameterNotFoundAction: PARAMETER_NOT_FOUND_ACTION },
      validationActions: ['Deny'],
    },
  };
}
