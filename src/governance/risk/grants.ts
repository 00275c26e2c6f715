// What an identity's scopes allow, read for risk: which grants are wildcards, which let the identity
// create or widen identities (privilege escalation), and how far its grants reach. Pure functions
// over spec.scopes; every finding names the grant so a reviewer can see where it comes from.

import type { AwsScope, KubernetesScope, PolicyRule, Scope, VaultScope } from '../../api/v1alpha1/types.ts';

/** IAM actions that create identities, hand out roles or rewrite policies. */
export const IAM_ESCALATION_ACTIONS = [
  'iam:CreateRole',
  'iam:PassRole',
  'iam:AttachRolePolicy',
  'iam:PutRolePolicy',
  'iam:UpdateAssumeRolePolicy',
  'iam:CreateUser',
  'iam:CreateAccessKey',
  'iam:CreateLoginProfile',
  'iam:UpdateLoginProfile',
  'iam:AttachUserPolicy',
  'iam:PutUserPolicy',
  'iam:AddUserToGroup',
  'iam:AttachGroupPolicy',
  'iam:PutGroupPolicy',
  'iam:CreatePolicyVersion',
  'iam:SetDefaultPolicyVersion',
] as const;

/** Kubernetes verbs that grant privileges beyond the rule itself, on any resource. */
export const KUBERNETES_ESCALATION_VERBS = ['escalate', 'bind', 'impersonate'] as const;

/** Kubernetes resources whose create/update mints tokens, RBAC grants or pods running as any SA. */
export const KUBERNETES_IDENTITY_RESOURCES = [
  'serviceaccounts',
  'serviceaccounts/token',
  'roles',
  'rolebindings',
  'clusterroles',
  'clusterrolebindings',
  'pods',
  'pods/exec',
] as const;

const WRITE_VERBS = ['create', 'update', 'patch', '*'];
const READ_VERBS = ['get', 'list', 'watch', '*'];
const VAULT_WRITE = ['create', 'update', 'patch', 'sudo'];
/** Vault paths that manage policies, auth methods, tokens and entities. */
const VAULT_ESCALATION_PATHS = /^(sys\/(policy|policies|auth|mounts)|auth\/|identity\/)/;

export interface GrantAnalysis {
  providers: Set<string>;
  /** Number of individual grants: AWS action×resource statements, Vault paths, Kubernetes rules. */
  grantCount: number;
  wildcardActions: string[];
  wildcardResources: string[];
  wildcardVaultPaths: string[];
  wildcardKubernetesRules: string[];
  /** One line per grant that lets the identity create or widen identities. */
  escalation: string[];
  /** One line per database grant with a write privilege (INSERT, UPDATE, DELETE). */
  databaseWrites: string[];
}

/** `iam:Create*` -> a case-insensitive matcher; IAM action names are case-insensitive. */
function actionMatcher(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i');
}

/**
 * `*`, or an ARN whose account or whole resource part is a wildcard: `arn:aws:s3:::*`,
 * `...:secret:*`, `...:role/*`. `arn:aws:s3:::bucket/*` (one bucket) and `...:secret:crm/*` are scoped.
 */
export function isBroadAwsResource(resource: string): boolean {
  if (resource === '*') return true;
  const parts = resource.split(':');
  if (parts[0] !== 'arn' || parts.length < 6) return resource.startsWith('*');
  const service = parts[2] ?? '';
  const account = parts[4] ?? '';
  const rest = parts.slice(5).join(':');
  if (account === '*' || rest.startsWith('*')) return true;
  return service !== 's3' && /^[\w-]+[/:]\*$/.test(rest);
}

/** `*`, `+` segments, or a glob with fewer than three literal segments before it (`secret/data/*`). */
export function isBroadVaultPath(path: string): boolean {
  if (path.split('/').includes('+')) return true;
  const star = path.indexOf('*');
  if (star < 0) return false;
  const literal = path.slice(0, star).split('/').filter(Boolean);
  return literal.length < 3;
}

function describeRule(rule: PolicyRule): string {
  const groups = (rule.apiGroups ?? ['']).map((g) => g || 'core').join(',');
  const names = rule.resourceNames?.length ? ` names=${rule.resourceNames.join(',')}` : '';
  return `${rule.verbs.join(',')} on ${(rule.resources ?? []).join(',') || '-'} (${groups})${names}`;
}

