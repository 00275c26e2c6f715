// The inventory's vocabulary: the raw objects the sources return (only names, marks and bindings;
// never Secret data, tokens or key ids), the narrow read-only ports that return them, and the
// classified InventoryItem that nhictl and the report show.

import type { AgentIdentity, RightSizingStatus, RiskStatus } from '../../api/v1alpha1/types.ts';
import type { PodSpecLike, SecretFinding } from '../secrets/detect.ts';

export const InventoryTypes = [
  'AgentIdentity',
  'ServiceAccount',
  'ServiceAccountToken',
  'IAMRole',
  'IAMUser',
  'VaultRole',
  /** A role of OpenBao's database secrets engine: it mints database logins. */
  'DatabaseRole',
  /** A literal credential in a workload's pod template, a ConfigMap or an annotation. */
  'HardCodedSecret',
  'System',
] as const;
export type InventoryType = (typeof InventoryTypes)[number];

export type FindingKind =
  /** Not owned by an AgentIdentity and no owner annotation or tag. */
  | 'shadow'
  /** Adopted observe-only: an AgentIdentity in spec.management Observe records and reports it (never changes it). */
  | 'observed'
  /** Trusts or is bound to a ServiceAccount that does not exist (anyone who creates it inherits the grant). */
  | 'dangling-trust'
  /** Trusts or is bound to ServiceAccounts by wildcard, selector, or not at all. */
  | 'wildcard-trust'
  /** Carries nhi.dev/identity-uid of an AgentIdentity that no longer exists: a ghost left behind. */
  | 'orphaned-marks'
  /** A non-expiring kubernetes.io/service-account-token Secret. */
  | 'legacy-token'
  /** Long-lived IAM access keys. */
  | 'static-access-key'
  /** No pod runs as this ServiceAccount / never used. */
  | 'unused'
  /** A credential-shaped literal in a pod template, ConfigMap or annotation (rule and fingerprint, never the value). */
  | 'hard-coded-secret'
  /** The AgentIdentity's risk is High or Critical. */
  | 'risk'
  /** An activity anomaly the operator found in the audit logs (status.activity.anomalies). */
  | 'anomaly'
  /** Grants the AgentIdentity never used over the activity window (status.activity.rightSizing). */
  | 'unused-grants';

export type Severity = 'info' | 'warning' | 'high' | 'critical';

export interface Finding {
  kind: FindingKind;
  severity: Severity;
  message: string;
}

export type InventoryProvider = 'kubernetes' | 'aws' | 'vault';

export interface InventoryItem {
  type: InventoryType;
  name: string;
  namespace?: string;
  provider: InventoryProvider;
  owner?: string;
  purpose?: string;
  environment?: string;
  /** Human state: Active, Quarantined (Expired), in use (2 pods), unused, never used, ... */
  state: string;
  /** Owned by an existing AgentIdentity. */
  managed: boolean;
  /** `namespace/name` of the owning AgentIdentity. */
  identity?: string;
  /** ServiceAccount subjects this item trusts or is bound to, as written (`ns/name`, wildcards kept). */
  boundTo?: string[];
  /** AgentIdentity only: the assessed risk. */
  risk?: RiskStatus;
  /** AgentIdentity only: its grants against real use (status.activity.rightSizing), when the operator judged them. */
  rightSizing?: RightSizingStatus;
  /** HardCodedSecret only: where, which rule, the fingerprint. */
  secret?: SecretFinding;
  findings: Finding[];
}

// ---- raw objects, as the sources return them ----

export interface RawServiceAccount {
  namespace: string;
  name: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Array<{ kind: string; name: string; uid: string }>;
  creationTimestamp?: string;
}

/** A kubernetes.io/service-account-token Secret: metadata only, its data is never read into this. */
export interface RawTokenSecret {
  namespace: string;
  name: string;
  serviceAccountName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
}

export interface RawPod {
  namespace: string;
  serviceAccountName: string;
}

/** The kinds whose pod templates are scanned for literal credentials. */
export const WorkloadKinds = ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'Job', 'Pod'] as const;
export type WorkloadKind = (typeof WorkloadKinds)[number];

/**
 * A workload with its pod template, or a ConfigMap with its data: these DO hold literal values, so
 * they live only inside gatherInventory(), which scans them and keeps the findings alone.
 */
export interface RawWorkload {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Annotations of the pod template. */
  templateAnnotations?: Record<string, string>;
  podSpec: PodSpecLike;
}

export interface RawConfigMap {
  namespace: string;
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  data?: Record<string, string>;
}

/** Where a finding was, plus the marks that name an owner; never the scanned value. */
export interface RawSecretFinding extends SecretFinding {
  /** `nhi.dev/owner` (label or annotation) of the object that carries it. */
  marks?: Record<string, string>;
}

