// The nhi.dev/v1alpha1 API as TypeScript types. The OpenAPI schema in schema.ts describes the
// same shapes for the apiserver; crds/*.yaml is generated from schema.ts (npm run crds) and a
// test fails when the committed files drift from it.

export const GROUP = 'nhi.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const Environments = ['development', 'staging', 'production'] as const;
export type Environment = (typeof Environments)[number];

export const ProviderKinds = ['kubernetes', 'aws', 'vault'] as const;
export type ProviderKind = (typeof ProviderKinds)[number];

export const SecretBackends = ['kubernetes', 'aws-secrets-manager', 'vault-kv'] as const;
export type SecretBackend = (typeof SecretBackends)[number];

export const GeneratorTypes = ['random', 'ed25519', 'hmac'] as const;
export type GeneratorType = (typeof GeneratorTypes)[number];

export const DataClassifications = ['public', 'internal', 'confidential', 'restricted'] as const;
export type DataClassification = (typeof DataClassifications)[number];

/** What deleting the AgentIdentity does to its credentials: revoke them (Delete) or leave them (Retain). */
export const DeletionPolicies = ['Delete', 'Retain'] as const;
export type DeletionPolicy = (typeof DeletionPolicies)[number];

/** Managed: the operator provisions and converges credentials. Observe: it only records and reports existing ones. */
export const ManagementModes = ['Managed', 'Observe'] as const;
export type ManagementMode = (typeof ManagementModes)[number];

/** Existing, unmanaged objects an Observe-mode identity reports on (adopted with `nhictl adopt`); never changed. */
export interface ObservedRefs {
  /** A ServiceAccount in the identity's own namespace. */
  serviceAccountName: string;
  /** An IAM role (AWS provider), reported only when its trust policy binds ServiceAccounts of this namespace alone. */
  iamRoleName?: string;
  /** A Vault kubernetes-auth role, reported only when its bound namespaces are exactly this namespace. */
  vaultRoleName?: string;
  /** The ClusterCredentialProvider the roles are read through (default: the one named like its kind). */
  providerRef?: string;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  deletionTimestamp?: string;
  creationTimestamp?: string;
  ownerReferences?: Array<{
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
    blockOwnerDeletion?: boolean;
  }>;
}

export interface Owner {
  team: string;
  contact?: string;
}

/** The accountable person or team: answers for the identity and attests, on schedule, that it is still needed. */
export interface Sponsor {
  name: string;
  contact?: string;
}

export interface WorkloadRef {
  apiVersion: string;
  kind: string;
  name: string;
}

/** One least-privilege grant. `provider` names the backend kind; `providerRef` optionally names a ClusterCredentialProvider. */
export interface AwsScope {
  provider: 'aws';
  providerRef?: string;
  actions: string[];
  resources: string[];
}

export interface VaultPathGrant {
  path: string;
  capabilities: string[];
}

export const DatabasePrivileges = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] as const;
export type DatabasePrivilege = (typeof DatabasePrivileges)[number];

/** Privileges on tables of one schema: the named `tables`, or every table (`allTables`). */
export interface DatabaseGrant {
  schema: string;
  tables?: string[];
  allTables?: boolean;
  privileges: DatabasePrivilege[];
}

/** Short-lived PostgreSQL logins through OpenBao's database secrets engine (the provider's `database` connection). */
export interface DatabaseAccess {
  grants: DatabaseGrant[];
  /** Sessions are read-only (default_transaction_read_only): for retrieval/search. Only SELECT grants. */
  readOnly?: boolean;
  /** CONNECTION LIMIT of each login (DEFAULT_DATABASE_CONNECTION_LIMIT). */
  connectionLimit?: number;
  /** Logins the identity may hold at once (DEFAULT_DATABASE_MAX_LEASES). */
  maxLeases?: number;
  /** A Secret in the identity's namespace the operator keeps filled with a login (apps that cannot talk to Vault). */
  target?: DatabaseLoginTarget;
}

/** Where the operator writes a database login: `username`, `password` and the previous login until its lease ends. */
export interface DatabaseLoginTarget {
  secretName: string;
}

/** `paths` (ACL policy stanzas), `database` (a per-identity database role), or both. */
export interface VaultScope {
  provider: 'vault';
  providerRef?: string;
  paths?: VaultPathGrant[];
  database?: DatabaseAccess;
}

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}

export interface KubernetesScope {
  provider: 'kubernetes';
  rules: PolicyRule[];
}

export type Scope = AwsScope | VaultScope | KubernetesScope;

