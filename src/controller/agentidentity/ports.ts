// What the AgentIdentity reconciler needs from the world, as narrow ports injected by main.ts.

import type { AnomalyLimits } from '../../api/v1alpha1/defaults.ts';
import type {
  ActivityStatus,
  AgentIdentity,
  AgentIdentityStatus,
  IdentityPolicy,
  SecretSpec,
  WebhookSpec,
} from '../../api/v1alpha1/types.ts';
import type { AuditSink } from '../../governance/audit/audit.ts';
import type { ProviderRegistry } from '../../providers/registry.ts';
import type { IdentityRef, SecretMaterial } from '../../providers/types.ts';
import type { Logger } from '../../runtime/logger.ts';
import type { WorkloadPort } from './workload.ts';

export interface IdentityStore {
  /** The cached object (the informer's view), or undefined when it is gone. */
  get(namespace: string, name: string): AgentIdentity | undefined;
  /**
   * Whether `identity` (as cached) is a version this process has written over: the cache has not
   * caught up with its own write yet, and acting on it would repeat what that write recorded.
   */
  isStale?(identity: AgentIdentity): boolean;
  /**
   * Writes status through the subresource only when it changed; ConflictError on 409. Returns the
   * object as stored afterwards, or undefined when nothing needed writing.
   */
  writeStatus(identity: AgentIdentity, status: AgentIdentityStatus): Promise<AgentIdentity | undefined>;
  /** Returns the object as stored afterwards, so the same reconcile can write status without a 409. */
  addFinalizer(identity: AgentIdentity, finalizer: string): Promise<AgentIdentity>;
  /** Sets (string) or removes (null) annotations on the AgentIdentity with a merge patch. */
  annotate(identity: AgentIdentity, annotations: Record<string, string | null>): Promise<void>;
  removeFinalizer(identity: AgentIdentity, finalizer: string): Promise<void>;
}

export interface Notifier {
  /** A Kubernetes Event on the AgentIdentity. Messages never carry secret values. */
  event(identity: AgentIdentity, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

/** A CloudEvents 1.0 event in structured JSON mode, as the webhook sends it. Never a secret value. */
export interface CloudEvent {
  specversion: '1.0';
  /** The notification's dedupe key, hashed: the same occurrence always has the same id. */
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  data: Record<string, unknown>;
}

/**
 * Delivers one notification to the IdentityPolicy's webhook (adapters/webhook/): signed, over HTTPS,
 * retried with backoff. Rejects when every attempt failed; the message names no secret.
 */
export interface WebhookPort {
  deliver(webhook: WebhookSpec, event: CloudEvent): Promise<void>;
}

/** Writes the current/previous values of an externally stored secret into its Kubernetes target Secret. */
export type TargetSync = (ref: IdentityRef, secret: SecretSpec, material: SecretMaterial) => Promise<boolean>;

/**
 * Facts the reconciler counts for Prometheus (RuntimeMetrics in production), each reported by the
 * step that establishes it. `key` is a status.providers entry (`kubernetes`, `aws/<name>`, ...).
 * Identity phases and conditions are not reported here: the metrics read them from the cache.
 */
export interface IdentityMetrics {
  /** provision.ts: a backend had drifted; it was restored, or still differs. */
  driftCorrected(key: string, result: 'restored' | 'failed'): void;
  /** provision.ts: credentials remain in a backend whose ClusterCredentialProvider is gone. */
  credentialsStranded(key: string): void;
  /**
   * backends.ts: revoking in this backend failed, whichever step asked (revocation after the
   * quarantine period, offboarding, a scope removed from the spec).
   */
  revocationBlocked(key: string): void;
  /**
   * deletion.ts: offboarding in a namespace being deleted kept failing past its bound, and the
   * finalizer was released with this backend's credentials left in place.
   */
  offboardingReleased(key: string): void;
}

/** Why an AgentIdentity is being deleted, read only when one is (deletion.ts decides what follows). */
export interface DeletionFacts {
  /**
   * Whether the AgentIdentity CustomResourceDefinition itself is being deleted (an uninstall, a
   * GitOps prune): then every AgentIdentity goes and no credential may. Throws when it cannot be
   * read: then nothing is revoked and offboarding is retried.
   */
  apiBeingRemoved(): Promise<boolean>;
  /** When the namespace began terminating (from the informer cache); undefined when it is not. */
  namespaceDeletedAt(namespace: string): Date | undefined;
  /** How long offboarding in a terminating namespace may fail before release (defaults.ts). */
  releaseAfterMs: number;
}

export interface ReconcilerDeps {
  store: IdentityStore;
  workloads: WorkloadPort;
  providers: ProviderRegistry;
  /** The IdentityPolicy in force (named `default`), if any. */
  policy: () => IdentityPolicy | undefined;
  /** Operator-side re-check of the admission rules: field-named violations, empty when compliant. */
  checkPolicy: (identity: AgentIdentity, policy: IdentityPolicy | undefined) => string[];
  syncTarget: TargetSync;
  audit: AuditSink;
  notifier: Notifier;
  /** Owner notifications by webhook, when the IdentityPolicy configures one (notifications.ts). */
  webhook?: WebhookPort | undefined;
  metrics: IdentityMetrics;
  deletion: DeletionFacts;
  logger: Logger;
  now: () => Date;
  actor: string;
  dryRun: boolean;
  driftIntervalMs: number;
  /** The activity summary from the audit logs the operator follows (governance/activity); none: no summary. */
  activity?: ActivityPort | undefined;
}

/** Requests, denials and last use per backend in the window, for status.activity. Best effort, never throws. */
export interface ActivityPort {
  /** With `limits`, also the baseline and the anomalies against the recorded status.activity. */
  summaryFor(identity: AgentIdentity, now: Date, limits?: AnomalyLimits): ActivityStatus | undefined;
}
