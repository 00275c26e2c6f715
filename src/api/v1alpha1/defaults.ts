// Every default of the AgentIdentity spec and every time rule derived from it, as named pure
// functions. The schema text (schema.ts), the controller, every provider, risk and the CLI call these;
// nothing else states a default or a time rule. A rule restated in two modules with two answers is how
// a previous secret value came to be reported retired while the Secret still held it.

import { parseDuration } from './duration.ts';
import { VAULT_KV_ROOT } from './managed-secrets.ts';
import type {
  AgentIdentitySpec,
  AnomalyThresholds,
  AttestationAction,
  DeletionPolicy,
  EnvironmentRules,
  ManagementMode,
  SecretSpec,
} from './types.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The CRD defaults: the apiserver applies them, and objects read without them (lint, tests) use them here. */
export const SpecDefaults = {
  ttl: '2160h',
  credentialTTL: '15m',
  inactivityTimeout: '720h',
  orphanGracePeriod: '5m',
  quarantinePeriod: '24h',
  rotationInterval: '168h',
  deletionPolicy: 'Delete',
  /** spec.management: the operator provisions unless told to observe only. */
  management: 'Managed',
  /** spec.secrets[].restartWorkload: pods are not rolled after a rotation unless asked. */
  restartWorkload: false,
} as const;

/** The workload kinds spec.secrets[].restartWorkload can roll (apps/v1, through their pod template). */
export const RestartableWorkloadKinds = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;

/** The default overlap: half the rotation interval, at most this long. */
export const MAX_DEFAULT_OVERLAP = '1h';

/** The owner is warned of expiry a tenth of the ttl ahead, at most this long ahead. */
export const MAX_EXPIRY_WARNING_LEAD = '168h';

/** Days a deleted Secrets Manager secret stays recoverable, when the provider does not say (AWS allows 7..30). */
export const AWS_RECOVERY_WINDOW_DAYS = 7;

/** IAM's MaxSessionDuration bounds (1 h to 12 h) and the kubelet's shortest projected token (10 min). */
export const AwsSessionBounds = { minSeconds: 3600, maxSeconds: 43_200, minTokenSeconds: 600 } as const;

function durationMs(text: string | undefined, fallback: string): number {
  const parsed = text === undefined ? undefined : parseDuration(text);
  return parsed ?? parseDuration(fallback) ?? 0;
}

const MAX_DEFAULT_OVERLAP_MS = durationMs(MAX_DEFAULT_OVERLAP, MAX_DEFAULT_OVERLAP);
const MAX_EXPIRY_WARNING_LEAD_MS = durationMs(MAX_EXPIRY_WARNING_LEAD, MAX_EXPIRY_WARNING_LEAD);

type Spec = Pick<
  AgentIdentitySpec,
  'ttl' | 'credentialTTL' | 'inactivityTimeout' | 'orphanGracePeriod' | 'quarantinePeriod'
>;
type Rotated = Pick<SecretSpec, 'rotationInterval' | 'overlap'>;

/** What deleting the AgentIdentity does to its credentials (spec.deletionPolicy). */
export function deletionPolicyOf(spec: Pick<AgentIdentitySpec, 'deletionPolicy'>): DeletionPolicy {
  return spec.deletionPolicy ?? SpecDefaults.deletionPolicy;
}

/** Managed (default) or Observe (spec.management): Observe records and reports, never changes anything. */
export function managementOf(spec: Pick<AgentIdentitySpec, 'management'>): ManagementMode {
  return spec.management ?? SpecDefaults.management;
}

/**
 * Offboarding in a namespace being deleted (Terminating) must not hold the namespace forever when
 * revocation keeps failing (a backend that cannot authenticate, an unreachable Vault). It retries every
 * `retryEveryMs`; once the namespace has been terminating for `releaseAfterMs` it releases the
 * finalizer with the credentials it could not revoke left in place, a high-severity audit record and
 * the metric nhi_offboarding_released_total. So a namespace waits on the operator at most
 * releaseAfterMs + retryEveryMs. The operator's --offboarding-release-after flag overrides releaseAfterMs.
 */
export const TerminatingNamespaceOffboarding = { releaseAfterMs: 5 * MINUTE, retryEveryMs: 15_000 } as const;

/** Lifetime of the identity itself (spec.ttl). */
export function ttlMs(spec: Spec): number {
  return durationMs(spec.ttl, SpecDefaults.ttl);
}

/** Lifetime of each minted credential (spec.credentialTTL); a malformed value counts as the default. */
export function credentialTtlMs(spec: Spec): number {
  return durationMs(spec.credentialTTL, SpecDefaults.credentialTTL);
}

/**
 * spec.credentialTTL as written, undefined when it is malformed or not positive (providers refuse
 * such a spec when provisioning, and fall back to credentialTtlMs when quarantining).
 */
