// The identity's role in OpenBao's database secrets engine (PostgreSQL): rendered from its `database`
// scopes into creation, revocation and rollback statements by the operator (a tenant writes grants,
// never SQL), compared with the live role field by field, and converged.
//
//   <mount>/roles/<base>    db_name = the provider's connection, default_ttl = credentialTTL,
//                           max_ttl = the provider's database.maxTTL
//   <mount>/creds/<base>    the identity's Vault policy may read this path and no other of the mount
//
// Every identifier is checked against DATABASE_IDENTIFIER_PATTERN and double-quoted; the only other
// text in the SQL is the operator's own (uid, namespace and name, all validated by identityNames).
//
// Ownership: a role carries no metadata, so its creation statements carry the mark, as SQL:
// `COMMENT ON ROLE "{{name}}" IS 'managed-by nhi-operator identity-uid <uid> identity <ns>/<name>'`,
// which also labels every PostgreSQL user made from it (inventory can count them in pg_roles).
//
// Quarantine swaps the creation statements for one that raises an error (no lease can be made, not
// even by a root token) and revokes every lease of the role: the revocation statements terminate the
// user's sessions, drop what was granted to it and drop the user. Lease ids stay in memory: only
// their number is returned.

import {
  DATABASE_IDENTIFIER_PATTERN,
  DEFAULT_DATABASE_CONNECTION_LIMIT,
  DEFAULT_DATABASE_MAX_LEASES,
  DEFAULT_DATABASE_MAX_TTL,
  databaseSchemaOfNamespace,
  FORBIDDEN_DATABASE_SCHEMAS,
  MAX_DATABASE_CONNECTION_LIMIT,
  MAX_DATABASE_MAX_LEASES,
} from '../../api/v1alpha1/defaults.ts';
import { parseDuration } from '../../api/v1alpha1/duration.ts';
import {
  type DatabaseAccess,
  type DatabaseGrant,
  DatabasePrivileges,
  type VaultScope,
} from '../../api/v1alpha1/types.ts';
import { InvalidConfigError } from '../types.ts';
import { InvalidScopeError } from './errors.ts';
import type { IdentityNames } from './names.ts';
import type { DatabaseRole } from './port.ts';
import type { FieldDifference } from './role.ts';

const IDENTIFIER = new RegExp(DATABASE_IDENTIFIER_PATTERN);
const MARK = /^COMMENT ON ROLE "\{\{name\}\}" IS 'managed-by nhi-operator identity-uid ([A-Za-z0-9-]+) /;
const QUARANTINED = 'nhi-operator: quarantined';
const LEASE_CAP = 'nhi-operator: lease cap reached';

/** The engine settings a provider's `vault.database` section names. */
export interface DatabaseSettings {
  mount: string;
  connection: string;
  maxTtlSeconds: number;
  /** Last use from pg_stat_activity (database.activity): the monitoring role and where to connect. */
  activity?: { role: string; url: string; caBundle?: string };
}

/** The monitoring part of the settings; InvalidConfigError naming the field. */
function activitySettings(spec: { role: string; url: string; caBundle?: string }) {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(spec.role ?? '') || spec.role.startsWith('nhi-')) {
    throw new InvalidConfigError('vault.database.activity.role is not a monitoring role name (nor nhi-*)');
  }
  let url: URL;
  try {
    url = new URL(spec.url);
  } catch {
    throw new InvalidConfigError('vault.database.activity.url is not a URL');
  }
  if (!/^postgres(ql)?:$/.test(url.protocol) || url.username || url.password) {
    throw new InvalidConfigError('vault.database.activity.url: a postgresql:// URL without credentials');
  }
  return { role: spec.role, url: spec.url, ...(spec.caBundle ? { caBundle: spec.caBundle } : {}) };
}

