// The operator's configuration, read in one place from flags and environment variables (a flag
// wins over its variable). Nothing else reads process.env. The result is frozen.

import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { ACTIVITY_WINDOW, TerminatingNamespaceOffboarding } from './api/v1alpha1/defaults.ts';
import { parseDuration } from './api/v1alpha1/duration.ts';

export interface OperatorConfig {
  /** Only this namespace's AgentIdentities; undefined = all namespaces. */
  watchNamespace: string | undefined;
  workers: number;
  dryRun: boolean;
  leaderElection: {
    enabled: boolean;
    leaseName: string;
    leaseNamespace: string;
    identity: string;
    leaseDurationMs: number;
    renewDeadlineMs: number;
    retryPeriodMs: number;
  };
  /** Port for /metrics, /healthz, /readyz (0 = ephemeral). */
  httpPort: number;
  httpHost: string;
  /** How often every identity is re-checked even without events (the orphan sweep). */
  resyncPeriodMs: number;
  /** How often providers compare live state with the desired state. */
  driftIntervalMs: number;
  auditLogPath: string;
  audit: AuditConfig;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Name of the operator in audit records and Events. */
  actor: string;
  /** Accept a Vault token from a Secret (ClusterCredentialProvider auth.tokenSecretRef): dev only. */
  allowStaticVaultToken: boolean;
  /** Which optional providers to enable. */
  providers: readonly ('aws' | 'vault')[];
  /** Every apiserver request (not watches) gives up after this long (adapters/kubernetes/kube-config.ts). */
  apiRequestTimeoutMs: number;
  /**
   * A watch that heard nothing (no event, no bookmark) for this long is resumed on a fresh connection
   * (adapters/kubernetes/sources.ts): how long a silently dead connection can hide changes.
   */
  watchTimeoutMs: number;
  /** Offboarding in a namespace being deleted gives up after this long (defaults.ts TerminatingNamespaceOffboarding). */
  offboardingReleaseAfterMs: number;
  /** Audit logs followed for status.activity (none: no summary) and the window it counts. */
  activity: { kubeAuditLog: string | undefined; vaultAuditLog: string | undefined; windowMs: number };
}

export interface AuditConfig {
  /** The file sink ('' = none). */
  logPath: string;
  /**
   * One signed chain per cluster, anchored in a ConfigMap of the lease namespace (key in a Secret).
   * On by default with leader election; a single unelected process (development) keeps a local chain.
   */
  anchor: boolean;
  /** The ConfigMap holding the signed head and public keys; the Secret is `<name>-signing-key`. */
  configMap: string;
  namespace: string;
  checkpointIntervalMs: number;
  /** Write-once storage of sealed segments and checkpoints (S3 Object Lock, compliance mode). */
  s3?: { bucket: string; prefix: string; region?: string; endpoint?: string; retentionMs: number };
}