export function validCredentialTtlMs(spec: Spec): number | undefined {
  const parsed = parseDuration(spec.credentialTTL ?? SpecDefaults.credentialTTL);
  return parsed !== undefined && parsed > 0 ? parsed : undefined;
}

export function inactivityTimeoutMs(spec: Spec): number {
  return durationMs(spec.inactivityTimeout, SpecDefaults.inactivityTimeout);
}

export function orphanGraceMs(spec: Spec): number {
  return durationMs(spec.orphanGracePeriod, SpecDefaults.orphanGracePeriod);
}

export function quarantinePeriodMs(spec: Spec): number {
  return durationMs(spec.quarantinePeriod, SpecDefaults.quarantinePeriod);
}

export function rotationIntervalMs(secret: Rotated): number {
  return durationMs(secret.rotationInterval, SpecDefaults.rotationInterval);
}

/**
 * How long the previous value stays valid after a rotation: spec.overlap, else half the rotation
 * interval, at most 1 h. The one overlap rule: status, the Secret's retire-at mark and every backend's
 * retirement use it.
 */
export function overlapMs(secret: Rotated): number {
  const explicit = secret.overlap === undefined ? undefined : parseDuration(secret.overlap);
  if (explicit !== undefined) return explicit;
  return Math.min(rotationIntervalMs(secret) / 2, MAX_DEFAULT_OVERLAP_MS);
}

/** When the previous value of a secret rotated at `rotatedAt` is retired. */
export function retireAt(secret: Rotated, rotatedAt: Date | string): Date {
  return new Date(new Date(rotatedAt).getTime() + overlapMs(secret));
}

/** When a secret rotated at `rotatedAt` is next due. */
export function nextRotationAt(secret: Rotated, rotatedAt: Date | string): Date {
  return new Date(new Date(rotatedAt).getTime() + rotationIntervalMs(secret));
}

/** status.secrets[].rotationRequest keeps this many characters of the rotate-requested-at value. */
export const ROTATION_REQUEST_MAX = 64;

/** A rotate request as status records it once handled (its first ROTATION_REQUEST_MAX characters). */
export function rotationRequestKey(value: string): string {
  return value.slice(0, ROTATION_REQUEST_MAX);
}

/**
 * The time a rotate request (nhi.dev/rotate-requested-at) names: a secret last rotated before it is
 * rotated, once per distinct request. A time in the future counts as now (it must not hold a
 * rotation open), and so does a value that is not a time.
 */
export function rotateRequestTime(value: string, now: Date): Date {
  const at = Date.parse(value);
  return Number.isNaN(at) || at > now.getTime() ? now : new Date(at);
}

/** How long before expiry the owner is warned: a tenth of the ttl, at most 7 days. */
export function expiryWarningLeadMs(identityTtlMs: number): number {
  return Math.min(identityTtlMs / 10, MAX_EXPIRY_WARNING_LEAD_MS);
}

/** When a quarantine that starts at `start` ends and revocation (phase 2) begins. */
export function quarantinePeriodEnd(spec: Spec, start: Date): Date {
  return new Date(start.getTime() + quarantinePeriodMs(spec));
}

/**
 * How far "last used" must move before status records it: a hundredth of the inactivity timeout (at
 * least 1 s), so inactivity is judged within 1 % of its timeout. Without this step every reconcile of
 * a busy identity would write status; with the default 30 days, a workload running all the time
 * costs one status write every 7.2 hours, not one every few minutes (at 10,000 identities in use, a
 * 5-minute step was 33 writes a second).
 */
export function lastUsedStepMs(spec: Spec): number {
  return Math.max(1000, inactivityTimeoutMs(spec) / 100);
}

/** credentialTTL in whole seconds (what STS and Vault take). */
export function credentialTtlSeconds(spec: Spec): number {
  return Math.ceil(credentialTtlMs(spec) / 1000);
}

/**
 * The IAM role's MaxSessionDuration: credentialTTL clamped to IAM's 3600..43200 s. IAM cannot go
 * below one hour; shorter sessions come from the caller's DurationSeconds.
 */
export function awsMaxSessionSeconds(spec: Spec): number {
  return Math.min(
    AwsSessionBounds.maxSeconds,
    Math.max(AwsSessionBounds.minSeconds, credentialTtlSeconds(spec)),
  );
}

/** The projected web-identity token's lifetime: credentialTTL, at least the kubelet's 600 s. */
export function awsTokenExpirationSeconds(spec: Spec): number {
  return Math.max(AwsSessionBounds.minTokenSeconds, credentialTtlSeconds(spec));
}

export const Durations = { MINUTE, HOUR, DAY } as const;