function analyzeAws(scope: AwsScope, out: GrantAnalysis): void {
  out.grantCount += Math.max(1, scope.resources.length);
  const broad = scope.resources.filter(isBroadAwsResource);
  out.wildcardResources.push(...broad);
  for (const action of scope.actions) {
    if (action.includes('*') || action.includes('?')) out.wildcardActions.push(action);
    const matcher = actionMatcher(action);
    const hits = IAM_ESCALATION_ACTIONS.filter((a) => matcher.test(a));
    if (hits.length > 0) {
      const shown =
        hits.length > 3 ? `${hits.slice(0, 3).join(', ')} and ${hits.length - 3} more` : hits.join(', ');
      out.escalation.push(/[*?]/.test(action) ? `AWS ${action} allows ${shown}` : `AWS ${action}`);
    } else if (matcher.test('sts:AssumeRole') && broad.length > 0) {
      out.escalation.push(`AWS ${action} on ${broad.join(', ')} can assume any role`);
    }
  }
}

function analyzeVault(scope: VaultScope, out: GrantAnalysis): void {
  // Each database grant (schema × privileges) counts as one grant; writes are listed.
  for (const grant of scope.database?.grants ?? []) {
    out.grantCount += 1;
    const writes = grant.privileges.filter((p) => p !== 'SELECT');
    const on = grant.allTables
      ? `all tables in ${grant.schema}`
      : (grant.tables ?? []).map((t) => `${grant.schema}.${t}`).join(', ');
    if (writes.length > 0) out.databaseWrites.push(`${writes.join(',')} on ${on}`);
  }
  for (const grant of scope.paths ?? []) {
    out.grantCount += 1;
    if (isBroadVaultPath(grant.path)) out.wildcardVaultPaths.push(grant.path);
    const writes = grant.capabilities.filter((c) => VAULT_WRITE.includes(c));
    if (grant.capabilities.includes('sudo')) {
      out.escalation.push(`Vault sudo on ${grant.path}`);
    } else if (writes.length > 0 && (VAULT_ESCALATION_PATHS.test(grant.path) || grant.path === '*')) {
      out.escalation.push(`Vault ${writes.join(',')} on ${grant.path} can write policies, roles or tokens`);
    }
  }
}

function analyzeKubernetesRule(rule: PolicyRule, out: GrantAnalysis): void {
  out.grantCount += 1;
  const resources = rule.resources ?? [];
  const wildcard =
    rule.verbs.includes('*') || resources.includes('*') || (rule.apiGroups ?? []).includes('*');
  if (wildcard) out.wildcardKubernetesRules.push(describeRule(rule));
  const escalating = rule.verbs.filter((v) => (KUBERNETES_ESCALATION_VERBS as readonly string[]).includes(v));
  if (escalating.length > 0) {
    out.escalation.push(`Kubernetes ${escalating.join(',')} on ${resources.join(',') || '-'}`);
    return;
  }
  const writes = rule.verbs.some((v) => WRITE_VERBS.includes(v));
  const identityResources = resources.filter(
    (r) => r === '*' || (KUBERNETES_IDENTITY_RESOURCES as readonly string[]).includes(r),
  );
  if (writes && identityResources.length > 0) {
    out.escalation.push(
      `Kubernetes ${describeRule(rule)}: can mint tokens, grant RBAC or run pods as any SA`,
    );
  } else if (
    rule.verbs.some((v) => READ_VERBS.includes(v)) &&
    resources.some((r) => r === 'secrets' || r === '*')
  ) {
    if (!rule.resourceNames?.length) {
      out.escalation.push(
        `Kubernetes ${describeRule(rule)}: reads every Secret, including other credentials`,
      );
    }
  }
}

function analyzeKubernetes(scope: KubernetesScope, out: GrantAnalysis): void {
  for (const rule of scope.rules) analyzeKubernetesRule(rule, out);
}

export function analyzeGrants(scopes: readonly Scope[] | undefined): GrantAnalysis {
  const out: GrantAnalysis = {
    providers: new Set(),
    grantCount: 0,
    wildcardActions: [],
    wildcardResources: [],
    wildcardVaultPaths: [],
    wildcardKubernetesRules: [],
    escalation: [],
    databaseWrites: [],
  };
  for (const scope of scopes ?? []) {
    out.providers.add(scope.provider);
    if (scope.provider === 'aws') analyzeAws(scope, out);
    else if (scope.provider === 'vault') analyzeVault(scope, out);
    else analyzeKubernetes(scope, out);
  }
  return out;
}