export interface RawIamRole {
  name: string;
  arn: string;
  path: string;
  /** Parsed trust policy document. */
  trustPolicy: unknown;
  tags: Record<string, string>;
  createDate?: string;
  lastUsed?: string;
}

export interface RawAccessKey {
  status: 'Active' | 'Inactive' | string;
  createDate?: string;
  lastUsed?: string;
}

export interface RawIamUser {
  name: string;
  arn: string;
  tags: Record<string, string>;
  accessKeys: RawAccessKey[];
}

export interface RawVaultRole {
  mount: string;
  name: string;
  boundServiceAccountNames: string[];
  boundServiceAccountNamespaces: string[];
  namespaceSelector?: string;
  policies: string[];
  /** Custom metadata of the operator's owner record for this role (nhi/_owners/<role>), if any. */
  ownerRecord?: Record<string, string>;
}

/** A role of the database secrets engine, as the inventory reads it (never a statement or a login). */
export interface RawDatabaseRole {
  mount: string;
  name: string;
  /** The connection its logins are made on. */
  connection: string;
  /** The identity uid in the operator's ownership mark of its creation statements, if any. */
  ownerUid?: string;
  /** Table privileges beyond SELECT its creation statements grant (INSERT, UPDATE, DELETE). */
  writes: string[];
  quarantined: boolean;
}

export interface RawInventory {
  now: Date;
  identities: AgentIdentity[];
  serviceAccounts: RawServiceAccount[];
  tokenSecrets: RawTokenSecret[];
  pods: RawPod[];
  /** Literal credentials found in workloads, ConfigMaps and annotations (locations, never values). */
  secrets?: RawSecretFinding[];
  /** Present when the AWS source was enabled: roles trusting one of `issuers`, users with keys. */
  aws?: { issuers: string[]; roles: RawIamRole[]; users: RawIamUser[] };
  /** Present when the Vault source was enabled. */
  vault?: { roles: RawVaultRole[]; databaseRoles?: RawDatabaseRole[] };
}

// ---- the read-only ports ----

export interface KubernetesInventoryPort {
  listAgentIdentities(): Promise<AgentIdentity[]>;
  listServiceAccounts(): Promise<RawServiceAccount[]>;
  listTokenSecrets(): Promise<RawTokenSecret[]>;
  listPods(): Promise<RawPod[]>;
  /** Deployments, StatefulSets, DaemonSets, CronJobs, Jobs without a CronJob, and Pods without an owner. */
  listWorkloads(): Promise<RawWorkload[]>;
  listConfigMaps(): Promise<RawConfigMap[]>;
  /** The cluster's ServiceAccount issuer from OIDC discovery; undefined when not published. */
  serviceAccountIssuer(): Promise<string | undefined>;
  /** IRSA issuers named by ClusterCredentialProviders. */
  providerIssuers(): Promise<string[]>;
}

export interface IamInventoryPort {
  listRoles(): Promise<Array<Omit<RawIamRole, 'tags' | 'lastUsed'>>>;
  /** Tags and last use of one role; undefined when it is gone. */
  getRole(name: string): Promise<Pick<RawIamRole, 'tags' | 'lastUsed'> | undefined>;
  listUsers(): Promise<Array<{ name: string; arn: string }>>;
  /** Status, age and last use of each key; never the key id. */
  listAccessKeys(user: string): Promise<RawAccessKey[]>;
  listUserTags(user: string): Promise<Record<string, string>>;
}

export interface VaultInventoryPort {
  listRoles(mount: string): Promise<string[]>;
  readRole(mount: string, name: string): Promise<Omit<RawVaultRole, 'ownerRecord'> | undefined>;
  /** Role name -> custom metadata of the operator's owner records under the KV mount. */
  listOwnerRecords(kvMount: string): Promise<Record<string, Record<string, string>>>;
  /** Roles of the database secrets engine at `mount`. */
  listDatabaseRoles?(mount: string): Promise<string[]>;
  readDatabaseRole?(mount: string, name: string): Promise<RawDatabaseRole | undefined>;
}

export interface InventorySources {
  kubernetes: KubernetesInventoryPort;
  /** `issuers` overrides discovery (the apiserver's issuer plus ClusterCredentialProvider issuers). */
  aws?: { iam: IamInventoryPort; issuers?: string[] };
  vault?: { port: VaultInventoryPort; authMount: string; kvMount: string; databaseMount?: string };
  now?: () => Date;
}

/** A source failed; the message names the call and status, never a token or Secret value. */
export class InventorySourceError extends Error {
  readonly reason: string = 'InventorySourceUnavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InventorySourceError';
  }
}