/** The environment of a namespace without the `nhi.dev/environment` label, when the IdentityPolicy sets none: fail closed. */
export const DEFAULT_ENVIRONMENT = 'production' as const;

/**
 * The Vault paths an identity may reach when its environment's rules set no allowedVaultPaths: its own
 * namespace's folder of the KV mount. `{namespace}` and `{name}` are the identity's.
 */
export const DEFAULT_ALLOWED_VAULT_PATHS: readonly string[] = [
  'secret/data/{namespace}/*',
  'secret/metadata/{namespace}/*',
];

/**
 * The paths of a database secrets engine mount that are the platform's and the operator's, never a
 * tenant's: its connections, dynamic and static roles (a static role takes over an existing database
 * user and reads its rotated password), root and role rotation, and connection reset and reload.
 */
export const DATABASE_ENGINE_OPERATIONS: readonly string[] = [
  'config',
  'roles',
  'static-roles',
  'static-creds',
  'rotate-root',
  'rotate-role',
  'reset',
  'reload',
];

/**
 * Vault paths no identity may reach in any environment (matched as globs, so `*` and `secret/*` are
 * refused too): Vault's own configuration, its auth methods and identity store, and the configuration
 * of the default KV mount (`delete_version_after` there applies to every identity's values), and the
 * folder where the operator keeps every identity's managed secrets (each identity's own are granted
 * by the provider itself, never through a scope); and, on the default database secrets engine mount,
 * its connections, its roles and every identity's logins (each identity's own creds path is granted
 * by the provider, through a database scope).
 */
export const FORBIDDEN_VAULT_PATHS: readonly string[] = [
  'sys/*',
  'auth/*',
  'identity/*',
  'secret/config',
  `secret/data/${VAULT_KV_ROOT}/*`,
  `secret/metadata/${VAULT_KV_ROOT}/*`,
  ...DATABASE_ENGINE_OPERATIONS.map((op) => `database/${op}/*`),
  'database/creds/nhi-*',
];

/**
 * PostgreSQL schemas an identity may reach when its environment's rules set no allowedDatabaseSchemas:
 * the schema named after its namespace, `-` written `_` (team-a: team_a). Exact, never a prefix: the
 * mapping is one-to-one because namespaces have no `_`, while `team_*` would reach team-a's `team_a`.
 */
export const DEFAULT_ALLOWED_DATABASE_SCHEMAS: readonly string[] = ['{namespace}'];

/** The schema `{namespace}` stands for in a schema pattern. */
export function databaseSchemaOfNamespace(namespace: string): string {
  return namespace.replaceAll('-', '_');
}

/**
 * A schema or table name the operator will put in SQL (always double-quoted as well): lowercase
 * letters, digits and _, starting with a letter or _, at most 63 (PostgreSQL's NAMEDATALEN - 1).
 */
export const DATABASE_IDENTIFIER_PATTERN = '^[a-z_][a-z0-9_]{0,62}$';

/**
 * Schemas no identity may reach in any environment: PostgreSQL's own catalogs, and `public`, which every
 * database has and every tenant of it shares (a namespace named `public` must not get it by the
 * `{namespace}` rule).
 */
export const FORBIDDEN_DATABASE_SCHEMAS: readonly string[] = ['pg_*', 'information_schema', 'public'];

/** max_ttl of an identity's database role when the provider sets no database.maxTTL. */
export const DEFAULT_DATABASE_MAX_TTL = '1h';

/**
 * CONNECTION LIMIT of each PostgreSQL login of an identity (spec.scopes[].database.connectionLimit):
 * PostgreSQL refuses the login's next session beyond it. Between 1 and MAX_DATABASE_CONNECTION_LIMIT.
 */
export const DEFAULT_DATABASE_CONNECTION_LIMIT = 10;
export const MAX_DATABASE_CONNECTION_LIMIT = 100;

/**
 * Logins (leases) an identity may hold at once (spec.scopes[].database.maxLeases): the role's
 * creation statements refuse a new one while that many of its users exist. An identity therefore
 * holds at most connectionLimit x maxLeases sessions. Between 1 and MAX_DATABASE_MAX_LEASES.
 */
export const DEFAULT_DATABASE_MAX_LEASES = 20;
export const MAX_DATABASE_MAX_LEASES = 100;

/**
 * The share of a database login's lease after which the operator replaces the login in the target
 * Secret (spec.scopes[].database.target). The replaced login stays in the Secret as the previous one
 * until its own lease ends, so a workload has the last third of the lease to pick up the new one.
 */
export const DATABASE_LOGIN_RENEW_FRACTION = 2 / 3;