export function databaseSettings(spec: {
  mount?: string;
  connection: string;
  maxTTL?: string;
  activity?: { role: string; url: string; caBundle?: string };
}): DatabaseSettings {
  const mount = (spec.mount ?? 'database').replace(/^\/+|\/+$/g, '');
  if (
    !/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(mount) ||
    mount.split('/').some((segment) => segment === '.' || segment === '..')
  ) {
    throw new InvalidConfigError(`vault.database.mount: "${mount.slice(0, 60)}" is not a mount path`);
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(spec.connection ?? '')) {
    throw new InvalidConfigError('vault.database.connection is not a connection name');
  }
  const maxMs = parseDuration(spec.maxTTL ?? DEFAULT_DATABASE_MAX_TTL);
  if (maxMs === undefined || maxMs <= 0) {
    throw new InvalidConfigError('vault.database.maxTTL is not a positive duration');
  }
  return {
    mount,
    connection: spec.connection,
    maxTtlSeconds: Math.ceil(maxMs / 1000),
    ...(spec.activity ? { activity: activitySettings(spec.activity) } : {}),
  };
}

/** The path the identity reads its logins from (its Vault policy grants read on it, nothing else). */
export function credsPath(settings: DatabaseSettings, names: IdentityNames): string {
  return `${settings.mount}/creds/${names.base}`;
}

/**
 * The folder of every lease of the role. Listed and revoked one by one: sys/leases/revoke-prefix
 * takes no trailing /, and without it `nhi-a-b-<hash>` would also match another identity's
 * `nhi-a-b-<hash>-x-<hash>`.
 */
export function leaseFolder(settings: DatabaseSettings, names: IdentityNames): string {
  return `${credsPath(settings, names)}/`;
}

/** The identity's database grants across its scopes, in spec order. */
export function databaseAccessOf(scopes: VaultScope[]): DatabaseAccess | undefined {
  const withDatabase = scopes.filter((s) => s.database !== undefined);
  if (withDatabase.length === 0) return undefined;
  const smallest = (values: Array<number | undefined>) => {
    const set = values.filter((v): v is number => v !== undefined);
    return set.length > 0 ? Math.min(...set) : undefined;
  };
  const connectionLimit = smallest(withDatabase.map((s) => s.database?.connectionLimit));
  const maxLeases = smallest(withDatabase.map((s) => s.database?.maxLeases));
  const target = withDatabase.find((s) => s.database?.target)?.database?.target;
  return {
    grants: withDatabase.flatMap((s) => s.database?.grants ?? []),
    // Several scopes: read-only only if every one asks for it; the tightest caps hold.
    readOnly: withDatabase.every((s) => s.database?.readOnly === true),
    ...(connectionLimit === undefined ? {} : { connectionLimit }),
    ...(maxLeases === undefined ? {} : { maxLeases }),
    ...(target ? { target } : {}),
  };
}

/** CONNECTION LIMIT of each login of the identity. */
export function connectionLimitOf(access: DatabaseAccess): number {
  return access.connectionLimit ?? DEFAULT_DATABASE_CONNECTION_LIMIT;
}

/** How many logins the identity may hold at once. */
export function maxLeasesOf(access: DatabaseAccess): number {
  return access.maxLeases ?? DEFAULT_DATABASE_MAX_LEASES;
}

function withinRange(value: number | undefined, max: number): boolean {
  return value === undefined || (Number.isSafeInteger(value) && value >= 1 && value <= max);
}

function schemaAllowed(schema: string, allowed: readonly string[], namespace: string): boolean {
  return allowed
    .map((pattern) => pattern.replaceAll('{namespace}', databaseSchemaOfNamespace(namespace)))
    .some((pattern) =>
      pattern.endsWith('*') ? schema.startsWith(pattern.slice(0, -1)) : schema === pattern,
    );
}

/**
 * Why these grants may not be rendered, one sentence each (the provider's own check behind admission
 * and the operator's re-check): identifiers outside the strict pattern, unknown privileges, catalogs,
 * readOnly with writes, and (when `allowed` is given) schemas outside the tenant's reach.
 */
