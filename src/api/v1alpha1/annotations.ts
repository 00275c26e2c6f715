// Every label and annotation the operator reads or writes on Kubernetes objects and cloud tags.
// Nothing else defines one: the controller, providers, inventory, CLI and docs import these.

import { createHash } from 'node:crypto';

/** Labels and annotations that mark what the operator owns. GC deletes nothing without them. */
export const Marks = {
  managedBy: 'app.kubernetes.io/managed-by',
  managedByValue: 'nhi-operator',
  identityUid: 'nhi.dev/identity-uid',
  identityName: 'nhi.dev/identity',
  owner: 'nhi.dev/owner',
  purpose: 'nhi.dev/purpose',
  /** Workload annotation `nhictl adopt` reads: the sponsor of a new identity. */
  sponsor: 'nhi.dev/sponsor',
  environment: 'nhi.dev/environment',
  /** AWS tag: the owner's contact. */
  contact: 'nhi.dev/contact',
  finalizer: 'nhi.dev/revoke-credentials',
} as const;

/**
 * Annotations a human (or `nhictl`) sets on an AgentIdentity to steer it without touching spec. Each
 * is a protected control: the ValidatingAdmissionPolicy nhi-identity-controls (controls-policy.ts)
 * admits a change only from a requester the authorizer allows the verb in ControlVerbs.
 */
export const Controls = {
  /**
   * The kill switch (`nhictl lock`): `<kubernetes user> at <time>[: reason]`. The value must begin
   * with the requesting user's name (admission checks it), so it names who locked. GitOps does not
   * undo it, as it is not in spec.
   */
  lock: 'nhi.dev/locked',
  /**
   * `vault/old,aws/gone by <kubernetes user>`: backends whose ClusterCredentialProvider was deleted,
   * which a human decided to stop trying to revoke (offboarding would otherwise wait for them
   * forever). Honoured only for backends whose provider is gone; the value must end with the
   * requesting user's name (admission checks it).
   */
  abandonBackends: 'nhi.dev/abandon-backends',
  /**
   * An RFC 3339 time (`nhictl rotate`): rotate every secret rotated before it. Handled once per
   * distinct value (status.secrets[].rotationRequest); a time in the future counts as now.
   */
  rotateRequestedAt: 'nhi.dev/rotate-requested-at',
  /**
   * `<kubernetes user> at <time>[: note]` (`nhictl attest`): the sponsor confirms the identity is
   * still needed. The value must begin with the requesting user's name (admission checks it); the
   * operator records status.attestedAt/attestedBy and an audit record, then removes the annotation.
   */
  attestRequest: 'nhi.dev/attest-requested',
} as const;

/**
 * Pod template annotations the operator sets on an identity's workload to roll its pods after a
 * rotation (spec.secrets[].restartWorkload). `restartedAt` is the one `kubectl rollout restart`
 * writes, so both tools roll the same way; `restartedFor` names the rotation (restart.ts), so a
 * re-reconcile after a crash sees the rollout already done and does not roll twice.
 */
export const RestartAnnotations = {
  restartedAt: 'kubectl.kubernetes.io/restartedAt',
  restartedFor: 'nhi.dev/restarted-for',
} as const;

/**
 * A pod annotation whose change makes kubelet resync that pod at once (any metadata change does), so a
 * rotated Secret reaches its volume without waiting for kubelet's syncFrequency: the nudge the node
 * tests measure (docs/node.md). Its value is the time of the nudge, in milliseconds since the epoch.
 */
export const KUBELET_RESYNC_NUDGE = 'nhi.dev/resync';

/** Annotations the operator sets on an AgentIdentity for itself. */
export const OperatorAnnotations = {
  /**
   * Set before revocation (phase 2) starts, so a revocation once begun is finished, never undone.
   * Only a requester allowed the `revoke` verb (the operator's own role) may set, change or remove it.
   */
  revocationStarted: 'nhi.dev/revocation-started',
} as const;

