// The ValidatingAdmissionPolicy that enforces the IdentityPolicy named `default` on every
// AgentIdentity CREATE and spec UPDATE, in the apiserver, with no webhook server to run.
// generate.ts writes it to config/admission/; src/policies/admission.ts evaluates these same
// expressions offline for `nhictl lint` and for the operator's PolicyCompliant condition.
//
// Written for the Kubernetes CEL environment with `object`, `oldObject`, `params`, `request` and
// `variables` typed dyn. Only functions both the apiserver and the offline evaluator have are
// used: has, in, all, exists, filter, map, size, join, lowerAscii, startsWith, endsWith,
// substring, duration.

import { Marks } from './annotations.ts';
import {
  DEFAULT_ALLOWED_DATABASE_SCHEMAS,
  DEFAULT_ALLOWED_VAULT_PATHS,
  DEFAULT_ENVIRONMENT,
  FORBIDDEN_VAULT_CAPABILITIES,
  FORBIDDEN_VAULT_PATHS,
  type RestartableWorkloadKinds,
} from './defaults.ts';
import { globsMayOverlapCel } from './glob.ts';
import { GRANTS_SECRETS_MANAGER, REACHES_OTHER_MANAGED_SECRETS } from './managed-secrets.ts';
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
  /**
   * Asks the apiserver's `authorizer` about the requesting user. Only the apiserver can answer: the
   * offline evaluator (`nhictl lint`, the operator's re-check) skips these and says so.
   */
  requester?: boolean;
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

const cel = (values: readonly string[]) => `[${values.map((v) => `'${v}'`).join(', ')}]`;

/** The apps/v1 resource of each kind spec.secrets[].restartWorkload can roll. */
export const RESTART_RESOURCES: Record<(typeof RestartableWorkloadKinds)[number], string> = {
  Deployment: 'deployments',
  StatefulSet: 'statefulsets',
  DaemonSet: 'daemonsets',
};

/** `{namespace}` and `{name}` in a platform-written pattern stand for the identity's. */
const placeholders = (expr: string) =>
  `${expr}.replace('{namespace}', object.metadata.namespace).replace('{name}', object.metadata.name)`;

/** Joins the non-empty strings of a CEL list expression. */
const joined = (expr: string) => `${expr}.filter(x, x != '').join(', ')`;

/**
 * The most requester checks (authorizer calls) one AgentIdentity may need: one per apiGroup x
 * resource x verb x resourceName of its `kubernetes` rules. The apiserver limits the cost of each CEL
 * evaluation (1,000,000) and an authorizer call costs 350,000: when every check ran in one variable,
 * an identity asking for 3 combinations (`get, list, watch` on configmaps) was refused with "actual
 * cost limit exceeded" (found by test/integration/safety/fuzz.test.ts). Each check now runs in a
 * variable of its own (requesterCheck0..); beyond this many the identity is refused, naming the field.
 */
export const MAX_REQUESTER_CHECKS = 16;

/** `group|resource|verb|name` for every requester check the identity's kubernetes rules need. */
const REQUESTER_TUPLES = `variables.kubernetesScopes.map(s, s.rules.map(r, r.apiGroups.map(g, r.resources.map(x, r.verbs.map(v, has(r.resourceNames) && r.resourceNames.size() > 0 ? r.resourceNames.map(n, g + '|' + x + '|' + v + '|' + n).join(';') : g + '|' + x + '|' + v + '|').join(';')).join(';')).join(';')).join(';')).join(';').split(';').filter(t, t != '')`;

/** Check `i`: '' when the requester holds it (or there is no such check), else `verb group/resource`. */
const requesterCheck = (i: number): PolicyVariable => ({
  name: `requesterCheck${i}`,
  expression: `variables.requesterTuples.size() <= ${i} ? '' : [variables.requesterTuples[${i}].split('|')].map(t, authorizer.group(t[0]).resource(t[1].split('/')[0]).subresource(t[1].contains('/') ? t[1].split('/')[1] : '').namespace(object.metadata.namespace).name(t[3]).check(t[2]).allowed() ? '' : t[2] + ' ' + (t[0] == '' ? '' : t[0] + '/') + t[1])[0]`,
});

