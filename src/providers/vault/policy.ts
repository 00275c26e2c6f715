// The identity's ACL policy: rendered from its `vault` scopes as stable HCL text (same input, same
// bytes, so a text comparison is a drift check), with an ownership header. Policies carry no
// metadata in Vault or OpenBao, so the header comment *is* the ownership mark:
//
//   # managed-by nhi-operator identity-uid <uid>
//   # identity <namespace>/<name>
//   # state active | quarantined
//
// Also the pure scope check (`vaultScopeViolations`) the controller can call before provisioning.
// Paths are validated against a strict character set before rendering, so no scope can inject HCL.

import { DATABASE_ENGINE_OPERATIONS, FORBIDDEN_VAULT_CAPABILITIES } from '../../api/v1alpha1/defaults.ts';
import type { Environment, VaultScope } from '../../api/v1alpha1/types.ts';
import { InvalidScopeError } from './errors.ts';
import type { IdentityNames } from './names.ts';

export const CAPABILITIES = ['create', 'read', 'update', 'patch', 'delete', 'list', 'scan', 'sudo', 'deny'];
const KV_OPERATIONS = ['data', 'metadata', 'delete', 'undelete', 'destroy', 'subkeys'];
const PATH_SYNTAX = /^[A-Za-z0-9_.@:=+-]+(\/[A-Za-z0-9_.@:=+-]+)*\/?\*?$|^\*$/;
const HEADER = /^# managed-by nhi-operator identity-uid ([A-Za-z0-9-]+)\n# identity (\S+)\n# state (\w+)\n/;

export type PolicyState = 'active' | 'quarantined';

export interface PolicyHeader {
  uid: string;
  identity: string;
  state: PolicyState;
}

export interface Grant {
  path: string;
  capabilities: string[];
}

function header(names: IdentityNames, state: PolicyState): string {
  return (
    `# managed-by nhi-operator identity-uid ${names.uid}\n` +
    `# identity ${names.namespace}/${names.name}\n` +
    `# state ${state}\n`
  );
}

export function parsePolicyHeader(hcl: string): PolicyHeader | undefined {
  const match = HEADER.exec(hcl);
  if (!match) return undefined;
  const state = match[3] === 'quarantined' ? 'quarantined' : 'active';
  return { uid: match[1]!, identity: match[2]!, state };
}

function pathSyntaxProblem(path: string): string | undefined {
  if (path.length === 0 || path.length > 512) return 'must be 1 to 512 characters';
  if (!PATH_SYNTAX.test(path)) {
    return 'may use only letters, digits and _ . @ : = + - separated by single /, with * only at the end';
  }
  if (path.split('/').some((segment) => segment === '..' || segment === '.'))
    return 'may not contain . or ..';
  const segments = path.replace(/\*$/, '').split('/');
  if (segments.some((segment) => segment.includes('+') && segment !== '+'))
    return '+ must be a whole path segment';
  return undefined;
}

/** True when some concrete path starting with the segments of `prefix` matches the glob `pattern`. */
export function canReach(pattern: string, prefix: string[]): boolean {
  const glob = pattern.endsWith('*');
  const segments = (glob ? pattern.slice(0, -1) : pattern).split('/');
  for (let i = 0; i < prefix.length; i++) {
    if (i >= segments.length) return false;
    const segment = segments[i]!;
    const last = i === segments.length - 1;
    if (last && glob) return segment === '+' || prefix[i]!.startsWith(segment);
    if (segment !== '+' && segment !== prefix[i]) return false;
    if (last) return i === prefix.length - 1;
  }
  return true;
}

/** Whether the pattern reaches some `<mount>/creds/nhi-…` path: the logins of the operator's roles. */
function reachesManagedCreds(pattern: string, mount: string): boolean {
  const base = [...mount.split('/'), 'creds'];
  if (!canReach(pattern, base)) return false;
  const glob = pattern.endsWith('*');
  const segments = (glob ? pattern.slice(0, -1) : pattern).split('/');
  const role = segments[base.length];
  if (role === undefined) return glob || segments.length > base.length;
  if (role === '+') return true;
  const last = segments.length === base.length + 1;
  if (glob && last) return 'nhi-'.startsWith(role) || role.startsWith('nhi-');
  return role.startsWith('nhi-');
}