export function databaseGrantViolations(
  access: DatabaseAccess,
  context: { namespace: string; allowedSchemas?: readonly string[] },
): string[] {
  const violations: string[] = [];
  if (access.grants.length === 0) violations.push('database: lists no grants');
  if (!withinRange(access.connectionLimit, MAX_DATABASE_CONNECTION_LIMIT)) {
    violations.push(`database.connectionLimit: not an integer from 1 to ${MAX_DATABASE_CONNECTION_LIMIT}`);
  }
  if (!withinRange(access.maxLeases, MAX_DATABASE_MAX_LEASES)) {
    violations.push(`database.maxLeases: not an integer from 1 to ${MAX_DATABASE_MAX_LEASES}`);
  }
  access.grants.forEach((grant, i) => {
    const where = `database.grants[${i}]`;
    const schema = String(grant.schema ?? '');
    if (!IDENTIFIER.test(schema)) {
      violations.push(`${where}.schema: not a plain identifier (${DATABASE_IDENTIFIER_PATTERN})`);
      return;
    }
    if (
      FORBIDDEN_DATABASE_SCHEMAS.some((f) =>
        f.endsWith('*') ? schema.startsWith(f.slice(0, -1)) : schema === f,
      )
    ) {
      violations.push(
        `${where}.schema: ${schema} is refused in every environment (${FORBIDDEN_DATABASE_SCHEMAS.join(', ')})`,
      );
    }
    if (context.allowedSchemas && !schemaAllowed(schema, context.allowedSchemas, context.namespace)) {
      violations.push(`${where}.schema: ${schema} is outside ${context.allowedSchemas.join(', ')}`);
    }
    const tables = grant.tables ?? [];
    if (tables.length > 0 === (grant.allTables === true)) {
      violations.push(`${where}: name the tables, or set allTables (one of them)`);
    }
    for (const table of tables) {
      if (!IDENTIFIER.test(String(table))) {
        violations.push(`${where}.tables: "${String(table).slice(0, 40)}" is not a plain identifier`);
      }
    }
    if (grant.privileges.length === 0) violations.push(`${where}.privileges: lists none`);
    for (const privilege of grant.privileges) {
      if (!(DatabasePrivileges as readonly string[]).includes(privilege)) {
        violations.push(`${where}.privileges: unknown privilege "${String(privilege).slice(0, 20)}"`);
      }
    }
    if (access.readOnly && grant.privileges.some((p) => p !== 'SELECT')) {
      violations.push(`${where}.privileges: readOnly sessions take only SELECT`);
    }
  });
  return violations;
}

const quote = (identifier: string) => `"${identifier}"`;

function schemasOf(grants: DatabaseGrant[]): string[] {
  return [...new Set(grants.map((g) => g.schema))].sort();
}

function markStatement(names: IdentityNames): string {
  return `COMMENT ON ROLE "{{name}}" IS 'managed-by nhi-operator identity-uid ${names.uid} identity ${names.namespace}/${names.name}';`;
}

/**
 * The lease cap, enforced by PostgreSQL in the creation transaction (OpenBao runs the creation
 * statements in one): a per-identity advisory lock serialises concurrent logins, then the identity's
 * existing users (their COMMENT mark) are counted and a new one is refused at the cap.
 */
function leaseCapStatements(names: IdentityNames, maxLeases: number): string[] {
  return [
    `SELECT pg_advisory_xact_lock(hashtext('nhi-operator identity-uid ${names.uid}'));`,
    `DO $$ BEGIN IF (SELECT count(*) FROM pg_shdescription WHERE classoid = 'pg_authid'::regclass AND description LIKE 'managed-by nhi-operator identity-uid ${names.uid} %') >= ${maxLeases} THEN RAISE EXCEPTION '${LEASE_CAP}: identity ${names.namespace}/${names.name} holds its maxLeases (${maxLeases}) logins'; END IF; END $$;`,
  ];
}

function grantStatements(grants: DatabaseGrant[]): string[] {
  const statements = schemasOf(grants).map((s) => `GRANT USAGE ON SCHEMA ${quote(s)} TO "{{name}}";`);
  for (const grant of grants) {
    const privileges = DatabasePrivileges.filter((p) => grant.privileges.includes(p)).join(', ');
    const on = grant.allTables
      ? `ALL TABLES IN SCHEMA ${quote(grant.schema)}`
      : `TABLE ${[...new Set(grant.tables ?? [])].map((t) => `${quote(grant.schema)}.${quote(t)}`).join(', ')}`;
    statements.push(`GRANT ${privileges} ON ${on} TO "{{name}}";`);
  }
  return statements;
}