export const variables: PolicyVariable[] = [
  // The environment is the namespace's, set by the platform with a label; the requester cannot pick
  // the rulebook. A namespace without the label gets the IdentityPolicy's defaultEnvironment.
  {
    name: 'env',
    expression: `has(namespaceObject.metadata.labels) && '${Marks.environment}' in namespaceObject.metadata.labels ? namespaceObject.metadata.labels['${Marks.environment}'] : has(params.spec.defaultEnvironment) ? params.spec.defaultEnvironment : '${DEFAULT_ENVIRONMENT}'`,
  },
  { name: 'governed', expression: 'variables.env in params.spec.environments' },
  { name: 'rules', expression: 'variables.governed ? params.spec.environments[variables.env] : {}' },
  { name: 'scopes', expression: 'has(object.spec.scopes) ? object.spec.scopes : []' },
  { name: 'secrets', expression: 'has(object.spec.secrets) ? object.spec.secrets : []' },
  { name: 'awsScopes', expression: "variables.scopes.filter(s, s.provider == 'aws')" },
  { name: 'vaultScopes', expression: "variables.scopes.filter(s, s.provider == 'vault' && has(s.paths))" },
  {
    name: 'databaseScopes',
    expression: "variables.scopes.filter(s, s.provider == 'vault' && has(s.database))",
  },
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
  { name: 'requesterTuples', expression: REQUESTER_TUPLES },
  { name: 'requesterChecks', expression: 'variables.requesterTuples.size()' },
  ...Array.from({ length: MAX_REQUESTER_CHECKS }, (_, i) => requesterCheck(i)),
  {
    // `verb group/resource` for every grant the requesting user does not hold themselves. Only the
    // apiserver can evaluate it (authorizer); messageExpression may not call the authorizer itself.
    // Past MAX_REQUESTER_CHECKS nothing is asked (the identity is refused by requester-checks-bounded).
    name: 'unheldGrants',
    expression: `variables.requesterChecks > ${MAX_REQUESTER_CHECKS} ? [] : [${Array.from(
      { length: MAX_REQUESTER_CHECKS },
      (_, i) => `variables.requesterCheck${i}`,
    ).join(', ')}].filter(x, x != '')`,
  },
  {
    name: 'privileged',
    expression: 'has(variables.rules.allowedPrivilegedGrants) ? variables.rules.allowedPrivilegedGrants : []',
  },
  {
    name: 'vaultAllowed',
    expression: `(has(variables.rules.allowedVaultPaths) ? variables.rules.allowedVaultPaths : ${cel(DEFAULT_ALLOWED_VAULT_PATHS)}).map(a, ${placeholders('a')})`,
  },
  {
    // `{namespace}` in a schema pattern is the namespace with - written _ (databaseSchemaOfNamespace).
    name: 'databaseAllowed',
    expression: `(has(variables.rules.allowedDatabaseSchemas) ? variables.rules.allowedDatabaseSchemas : ${cel(DEFAULT_ALLOWED_DATABASE_SCHEMAS)}).map(a, a.replace('{namespace}', object.metadata.namespace.replace('-', '_')))`,
  },
  {
    name: 'awsAllowed',
    expression: `has(variables.rules.allowedAwsResources) ? variables.rules.allowedAwsResources.map(a, ${placeholders('a')}) : []`,
  },
  {
    name: 'wildcardResourcesAllowed',
    expression: `has(variables.rules.allowWildcardAwsResources) ? variables.rules.allowWildcardAwsResources : variables.env != 'production'`,
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
 * Whether AWS action `a` (as written) collides with forbidden pattern `f` (lowercased), in CEL: some
 * action is matched by both, globs (`*`, `?`) read on both sides (`sts:AssumeRol?` and `sts:*Role`
 * reach `sts:AssumeRole`; `iam:*` forbids every IAM action). The bare `*` and `*:*` patterns forbid only
 * the wildcard itself: they cannot mean "every action".
 */
function actionCollides(a: string, f: string): string {
  return `(${f} == '*' || ${f} == '*:*' ? ${a}.lowerAscii() in ['*', '*:*'] : ${globsMayOverlapCel(`${a}.lowerAscii()`, f)})`;
}

/** Same rule for resources: a forbidden `*` forbids only the wildcard itself; other patterns by overlap. */
function resourceCollides(r: string, f: string): string {
  return `(${f} == '*' ? ${r} == '*' : ${globsMayOverlapCel(r, f)})`;
}

/** Vault's own wildcards (`+` a segment, `*` a suffix) read as globs, widening only. */
const vaultGlob = (path: string) => `${path}.replace('+', '*')`;

/** The resource part of an ARN (after the fifth colon) is only wildcards, after an optional type. */
const WILDCARD_ONLY_ARN = '^arn:[^:]*:[^:]*:[^:]*:[^:]*:([A-Za-z0-9-]+[:/])?[*?/:]*[*?][*?/:]*$';

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

/** A verb is forbidden as listed; `*` covers every forbidden Kubernetes verb (one without a colon). */
const VERB_FORBIDDEN =
  "(v in variables.forbiddenActions || (v == '*' && variables.forbiddenActions.exists(f, !f.contains(':') && f != '*')))";

/**
 * A privileged Kubernetes grant (see PrivilegedGrants in defaults.ts): refused in every environment
 * unless the environment's allowedPrivilegedGrants lists it.
 */
function privileged(grant: string, ruleMatches: string, why: string): PolicyValidation {
  const hit = `r.apiGroups.exists(g, ${ruleMatches})`;
  return {
    id: `privileged-${grant.replace(/[./]/g, '-')}`,
    field: 'spec.scopes[].rules[].apiGroups',
    expression: `'${grant}' in variables.privileged || variables.kubernetesScopes.all(s, s.rules.all(r, !${hit}))`,
    messageExpression: `'spec.scopes[].rules[].apiGroups reach ${grant}: ${why}; refused' + ${where} + ' unless allowedPrivilegedGrants lists ${grant}'`,
    message: `spec.scopes[].rules[].apiGroups reach ${grant}, refused unless allowedPrivilegedGrants lists it`,
  };
}

/** Inside an allowed Vault path: exactly one, or under a prefix ending in *. */
const VAULT_WITHIN_REACH =
  "variables.vaultAllowed.exists(a, a.endsWith('*') ? p.path.startsWith(a.substring(0, a.size() - 1)) : p.path == a)";
/** Inside an allowed schema: exactly one, or under a prefix ending in *. */
const DATABASE_WITHIN_REACH =
  "variables.databaseAllowed.exists(a, a.endsWith('*') ? g.schema.startsWith(a.substring(0, a.size() - 1)) : g.schema == a)";
const VAULT_SYSTEM = `${cel(FORBIDDEN_VAULT_PATHS)}.exists(f, ${globsMayOverlapCel(vaultGlob('p.path'), 'f')})`;
const WILDCARD_RESOURCE = `(r == '*' || r.matches('${WILDCARD_ONLY_ARN}'))`;
/** The managed-secrets guard of src/policies/aws-managed-secrets.ts, bound to each scope's actions. */
const GRANTS_SM = `[s.actions].exists(actions, ${GRANTS_SECRETS_MANAGER})`;
const OWN = "['nhi/' + object.metadata.namespace + '/' + object.metadata.name + '/']";
const AWS_WITHIN_REACH =
  "variables.awsAllowed.exists(a, a.endsWith('*') ? r.startsWith(a.substring(0, a.size() - 1)) : r == a)";

export const validations: PolicyValidation[] = [
  {
    id: 'environment-governed',
    field: 'spec.environment',
    expression: 'variables.governed',
    messageExpression:
      "'spec.environment ' + variables.env + ' has no rules in IdentityPolicy ' + params.metadata.name + ': add spec.environments.' + variables.env + ' to it'",
    message: 'spec.environment has no rules in the IdentityPolicy',
  },
  {
    id: 'environment-of-namespace',
    field: 'spec.environment',
    expression: 'object.spec.environment == variables.env',
    messageExpression: `'spec.environment ' + object.spec.environment + ' differs from the environment of namespace ' + object.metadata.namespace + ', ' + variables.env + (has(namespaceObject.metadata.labels) && '${Marks.environment}' in namespaceObject.metadata.labels ? ' (label ${Marks.environment})' : ' (no label ${Marks.environment}: IdentityPolicy ' + params.metadata.name + ' defaultEnvironment)') + ': the platform sets the environment of a namespace'`,
    message: `spec.environment differs from the environment of its namespace (label ${Marks.environment})`,
  },
  {
    id: 'namespace-not-privileged',
    field: 'metadata.namespace',
    expression:
      "'system-namespaces' in variables.privileged || !(object.metadata.namespace.startsWith('kube-') || (has(params.spec.operatorNamespace) && object.metadata.namespace == params.spec.operatorNamespace))",
    messageExpression:
      "'metadata.namespace ' + object.metadata.namespace + ' is a system namespace (kube-* or the operator namespace): no AgentIdentity there unless allowedPrivilegedGrants lists system-namespaces' + " +
      where,
    message: 'metadata.namespace is a system namespace (kube-* or the operator namespace)',
  },
  privileged(
    'nhi.dev',
    "g == 'nhi.dev' || g == '*'",
    'the API of the operator itself (a workload could unlock itself or rewrite its grants)',
  ),
  privileged(
    'rbac.authorization.k8s.io',
    "g == 'rbac.authorization.k8s.io' || g == '*'",
    'roles and bindings (bind and escalate around RBAC)',
  ),
  privileged(
    'serviceaccounts/token',
    "(g == '' || g == '*') && r.resources.exists(x, x in ['*', 'serviceaccounts/*', 'serviceaccounts/token', '*/token'])",
    'minting tokens for other ServiceAccounts',
  ),
  {
    id: 'requester-holds-kubernetes-grants',
    requester: true,
    field: 'spec.scopes[].rules',
    expression: 'variables.unheldGrants.size() == 0',
    messageExpression:
      "'spec.scopes[].rules grant what the requester ' + request.userInfo.username + ' may not do in namespace ' + object.metadata.namespace + ': ' + variables.unheldGrants.join(', ') + ' (the operator grants nothing its requester could not grant: RBAC escalation prevention)'",
    message: 'spec.scopes[].rules grant what the requester may not do in the namespace',
  },
  {
    id: 'requester-checks-bounded',
    field: 'spec.scopes[].rules',
    expression: `variables.requesterChecks <= ${MAX_REQUESTER_CHECKS}`,
    messageExpression: `'spec.scopes[].rules need ' + string(variables.requesterChecks) + ' requester checks (apiGroups x resources x verbs x resourceNames, over all rules); at most ${MAX_REQUESTER_CHECKS} fit the apiserver CEL cost budget: grant fewer combinations, or split the identity'`,
    message: `spec.scopes[].rules need more than ${MAX_REQUESTER_CHECKS} requester checks (apiGroups x resources x verbs x resourceNames)`,
  },
  {
    // restartWorkload rolls spec.workloadRef: only for a requester who may patch that workload.
    id: 'requester-may-restart-workload',
    requester: true,
    field: 'spec.secrets[].restartWorkload',
    expression: `!has(object.spec.secrets) || !object.spec.secrets.exists(s, has(s.restartWorkload) && s.restartWorkload) || !has(object.spec.workloadRef) || !(object.spec.workloadRef.kind in ${cel(Object.keys(RESTART_RESOURCES))}) || authorizer.group('apps').resource({${Object.entries(
      RESTART_RESOURCES,
    )
      .map(([k, v]) => `'${k}': '${v}'`)
      .join(
        ', ',
      )}}[object.spec.workloadRef.kind]).namespace(object.metadata.namespace).name(object.spec.workloadRef.name).check('patch').allowed()`,
    messageExpression:
      "'spec.secrets[].restartWorkload rolls ' + object.spec.workloadRef.kind + ' ' + object.spec.workloadRef.name + ', which the requester ' + request.userInfo.username + ' may not patch in namespace ' + object.metadata.namespace",
    message: 'spec.secrets[].restartWorkload rolls a workload the requester may not patch',
  },
  {
    // Observe mode reports on a ServiceAccount: only for a requester who may read it.
    id: 'requester-may-read-observed-serviceaccount',
    requester: true,
    field: 'spec.observe.serviceAccountName',
    expression:
      "!has(object.spec.observe) || authorizer.group('').resource('serviceaccounts').namespace(object.metadata.namespace).name(object.spec.observe.serviceAccountName).check('get').allowed()",
    messageExpression:
      "'spec.observe.serviceAccountName ' + object.spec.observe.serviceAccountName + ' is a ServiceAccount the requester ' + request.userInfo.username + ' may not read in namespace ' + object.metadata.namespace + ' (an observe-only identity reports nothing its requester could not see)'",
    message: 'spec.observe.serviceAccountName names a ServiceAccount the requester may not read',
  },
  {
    id: 'vault-paths-within-reach',
    field: 'spec.scopes[].paths[].path',
    expression: `variables.vaultScopes.all(s, s.paths.all(p, ${VAULT_WITHIN_REACH}))`,
    messageExpression: `'spec.scopes[].paths[].path ' + ${joined(`variables.vaultScopes.map(s, s.paths.filter(p, !${VAULT_WITHIN_REACH}).map(p, p.path).join(', '))`)} + ' outside allowedVaultPaths ' + variables.vaultAllowed.join(', ') + ${where}`,
    message: 'spec.scopes[].paths[].path is outside the IdentityPolicy allowedVaultPaths for its environment',
  },
  {
    id: 'database-schemas-within-reach',
    field: 'spec.scopes[].database.grants[].schema',
    expression: `variables.databaseScopes.all(s, s.database.grants.all(g, ${DATABASE_WITHIN_REACH}))`,
    messageExpression: `'spec.scopes[].database.grants[].schema ' + ${joined(`variables.databaseScopes.map(s, s.database.grants.filter(g, !${DATABASE_WITHIN_REACH}).map(g, g.schema).join(', '))`)} + ' outside allowedDatabaseSchemas ' + variables.databaseAllowed.join(', ') + ${where} + ': a schema of another tenant'`,
    message:
      'spec.scopes[].database.grants[].schema is outside the IdentityPolicy allowedDatabaseSchemas for its environment',
  },
  {
    id: 'vault-system-paths-refused',
    field: 'spec.scopes[].paths[].path',
    expression: `variables.vaultScopes.all(s, s.paths.all(p, !${VAULT_SYSTEM}))`,
    messageExpression: `'spec.scopes[].paths[].path ' + ${joined(`variables.vaultScopes.map(s, s.paths.filter(p, ${VAULT_SYSTEM}).map(p, p.path).join(', '))`)} + ' reaches Vault configuration (${FORBIDDEN_VAULT_PATHS.join(', ')}): refused in every environment'`,
    message: `spec.scopes[].paths[].path reaches Vault configuration (${FORBIDDEN_VAULT_PATHS.join(', ')})`,
  },
  {
    id: 'vault-sudo-refused',
    field: 'spec.scopes[].paths[].capabilities',
    expression: `variables.vaultScopes.all(s, s.paths.all(p, !p.capabilities.exists(c, c in ${cel(FORBIDDEN_VAULT_CAPABILITIES)})))`,
    messageExpression: `'spec.scopes[].paths[].capabilities ${FORBIDDEN_VAULT_CAPABILITIES.join(', ')} refused in every environment'`,
    message: `spec.scopes[].paths[].capabilities ${FORBIDDEN_VAULT_CAPABILITIES.join(', ')} is refused in every environment`,
  },
  {
    id: 'aws-resources-not-wildcard',
    field: 'spec.scopes[].resources',
    expression: `variables.wildcardResourcesAllowed || variables.awsScopes.all(s, s.resources.all(r, !${WILDCARD_RESOURCE}))`,
    messageExpression: `'spec.scopes[].resources ' + ${joined(`variables.awsScopes.map(s, s.resources.filter(r, ${WILDCARD_RESOURCE}).join(', '))`)} + ' name every resource of a kind' + ${where} + ': name the resources (or set allowWildcardAwsResources)'`,
    message: 'spec.scopes[].resources names every resource of a kind, refused for its environment',
  },
  {
    // IAM expands ${aws:PrincipalTag/...} and friends at evaluation: a resource written with one
    // matches what the tenant-chosen tag says, past every pattern rule here.
    id: 'aws-resources-no-policy-variables',
    field: 'spec.scopes[].resources',
    expression: "variables.awsScopes.all(s, s.resources.all(r, !r.contains('${')))",
    messageExpression:
      `'spec.scopes[].resources ' + ${joined("variables.awsScopes.map(s, s.resources.filter(r, r.contains('${')).join(', '))")}` +
      " + ' use an IAM policy variable: name the resources literally'",
    message: 'spec.scopes[].resources use an IAM policy variable: name the resources literally',
  },
  {
    id: 'aws-managed-secrets-own-path',
    field: 'spec.scopes[].resources',
    expression: `variables.awsScopes.all(s, !${GRANTS_SM} || s.resources.all(resource, ${OWN}.all(own, !(${REACHES_OTHER_MANAGED_SECRETS}))))`,
    messageExpression: `'spec.scopes[].resources ' + ${joined(`variables.awsScopes.map(s, !${GRANTS_SM} ? '' : s.resources.filter(resource, ${OWN}.exists(own, ${REACHES_OTHER_MANAGED_SECRETS})).join(', '))`)} + ' reach Secrets Manager secrets the operator manages for other identities (nhi/...): grant only nhi/' + object.metadata.namespace + '/' + object.metadata.name + '/* or names outside nhi/'`,
    message:
      'spec.scopes[].resources reach Secrets Manager secrets the operator manages for other identities',
  },
  {
    id: 'aws-resources-within-reach',
    field: 'spec.scopes[].resources',
    expression: `!has(variables.rules.allowedAwsResources) || variables.awsScopes.all(s, s.resources.all(r, ${AWS_WITHIN_REACH}))`,
    messageExpression: `'spec.scopes[].resources ' + ${joined(`variables.awsScopes.map(s, s.resources.filter(r, !${AWS_WITHIN_REACH}).join(', '))`)} + ' outside allowedAwsResources ' + variables.awsAllowed.join(', ') + ${where}`,
    message: 'spec.scopes[].resources is outside the IdentityPolicy allowedAwsResources for its environment',
  },
  {
    id: 'sponsor-required',
    field: 'spec.sponsor',
    expression:
      '!has(variables.rules.requireSponsor) || !variables.rules.requireSponsor || (has(object.spec.sponsor) && has(object.spec.sponsor.name))',
    messageExpression:
      "'spec.sponsor is required' + " +
      where +
      " + ': name the accountable person or team (spec.sponsor.name), who attests that the identity is still needed'",
    message: 'spec.sponsor is required by the IdentityPolicy for its environment',
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
    `variables.kubernetesScopes.all(s, s.rules.all(r, r.verbs.all(v, !${VERB_FORBIDDEN})))`,
    joined(
      `variables.kubernetesScopes.map(s, ${joined(`s.rules.map(r, r.verbs.filter(v, ${VERB_FORBIDDEN}).join(', '))`)})`,
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
    `variables.awsScopes.all(s, s.resources.all(r, !variables.forbiddenResources.exists(f, ${resourceCollides('r', 'f')})))`,
    joined(
      `variables.awsScopes.map(s, s.resources.filter(r, variables.forbiddenResources.exists(f, ${resourceCollides('r', 'f')})).join(', '))`,
    ),
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
    `variables.vaultScopes.all(s, s.paths.all(p, !variables.forbiddenResources.exists(f, ${resourceCollides(vaultGlob('p.path'), 'f')})))`,
    joined(
      `variables.vaultScopes.map(s, s.paths.filter(p, variables.forbiddenResources.exists(f, ${resourceCollides(vaultGlob('p.path'), 'f')})).map(p, p.path).join(', '))`,
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

/** The labels of every admission object the project ships. */
export const PART_OF = { 'app.kubernetes.io/part-of': 'nhi-operator' } as const;

/** What the project's admission policies judge: every AgentIdentity CREATE and UPDATE. */
export const AGENT_IDENTITY_WRITES = {
  resourceRules: [
    {
      apiGroups: [GROUP],
      apiVersions: [VERSION],
      operations: ['CREATE', 'UPDATE'],
      resources: ['agentidentities'],
    },
  ],
};

export function validatingAdmissionPolicy(): Record<string, unknown> {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: ADMISSION_POLICY_NAME, labels: PART_OF },
    spec: {
      failurePolicy: 'Fail',
      paramKind: { apiVersion: API_VERSION, kind: 'IdentityPolicy' },
      matchConstraints: AGENT_IDENTITY_WRITES,
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
    metadata: { name: ADMISSION_BINDING_NAME, labels: PART_OF },
    spec: {
      policyName: ADMISSION_POLICY_NAME,
      paramRef: { name: DEFAULT_IDENTITY_POLICY_NAME, parameterNotFoundAction: PARAMETER_NOT_FOUND_ACTION },
      validationActions: ['Deny'],
    },
  };
}