const FLAGS = {
  'watch-namespace': { type: 'string', env: 'NHI_WATCH_NAMESPACE' },
  workers: { type: 'string', env: 'NHI_WORKERS', default: '2' },
  'dry-run': { type: 'boolean', env: 'NHI_DRY_RUN' },
  'leader-elect': { type: 'string', env: 'NHI_LEADER_ELECT', default: 'true' },
  'lease-name': { type: 'string', env: 'NHI_LEASE_NAME', default: 'nhi-operator' },
  'lease-namespace': { type: 'string', env: 'POD_NAMESPACE', default: 'nhi-system' },
  'lease-duration': { type: 'string', env: 'NHI_LEASE_DURATION', default: '15s' },
  'renew-deadline': { type: 'string', env: 'NHI_RENEW_DEADLINE', default: '10s' },
  'retry-period': { type: 'string', env: 'NHI_RETRY_PERIOD', default: '2s' },
  'http-port': { type: 'string', env: 'NHI_HTTP_PORT', default: '8080' },
  'http-host': { type: 'string', env: 'NHI_HTTP_HOST', default: '0.0.0.0' },
  'resync-period': { type: 'string', env: 'NHI_RESYNC_PERIOD', default: '60s' },
  'drift-interval': { type: 'string', env: 'NHI_DRIFT_INTERVAL', default: '10m' },
  'audit-log': { type: 'string', env: 'NHI_AUDIT_LOG', default: '/var/lib/nhi-operator/audit.jsonl' },
  'audit-anchor': { type: 'string', env: 'NHI_AUDIT_ANCHOR' },
  'audit-configmap': { type: 'string', env: 'NHI_AUDIT_CONFIGMAP' },
  'audit-checkpoint-interval': { type: 'string', env: 'NHI_AUDIT_CHECKPOINT_INTERVAL', default: '30s' },
  'audit-s3-bucket': { type: 'string', env: 'NHI_AUDIT_S3_BUCKET' },
  'audit-s3-prefix': { type: 'string', env: 'NHI_AUDIT_S3_PREFIX', default: '' },
  'audit-s3-region': { type: 'string', env: 'NHI_AUDIT_S3_REGION' },
  'audit-s3-endpoint': { type: 'string', env: 'NHI_AUDIT_S3_ENDPOINT' },
  'audit-s3-retention': { type: 'string', env: 'NHI_AUDIT_S3_RETENTION', default: '8760h' },
  'log-level': { type: 'string', env: 'NHI_LOG_LEVEL', default: 'info' },
  providers: { type: 'string', env: 'NHI_PROVIDERS', default: 'aws,vault' },
  'allow-static-vault-token': { type: 'boolean', env: 'NHI_ALLOW_STATIC_VAULT_TOKEN' },
  'activity-kube-audit-log': { type: 'string', env: 'NHI_ACTIVITY_KUBE_AUDIT_LOG' },
  'activity-vault-audit-log': { type: 'string', env: 'NHI_ACTIVITY_VAULT_AUDIT_LOG' },
  'activity-window': { type: 'string', env: 'NHI_ACTIVITY_WINDOW', default: ACTIVITY_WINDOW },
  'api-request-timeout': { type: 'string', env: 'NHI_API_REQUEST_TIMEOUT', default: '30s' },
  'watch-timeout': { type: 'string', env: 'NHI_WATCH_TIMEOUT', default: '90s' },
  'offboarding-release-after': {
    type: 'string',
    env: 'NHI_OFFBOARDING_RELEASE_AFTER',
    default: `${TerminatingNamespaceOffboarding.releaseAfterMs / 1000}s`,
  },
} as const;

type FlagName = keyof typeof FLAGS;

/** Every flag with its environment variable and default (for usage() and the checks of the chart and docs). */
export function flagDefaults(): { flag: string; env: string; default: string | undefined }[] {
  return Object.entries(FLAGS).map(([flag, spec]) => ({
    flag,
    env: spec.env,
    default: 'default' in spec ? spec.default : undefined,
  }));
}
type DefaultedFlag = { [K in FlagName]: (typeof FLAGS)[K] extends { default: string } ? K : never }[FlagName];

export class ConfigError extends Error {
  readonly reason = 'InvalidConfig';
}

function duration(name: FlagName, value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0)
    throw new ConfigError(`--${name}: "${value}" is not a positive duration like 15s`);
  return ms;
}

function logLevel(value: string): OperatorConfig['logLevel'] {
  if (value === 'debug' || value === 'info' || value === 'warn' || value === 'error') return value;
  throw new ConfigError(`--log-level: "${value}" must be debug, info, warn or error`);
}

function integer(name: FlagName, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new ConfigError(`--${name}: "${value}" must be an integer >= ${min}`);
  return n;
}