/**
 * The verb on nhi.dev agentidentities a requester needs, checked at admission with the VAP authorizer,
 * to change each protected annotation (`spec.locked` too, with `lock`). RBAC grants them: the chart's
 * nhi-security ClusterRole holds lock, abandon, rotate and attest (for sponsors, a namespaced Role with
 * attest alone, docs/attestation.md); the operator's own role holds revoke, and attest to clear a recorded attest request.
 */
export const ControlVerbs = {
  [Controls.lock]: 'lock',
  [Controls.abandonBackends]: 'abandon',
  [Controls.rotateRequestedAt]: 'rotate',
  [Controls.attestRequest]: 'attest',
  [OperatorAnnotations.revocationStarted]: 'revoke',
} as const;

/**
 * The verb a requester needs to set `spec.deletionPolicy: Retain` (on create, or changing to it): kept
 * credentials outlive every rotation, expiry and revocation, and cloud ones (an IAM role, a Vault role)
 * are nothing a tenant could make themselves. The nhi-security ClusterRole grants it.
 */
export const RETAIN_VERB = 'retain';

/** The value of the lock annotation: the Kubernetes user first, as admission requires. */
export function lockValue(user: string, at: Date, reason = ''): string {
  return `${user} at ${at.toISOString()}${reason ? `: ${reason}` : ''}`;
}

/** Who set the lock annotation: the user it begins with (`<user> at <time>...`), as admission requires. */
export function lockedBy(value: string): string {
  const at = value.indexOf(' at ');
  return at < 0 ? value : value.slice(0, at);
}

/** The value of the attest annotation: the Kubernetes user first, as admission requires (as the lock's). */
export const attestValue = lockValue;
/** Who set the attest annotation: the user it begins with. */
export const attestedByOf = lockedBy;

/**
 * How status.attestationRequest records an attest request once handled: the SHA-256 of the whole
 * value (a prefix could cut the time off a long user name and make two requests one).
 */
export function attestRequestKey(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Separates the backend keys from the user in the abandon annotation (`<keys> by <user>`). */
export const ABANDONED_BY = ' by ';

/** The value of the abandon annotation: backend keys, then the Kubernetes user, as admission requires. */
export function abandonValue(keys: readonly string[], user: string): string {
  return `${keys.join(',')}${ABANDONED_BY}${user}`;
}

/** The abandon annotation read back: the backend keys listed and who listed them (if recorded). */
export function parseAbandonValue(value: string | undefined): { keys: string[]; by?: string } {
  const text = value ?? '';
  const at = text.indexOf(ABANDONED_BY);
  const list = at < 0 ? text : text.slice(0, at);
  const by = at < 0 ? '' : text.slice(at + ABANDONED_BY.length).trim();
  const keys = list
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  return by ? { keys, by } : { keys };
}

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
  /**
   * On a target Secret whose current value `nhictl adopt` wrote (a hard-coded literal taken over):
   * where the literal was, `<Kind>/<namespace>/<name> container <c> <field> by <user>` (never the
   * value), and the version adopt wrote. The operator records an `adopted` audit record when it takes
   * that version over (rotate.ts); the next rotation removes both.
   */
  adoptedFrom: 'nhi.dev/adopted-from',
  adoptedVersion: 'nhi.dev/adopted-version',
  /** On a login target Secret (database.target): when the current login's lease ends. */
  leaseExpiresAt: 'nhi.dev/lease-expires-at',
  /**
   * `<why> at <time>`: the AgentIdentity went away and the operator left this object in place on
   * purpose (spec.deletionPolicy Retain, or the AgentIdentity API itself being removed). Nothing
   * deletes it any more; a human does, when no workload needs it.
   */
  retained: 'nhi.dev/retained',
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

/** The reportingController of the Events nhictl records itself (e.g. `nhictl adopt`). */
export const NHICTL_REPORTING_CONTROLLER = 'nhi.dev/nhictl';