export interface SecretGenerator {
  type: GeneratorType;
  /** Length in characters (random) or bytes (hmac). */
  length?: number;
}

export interface SecretSpec {
  name: string;
  backend?: SecretBackend;
  providerRef?: string;
  generator: SecretGenerator;
  rotationInterval?: string;
  /** How long the previous value stays valid after a rotation. */
  overlap?: string;
  /** `key`: the data key holding the current value (the kubernetes provider defaults it to the secret name). */
  target?: { secretName: string; key?: string };
  /**
   * Roll the pods of spec.workloadRef (a Deployment, StatefulSet or DaemonSet) after this secret
   * rotates, as `kubectl rollout restart` does. Default false (SpecDefaults.restartWorkload).
   */
  restartWorkload?: boolean;
}

export interface AgentIdentitySpec {
  owner: Owner;
  /** Who answers for the identity (required in production by the default IdentityPolicy). */
  sponsor?: Sponsor;
  purpose: string;
  environment: Environment;
  workloadRef?: WorkloadRef;
  serviceAccountName?: string;
  /** automountServiceAccountToken of the managed ServiceAccount. Default false: pods opt in themselves. */
  automountServiceAccountToken?: boolean;
  ttl?: string;
  credentialTTL?: string;
  inactivityTimeout?: string;
  orphanGracePeriod?: string;
  quarantinePeriod?: string;
  scopes?: Scope[];
  secrets?: SecretSpec[];
  impact?: { dataClassification?: DataClassification; internetExposed?: boolean };
  /** Set by `nhictl lock`: quarantine now, whatever the workload does. */
  locked?: boolean;
  /** Delete (default): deleting the AgentIdentity revokes its credentials. Retain: they stay, marked retained. */
  deletionPolicy?: DeletionPolicy;
  /** Managed (default) or Observe (record and report only; needs `observe`). */
  management?: ManagementMode;
  /** What an Observe-mode identity reports on. */
  observe?: ObservedRefs;
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface SecretStatus {
  name: string;
  currentVersion?: number;
  previousVersion?: number;
  lastRotated?: string;
  nextRotation?: string;
  /** The nhi.dev/rotate-requested-at value already handled for this secret (its first 64 characters). */
  rotationRequest?: string;
  /** The currentVersion whose rotation the workload was last restarted for (restartWorkload only). */
  restartedVersion?: number;
}

export interface RiskFactor {
  id: string;
  description: string;
  weight: number;
}

export interface RiskStatus {
  likelihood: number;
  impact: number;
  score: number;
  level: 'Low' | 'Moderate' | 'High' | 'Critical';
  factors: RiskFactor[];
  remediateBy?: string;
}

export interface PlannedChange {
  action: string;
  resource: string;
  reason: string;
}

export interface AgentIdentityStatus {
  observedGeneration?: number;
  phase?: string;
  conditions?: Condition[];
  serviceAccount?: string;
  boundPods?: number;
  aws?: { roleArn?: string; roleName?: string; policyHash?: string };
  vault?: {
    role?: string;
    policy?: string;
    databaseRole?: string;
    /** Live leases (database logins) of the role when last provisioned: a count, never a lease id. */
    databaseLeases?: number;
  };
  secrets?: SecretStatus[];
  expiresAt?: string;
  lastUsed?: string;
  orphanedSince?: string;
  quarantineUntil?: string;
  risk?: RiskStatus;
  plan?: PlannedChange[];
  failedAttempts?: number;
  lastFailedAction?: string;
  /** Backends holding credentials of this identity: `kubernetes`, `aws/<provider>`, `vault/<provider>`. */
  providers?: string[];
  lastFailureTime?: string;
  /** When the identity was last attested (`nhictl attest`), and by which Kubernetes user. */
  attestedAt?: string;
  attestedBy?: string;
  /** The SHA-256 (hex) of the nhi.dev/attest-requested value already recorded: handled once. */
  attestationRequest?: string;
  /** Dedupe keys of the webhook notifications already delivered (the latest ones). */
  notified?: string[];
  /** Real use seen in the audit logs the operator follows (observe.ts; governance/activity). */
  activity?: ActivityStatus;
  /** Observe mode only (observed.ts): what was found of the observed objects, never a secret. */
  observed?: ObservedStatus;
}

/** One observed object as last read: byte-level identity (resourceVersion / a hash of the role). */
export interface ObservedObjectStatus {
  kind: 'ServiceAccount' | 'IAMRole' | 'VaultRole';
  name: string;
  /** Found and (for roles) bound to this namespace only; false: missing, refused or unreadable. */
  reported: boolean;
  arn?: string;
  resourceVersion?: string;
  /** IAM/Vault: the ServiceAccounts its trust admits (`ns/name`), this namespace only. */
  boundTo?: string[];
  lastUsed?: string;
  /** Why it is not reported (no detail of an object bound to another namespace). */
  message?: string;
}

export interface ObservedStatus {
  objects: ObservedObjectStatus[];
}

/** One backend's requests in the activity window, from its audit log. */
export interface ActivityBackendSummary {
  backend: 'kubernetes' | 'vault' | 'aws';
  requests: number;
  denials: number;
  errors: number;
  /** The last allowed request: the last real use. */
  lastUsed?: string;
}

export interface ActivityStatus {
  /** The window the counts cover, a duration (hour-granular). */
  window: string;
  /** When these counts were taken; rewritten only when they change (no status write otherwise). */
  observedAt: string;
  backends: ActivityBackendSummary[];
  /** Granted against used over the window (governance/activity/rightsize.ts); absent when not judged. */
  rightSizing?: RightSizingStatus;
  /** What the identity is known to do (governance/activity/anomalies.ts): new actions are compared with it. */
  baseline?: ActivityBaseline;
  /** The latest anomalies found (at most ANOMALIES_KEPT), each also an Event and an audit record. */
  anomalies?: ActivityAnomaly[];
}

export interface ActivityBaseline {
  /** When learning began; until the policy's baselinePeriod has passed, new actions are learnt silently. */
  since: string;
  /** Actions seen: `kubernetes get configmaps`, `vault read secret/data/agents/crm`, `aws secretsmanager:GetSecretValue`. */
  actions: string[];
  /** Source addresses seen. */
  sources: string[];
}

export const AnomalyKinds = ['first-use', 'denial-burst', 'unexpected-source', 'after-quarantine'] as const;
export type AnomalyKind = (typeof AnomalyKinds)[number];

export interface ActivityAnomaly {
  kind: AnomalyKind;
  /** When the request behind it was made (the last one, for a burst). */
  time: string;
  /** What was seen, in words; never a secret value (paths and names only). */
  message: string;
}

/** One grant of spec.scopes with a part never used in the window. */
export interface UnusedGrant {
  /** Where the grant is: `spec.scopes[0].rules[1]`, `spec.scopes[1].paths[0]`. */
  field: string;
  /** The grant as written, in short: `get,list,watch on configmaps (core)`. */
  grant: string;
  /** What of it was never used: `never used`, or `watch on configmaps`. */
  unused: string;
}

export interface RightSizingStatus {
  /** Start of the evidence: the window's start, or the first audit event read when the logs begin later. */
  since: string;
  /** The audit logs cover the whole window and the identity existed throughout it: unused grants count in risk. */
  complete: boolean;
  /** The backends whose grants were judged (those with an audit source); other grants are kept as they are. */
  backends: Array<ActivityBackendSummary['backend']>;
  unused: UnusedGrant[];
  /** spec.scopes narrowed to what was used; applied, the workload can still do all it did. Present when something is unused. */
  suggestedScopes?: Scope[];
}

export interface AgentIdentity {
  apiVersion: typeof API_VERSION;
  kind: 'AgentIdentity';
  metadata: ObjectMeta;
  spec: AgentIdentitySpec;
  status?: AgentIdentityStatus;
}

export interface AwsProviderSpec {
  region: string;
  accountId?: string;
  endpoint?: string;
  rolePath?: string;
  roleNamePrefix?: string;
  permissionsBoundaryArn?: string;
  mode: 'irsa' | 'pod-identity';
  irsa?: { oidcProviderArn: string; issuer: string };
  podIdentity?: { clusterName: string };
  secretsManager?: { kmsKeyId?: string; recoveryWindowDays?: number; forceDelete?: boolean };
  maxWritesPerSecond?: number;
}

export interface VaultProviderSpec {
  address: string;
  caBundle?: string;
  namespace?: string;
  kubernetesAuthMount?: string;
  kvMount?: string;
  audience?: string;
  tokenMaxTTL?: string;
  /** OpenBao's database secrets engine, configured by the platform: the operator only writes roles. */
  database?: {
    mount?: string;
    connection: string;
    maxTTL?: string;
    /** Last use from pg_stat_activity, through a monitoring login the platform set up in OpenBao. */
    activity?: { role: string; url: string; caBundle?: string };
  };
  auth: {
    kubernetes?: { role: string; mount?: string; tokenPath?: string };
    tokenFile?: { path: string };
    /** Only for the dev environment: a token in a Secret. */
    tokenSecretRef?: { name: string; namespace: string; key: string };
  };
}

/** A Kubernetes label selector (metav1.LabelSelector): every requirement must hold. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{
    key: string;
    operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
    values?: string[];
  }>;
}

/** The namespaces whose AgentIdentities may use a ClusterCredentialProvider: listed by name, or selected by label. */
export interface AllowedNamespaces {
  /** Exact names, or prefixes ending in `*` (team-a-*). */
  names?: string[];
  selector?: LabelSelector;
}

export interface ClusterCredentialProviderSpec {
  aws?: AwsProviderSpec;
  vault?: VaultProviderSpec;
  /** Unset: every namespace may use the provider. */
  allowedNamespaces?: AllowedNamespaces;
}

export interface ClusterCredentialProvider {
  apiVersion: typeof API_VERSION;
  kind: 'ClusterCredentialProvider';
  metadata: ObjectMeta;
  spec: ClusterCredentialProviderSpec;
  status?: { conditions?: Condition[]; observedGeneration?: number };
}

export interface EnvironmentRules {
  maxTTL?: string;
  maxCredentialTTL?: string;
  maxRotationInterval?: string;
  forbiddenActions?: string[];
  forbiddenResources?: string[];
  requirePermissionsBoundary?: boolean;
  allowedProviders?: ProviderKind[];
  allowedNamespaces?: string[];
  maxRiskLevel?: RiskStatus['level'];
  /** Vault path patterns identities may reach (`{namespace}`, `{name}` placeholders; only a trailing *). */
  allowedVaultPaths?: string[];
  /** AWS resource ARN patterns identities may name (placeholders as above; only a trailing *). Unset: any. */
  allowedAwsResources?: string[];
  /** Admit AWS resources whose resource part is only a wildcard (arn:aws:s3:::*). Default: not in production. */
  allowWildcardAwsResources?: boolean;
  /** PostgreSQL schemas identities may reach (`{namespace}`: the namespace with - written _; only a trailing *). */
  allowedDatabaseSchemas?: string[];
  /** Privileged grants this environment admits (see PrivilegedGrants in defaults.ts). */
  allowedPrivilegedGrants?: string[];
  /** spec.sponsor must be set. */
  requireSponsor?: boolean;
  /** How often the sponsor must attest that the identity is still needed (default: see defaults.ts). */
  attestationInterval?: string;
  /** How long after the attestation is due before the enforcement action. */
  attestationGracePeriod?: string;
  /** What happens past interval and grace: notify only, or quarantine until attested. */
  attestationAction?: AttestationAction;
  /** Thresholds of the activity anomalies (defaults: AnomalyDefaults in defaults.ts). */
  anomalies?: AnomalyThresholds;
}

export interface AnomalyThresholds {
  /** How long an identity's actions and sources are learnt before a new one is an anomaly. */
  baselinePeriod?: string;
  /** This many denied requests within denialBurstWindow are a burst. */
  denialBurst?: number;
  denialBurstWindow?: string;
}

export const AttestationActions = ['notify', 'quarantine'] as const;
export type AttestationAction = (typeof AttestationActions)[number];

/** Where the operator sends CloudEvents about identities (expiry, attestation, quarantine, ...). */
export interface WebhookSpec {
  /** An https:// URL. */
  url: string;
  /** The Secret holding the HMAC-SHA256 signing key (its value never leaves the operator). */
  secretRef: { name: string; namespace: string; key: string };
  /** PEM CA certificates the receiver's certificate must chain to (default: the system roots). */
  caBundle?: string;
}

export interface IdentityPolicySpec {
  /** The environment of a namespace without the nhi.dev/environment label. Default production. */
  defaultEnvironment?: Environment;
  /** The operator's own namespace: no AgentIdentity may live there. */
  operatorNamespace?: string;
  environments: Partial<Record<Environment, EnvironmentRules>>;
  /** Notifications to the owners, besides Kubernetes Events. */
  notifications?: { webhook?: WebhookSpec };
}

/** The human-facing summary in status.phase, derived from the conditions (controller ready.ts). */
export const Phases = [
  'Pending',
  'Active',
  'Denied',
  'Quarantining',
  'Quarantined',
  'Revoking',
  'Revoked',
  /** spec.management: Observe — existing objects recorded and reported, nothing provisioned. */
  'Observing',
] as const;
export type Phase = (typeof Phases)[number];

export interface IdentityPolicy {
  apiVersion: typeof API_VERSION;
  kind: 'IdentityPolicy';
  metadata: ObjectMeta;
  spec: IdentityPolicySpec;
}