/**
 * Drops the user and everything granted to it, and succeeds when the user is already gone (a failed
 * revocation would keep the lease, and the login, alive).
 */
const DROP_USER =
  "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{{name}}') THEN EXECUTE 'DROP OWNED BY \"{{name}}\"'; EXECUTE 'DROP ROLE \"{{name}}\"'; END IF; END $$;";

/** Sessions first (an open connection outlives DROP ROLE), then the user. */
export const REVOCATION_STATEMENTS = [
  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{{name}}';",
  DROP_USER,
];

export interface DatabaseRoleInput {
  names: IdentityNames;
  settings: DatabaseSettings;
  access: DatabaseAccess;
  ttlSeconds: number;
  quarantined: boolean;
}

/** The role as it should be. Throws InvalidScopeError when a grant fails the checks. */
export function desiredDatabaseRole(input: DatabaseRoleInput): DatabaseRole {
  const { names, settings, access, ttlSeconds, quarantined } = input;
  const violations = databaseGrantViolations(access, { namespace: names.namespace });
  // A bad spec must never block a quarantine: the quarantined role renders no grant.
  if (violations.length > 0 && !quarantined) throw new InvalidScopeError(violations.join('; '));
  const creation = quarantined
    ? [
        `DO $$ BEGIN RAISE EXCEPTION '${QUARANTINED}: identity ${names.namespace}/${names.name}'; END $$;`,
        markStatement(names),
      ]
    : [
        ...leaseCapStatements(names, maxLeasesOf(access)),
        `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' CONNECTION LIMIT ${connectionLimitOf(access)} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;`,
        markStatement(names),
        ...(access.readOnly ? ['ALTER ROLE "{{name}}" SET default_transaction_read_only = on;'] : []),
        ...grantStatements(access.grants),
      ];
  return {
    dbName: settings.connection,
    creationStatements: creation,
    revocationStatements: REVOCATION_STATEMENTS,
    rollbackStatements: [DROP_USER],
    // The platform's maxTTL bounds every login, the identity's credentialTTL included.
    defaultTtlSeconds: Math.min(ttlSeconds, settings.maxTtlSeconds),
    maxTtlSeconds: settings.maxTtlSeconds,
  };
}

/** The identity uid in the role's ownership mark, if it has one. */
export function databaseRoleOwner(role: DatabaseRole): string | undefined {
  for (const statement of role.creationStatements) {
    const match = MARK.exec(statement);
    if (match) return match[1];
  }
  return undefined;
}

export function isQuarantinedDatabaseRole(role: DatabaseRole): boolean {
  return role.creationStatements.some((s) => s.includes(QUARANTINED));
}

const FIELDS: Array<[keyof DatabaseRole, string]> = [
  ['dbName', 'db_name'],
  ['creationStatements', 'creation_statements'],
  ['revocationStatements', 'revocation_statements'],
  ['rollbackStatements', 'rollback_statements'],
  ['defaultTtlSeconds', 'default_ttl'],
  ['maxTtlSeconds', 'max_ttl'],
];

/** Each field of the live role that differs (statement counts and TTLs: SQL text is not repeated). */
export function databaseRoleDifferences(live: DatabaseRole, desired: DatabaseRole): FieldDifference[] {
  const differences: FieldDifference[] = [];
  for (const [key, wire] of FIELDS) {
    const a = live[key];
    const b = desired[key];
    if (Array.isArray(a) && Array.isArray(b)) {
      if (a.length === b.length && a.every((s, i) => s === b[i])) continue;
      differences.push({
        field: wire,
        detail: `expected ${b.length} statements as rendered, found ${a.length} differing`,
      });
    } else if (a !== b) {
      differences.push({ field: wire, detail: `expected ${JSON.stringify(b)}, found ${JSON.stringify(a)}` });
    }
  }
  return differences;
}