/** Whether the Vault path pattern (`+` one segment, a trailing `*` any suffix) matches `path` itself. */
function matchesPath(pattern: string, path: string): boolean {
  const glob = pattern.endsWith('*');
  const body = (glob ? pattern.slice(0, -1) : pattern)
    .split('/')
    .map((segment) => (segment === '+' ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${body}${glob ? '.*' : ''}$`).test(path);
}

function wildcardOnly(path: string): boolean {
  return path
    .replace(/\*$/, '')
    .split('/')
    .every((segment) => segment === '' || segment === '+');
}

export interface ScopeCheckContext {
  environment: Environment;
  /** The KV v2 mount whose nhi/ folder the operator manages (identities get their own path there). */
  kvMount: string;
  /** <mount>/creds/<role> of the identity's database role, when it has one: granted read. */
  databaseCredsPath?: string;
  /** The provider's database secrets engine mount: its config, roles and nhi- logins are refused. */
  databaseMount?: string;
}

/** Vault's own configuration, auth methods and identity store: refused in every environment. */
const SYSTEM_ROOTS = ['sys', 'auth', 'identity'];

/**
 * Why these scopes may not be granted, one sentence each; empty when they may: the provider's own
 * check when it renders the policy, behind admission and the operator's re-check. Every environment:
 * valid syntax and capabilities, no reach into the operator's KV folder (`<kv>/…/nhi/`), which would
 * expose other identities' secrets, nor into `sys/`, `auth/`, `identity/` or the KV mount's
 * configuration, and none of the forbidden capabilities (defaults.ts). Production also: no
 * wildcard-only path.
 */
export function vaultScopeViolations(scopes: VaultScope[], context: ScopeCheckContext): string[] {
  const violations: string[] = [];
  const production = context.environment === 'production';
  for (const scope of scopes) {
    for (const grant of scope.paths ?? []) {
      const where = `vault path "${grant.path.slice(0, 80)}"`;
      const syntax = pathSyntaxProblem(grant.path);
      if (syntax) {
        violations.push(`${where}: ${syntax}`);
        continue;
      }
      if (grant.capabilities.length === 0) violations.push(`${where}: lists no capabilities`);
      for (const capability of grant.capabilities) {
        if (!CAPABILITIES.includes(capability)) {
          violations.push(`${where}: unknown capability "${capability.slice(0, 20)}"`);
        }
      }
      if (KV_OPERATIONS.some((op) => canReach(grant.path, [context.kvMount, op, 'nhi']))) {
        violations.push(
          `${where}: reaches ${context.kvMount}/*/nhi/, where the operator keeps every identity's secrets`,
        );
      }
      for (const root of SYSTEM_ROOTS) {
        if (canReach(grant.path, [root]))
          violations.push(`${where}: ${root}/ is refused in every environment`);
      }
      const db = context.databaseMount;
      if (db && DATABASE_ENGINE_OPERATIONS.some((op) => canReach(grant.path, [...db.split('/'), op]))) {
        violations.push(`${where}: ${db}/ configuration and roles are the platform's and the operator's`);
      }
      if (db && reachesManagedCreds(grant.path, db)) {
        violations.push(`${where}: reaches ${db}/creds/nhi-*, every identity's database logins`);
      }
      if (matchesPath(grant.path, `${context.kvMount}/config`)) {
        violations.push(`${where}: ${context.kvMount}/config configures the KV mount for every identity`);
      }
      for (const capability of grant.capabilities.filter((c) => FORBIDDEN_VAULT_CAPABILITIES.includes(c))) {
        violations.push(`${where}: ${capability} is refused in every environment`);
      }
      if (production && wildcardOnly(grant.path))
        violations.push(`${where}: a wildcard-only path is refused in production`);
    }
  }
  return violations;
}

/** The grants of the identity: its scopes merged by path, plus read access to its own KV folder. */
export function desiredGrants(
  names: IdentityNames,
  scopes: VaultScope[],
  kvMount: string,
  databaseCredsPath?: string,
): Grant[] {
  const byPath = new Map<string, Set<string>>();
  const add = (path: string, capabilities: string[]) => {
    const set = byPath.get(path) ?? new Set<string>();
    for (const capability of capabilities) set.add(capability);
    byPath.set(path, set);
  };
  for (const scope of scopes) for (const grant of scope.paths ?? []) add(grant.path, grant.capabilities);
  add(`${kvMount}/data/${names.kvFolder}/*`, ['read']);
  add(`${kvMount}/metadata/${names.kvFolder}/*`, ['read', 'list']);
  if (databaseCredsPath) add(databaseCredsPath, ['read']);
  return [...byPath.entries()]
    .map(([path, set]) => ({ path, capabilities: CAPABILITIES.filter((c) => set.has(c)) }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function renderGrants(grants: Grant[]): string {
  return grants
    .map(
      (g) => `path "${g.path}" {\n  capabilities = [${g.capabilities.map((c) => `"${c}"`).join(', ')}]\n}\n`,
    )
    .join('\n');
}

/** The active policy text. Throws InvalidScopeError when a scope fails the syntax checks. */
export function renderPolicy(names: IdentityNames, scopes: VaultScope[], context: ScopeCheckContext): string {
  const violations = vaultScopeViolations(scopes, context);
  if (violations.length > 0) throw new InvalidScopeError(violations.join('; '));
  return `${header(names, 'active')}\n${renderGrants(desiredGrants(names, scopes, context.kvMount, context.databaseCredsPath))}`;
}

/**
 * The quarantine policy: an explicit deny on everything. Tokens resolve their policies by name on
 * every request, so rewriting the policy disarms every token already issued at once.
 */
export function renderQuarantinePolicy(names: IdentityNames): string {
  return `${header(names, 'quarantined')}\n${renderGrants([{ path: '*', capabilities: ['deny'] }])}`;
}