export function loadConfig(
  argv: readonly string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): OperatorConfig {
  const options = Object.fromEntries(
    Object.entries(FLAGS).map(([name, spec]) => [name, { type: spec.type }]),
  );
  const { values } = parseArgs({
    args: [...argv],
    options: options as NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>,
    strict: true,
  });
  const get = (name: FlagName): string | undefined => {
    const flag = values[name];
    if (flag !== undefined) return String(flag);
    const spec = FLAGS[name];
    return env[spec.env] ?? ('default' in spec ? spec.default : undefined);
  };
  /** A flag with a default (in FLAGS, its one place): never undefined. */
  const value = (name: DefaultedFlag): string => get(name) as string;
  const bool = (name: FlagName) => ['true', '1', 'yes'].includes((get(name) ?? 'false').toLowerCase());
  const providers = value('providers')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  for (const p of providers) {
    if (p !== 'aws' && p !== 'vault')
      throw new ConfigError(`--providers: unknown provider "${p}" (aws, vault)`);
  }
  const identity = env.POD_NAME ?? `${hostname()}-${process.pid}`;
  const leaseName = value('lease-name');
  const anchorFlag = get('audit-anchor');
  const bucket = get('audit-s3-bucket');
  const region = get('audit-s3-region');
  const endpoint = get('audit-s3-endpoint');
  const audit: AuditConfig = Object.freeze({
    logPath: value('audit-log'),
    anchor: anchorFlag === undefined ? bool('leader-elect') : bool('audit-anchor'),
    configMap: get('audit-configmap') || `${leaseName}-audit`,
    namespace: value('lease-namespace'),
    checkpointIntervalMs: duration('audit-checkpoint-interval', value('audit-checkpoint-interval')),
    ...(bucket && {
      s3: Object.freeze({
        bucket,
        prefix: value('audit-s3-prefix'),
        ...(region && { region }),
        ...(endpoint && { endpoint }),
        retentionMs: duration('audit-s3-retention', value('audit-s3-retention')),
      }),
    }),
  });
  if (audit.s3 && !audit.anchor)
    throw new ConfigError(
      '--audit-s3-bucket needs the anchored chain (--audit-anchor, on with leader election)',
    );
  return Object.freeze({
    watchNamespace: get('watch-namespace') || undefined,
    workers: integer('workers', value('workers'), 1),
    dryRun: bool('dry-run'),
    leaderElection: Object.freeze({
      enabled: bool('leader-elect'),
      leaseName,
      leaseNamespace: value('lease-namespace'),
      identity,
      leaseDurationMs: duration('lease-duration', value('lease-duration')),
      renewDeadlineMs: duration('renew-deadline', value('renew-deadline')),
      retryPeriodMs: duration('retry-period', value('retry-period')),
    }),
    httpPort: integer('http-port', value('http-port'), 0),
    httpHost: value('http-host'),
    resyncPeriodMs: duration('resync-period', value('resync-period')),
    driftIntervalMs: duration('drift-interval', value('drift-interval')),
    auditLogPath: value('audit-log'),
    audit,
    logLevel: logLevel(value('log-level')),
    actor: `system:serviceaccount:${env.POD_NAMESPACE ?? 'nhi-system'}:${env.POD_SERVICE_ACCOUNT ?? 'nhi-operator'}`,
    allowStaticVaultToken: bool('allow-static-vault-token'),
    providers: Object.freeze(providers as ('aws' | 'vault')[]),
    activity: Object.freeze({
      kubeAuditLog: get('activity-kube-audit-log') || undefined,
      vaultAuditLog: get('activity-vault-audit-log') || undefined,
      windowMs: duration('activity-window', value('activity-window')),
    }),
    apiRequestTimeoutMs: duration('api-request-timeout', value('api-request-timeout')),
    watchTimeoutMs: duration('watch-timeout', value('watch-timeout')),
    offboardingReleaseAfterMs: duration('offboarding-release-after', value('offboarding-release-after')),
  });
}

/** `nhi-operator --help`: every flag with its environment variable and default. */
export function usage(): string {
  const lines = Object.entries(FLAGS).map(([name, spec]) => {
    const value = spec.type === 'boolean' ? '' : '=VALUE';
    const fallback = 'default' in spec ? ` (default ${spec.default})` : '';
    return `${`  --${name}${value}`.padEnd(34)}${spec.env}${fallback}`;
  });
  return [
    'nhi-operator: reconciles AgentIdentities into workload-bound credentials.',
    'Connects with KUBECONFIG, ~/.kube/config or the in-cluster ServiceAccount.',
    '',
    'Flags (each also read from the environment variable shown):',
    ...lines,
  ].join('\n');
}
