// Every label and annotation the operator reads or writes on Kubernetes objects and cloud tags.
// Nothing else defines one: the controller, providers, inventory, CLI and docs import these.

/** Labels and annotations that mark what the operator owns. GC deletes nothing without them. */
export const Marks = {
  managedBy: 'app.kubernetes.io/managed-by',
  managedByValue: 'nhi-operator',
  identityUid: 'nhi.dev/identity-uid',
  identityName: 'nhi.dev/identity',
  owner: 'nhi.dev/owner',
  purpose: 'nhi.dev/purpose',
  environment: 'nhi.dev/environment',
  /** AWS tag: the owner's contact. */
  contact: 'nhi.dev/contact',
  finalizer: 'nhi.dev/revoke-credentials',
} as const;

/** Annotations a human (or `nhictl`) sets on an AgentIdentity to steer it without touching spec. */
export const Controls = {
  /** The kill switch (`nhictl lock`): who and when. GitOps does not undo it, as it is not in spec. */
  lock: 'nhi.dev/locked',
  /**
   * `vault/old,aws/gone`: backends whose ClusterCredentialProvider was deleted, which a human decided
   * to stop trying to revoke (offboarding would otherwise wait for them forever).
   */
  abandonBackends: 'nhi.dev/abandon-backends',
  /** An RFC 3339 time (`nhictl rotate`): rotate every secret rotated before it. */
  rotateRequestedAt: 'nhi.dev/rotate-requested-at',
} as const;

/** Annotations the operator sets on an AgentIdentity for itself. */
export const OperatorAnnotations = {
  /** Set before revocation (phase 2) starts, so a revocation once begun is finished, never undone. */
  revocationStarted: 'nhi.dev/revocation-started',
} as const;

/** Marks on the ServiceAccount, RoleBinding and target Secrets the Kubernetes provider writes. */
export const ObjectMarks = {
  quarantined: 'nhi.dev/quarantined',
  quarantinedAt: 'nhi.dev/quarantined-at',
  /** Comma-separated keys of annotations other providers asked for (so they can be removed later). */
  extraAnnotations: 'nhi.dev/extra-annotations',
  /** Label on a target Secret: the spec.secrets[].name it holds. */
  secret: 'nhi.dev/secret',
  backend: 'nhi.dev/backend',
  currentVersion: 'nhi.dev/current-version',
  previousVersion: 'nhi.dev/previous-version',
  rotatedAt: 'nhi.dev/rotated-at',
  previousRetireAt: 'nhi.dev/previous-retire-at',
} as const;

/** Custom metadata the Vault provider keeps on the KV records that prove ownership of a role. */
export const VaultMarks = {
  namespace: 'nhi.dev/namespace',
  role: 'nhi.dev/vault-role',
  policy: 'nhi.dev/vault-policy',
  authMount: 'nhi.dev/kubernetes-auth-mount',
} as const;

/** The Kubernetes Event reporting controller. */
export const REPORTING_CONTROLLER = 'nhi.dev/nhi-operator';