/** When a target Secret's login issued at `issuedAt`, its lease ending at `expiresAt`, is replaced. */
export function databaseLoginRenewAt(issuedAt: Date | string, expiresAt: Date | string): Date {
  const from = new Date(issuedAt).getTime();
  const to = new Date(expiresAt).getTime();
  return new Date(from + Math.max(0, to - from) * DATABASE_LOGIN_RENEW_FRACTION);
}

/** Vault capabilities no identity may hold in any environment. */
export const FORBIDDEN_VAULT_CAPABILITIES: readonly string[] = ['sudo'];

/**
 * Grants an IdentityPolicy must allow explicitly (allowedPrivilegedGrants), in every environment: they
 * let a workload rewrite its own identity, bind or escalate roles, mint tokens for other accounts, or
 * live where the platform runs.
 */
export const PrivilegedGrants = [
  'nhi.dev',
  'rbac.authorization.k8s.io',
  'serviceaccounts/token',
  'system-namespaces',
] as const;

/** Whether AWS resources whose resource part is only a wildcard are admitted when the policy does not say. */
export function wildcardAwsResourcesAllowedByDefault(environment: string): boolean {
  return environment !== 'production';
}

/**
 * The ClusterCredentialProvider an aws or vault scope or secret without providerRef uses: the one
 * named like its kind. Never "the only one of its kind", so adding a provider changes no resolution;
 * an identity whose credentials are already recorded elsewhere stays there (src/providers/resolution.ts).
 */
export const DefaultProviderNames = { aws: 'aws', vault: 'vault' } as const;

/**
 * Periodic attestation when an environment's rules set none: production attests every 90 days (the
 * quarterly access review) with two weeks' grace; other environments only when their rules say so.
 */
export const AttestationDefaults = {
  production: { interval: '2160h', gracePeriod: '336h' },
} as const;

/** The enforcement action past interval and grace when the rules set none. */
export const DEFAULT_ATTESTATION_ACTION: AttestationAction = 'notify';

export interface AttestationRules {
  intervalMs: number;
  graceMs: number;
  action: AttestationAction;
}

/** The attestation rules in force for an environment, or undefined when it needs no attestation. */
export function attestationRules(
  environment: string,
  rules: EnvironmentRules | undefined,
): AttestationRules | undefined {
  const fallback = (AttestationDefaults as Record<string, { interval: string; gracePeriod: string }>)[
    environment
  ];
  const interval = rules?.attestationInterval ?? fallback?.interval;
  if (interval === undefined) return undefined;
  const intervalMs = parseDuration(interval);
  if (intervalMs === undefined || intervalMs <= 0) return undefined;
  return {
    intervalMs,
    graceMs: durationMs(rules?.attestationGracePeriod, fallback?.gracePeriod ?? '0s'),
    action: rules?.attestationAction ?? DEFAULT_ATTESTATION_ACTION,
  };
}

/** When the next attestation is due: the last one (or the creation) plus the interval; then the grace. */
export function attestationDeadlines(rules: AttestationRules, since: Date): { dueAt: Date; overdueAt: Date } {
  const dueAt = new Date(since.getTime() + rules.intervalMs);
  return { dueAt, overdueAt: new Date(dueAt.getTime() + rules.graceMs) };
}

/** The owner is warned of inactivity as of expiry: a tenth of the timeout ahead, at most 7 days. */
export function inactivityWarningLeadMs(spec: Spec): number {
  return expiryWarningLeadMs(inactivityTimeoutMs(spec));
}

/** The window of status.activity's counts (the operator's --activity-window), counted per hour. */
export const ACTIVITY_WINDOW = '24h';

/** Activity anomaly thresholds where the IdentityPolicy's environment sets none. */
export const AnomalyDefaults = { baselinePeriod: '168h', denialBurst: 10, denialBurstWindow: '5m' } as const;

/** status.activity.anomalies keeps this many latest anomalies; the baseline this many actions and sources. */
export const ANOMALIES_KEPT = 16;
export const BASELINE_ACTIONS_MAX = 256;
export const BASELINE_SOURCES_MAX = 32;

export interface AnomalyLimits {
  baselinePeriodMs: number;
  denialBurst: number;
  denialBurstWindowMs: number;
}

/** The anomaly thresholds in force for an environment's rules. */
export function anomalyLimits(thresholds: AnomalyThresholds | undefined): AnomalyLimits {
  return {
    baselinePeriodMs: durationMs(thresholds?.baselinePeriod, AnomalyDefaults.baselinePeriod),
    denialBurst: Math.max(1, thresholds?.denialBurst ?? AnomalyDefaults.denialBurst),
    denialBurstWindowMs: durationMs(thresholds?.denialBurstWindow, AnomalyDefaults.denialBurstWindow),
  };
}

/** status.notified keeps the dedupe keys of this many latest notifications. */
export const NOTIFIED_KEYS_MAX = 32;
