// The CredentialProvider port: every backend (Kubernetes, AWS, Vault/OpenBao) implements it and is
// registered explicitly in main.ts. The controller decides *what* should happen (pure policies over
// gathered state); a provider only *does* it, idempotently, for one identity at a time.
//
// Contract every implementation keeps:
//  - Every call is idempotent and safe to repeat after a crash at any point: look up by the
//    deterministic name (and ownership tag) before creating; adopt what carries our marks; refuse
//    (NotOwnedError) what does not.
//  - Nothing without our ownership marks is ever modified or deleted. "Already gone" is success.
//  - A provider error never deletes anything: throw, and the controller retries with backoff.
//  - No secret value is ever put in an error message, a log line or a returned status field.

import type { AgentIdentity, PlannedChange, ProviderKind, SecretSpec } from '../api/v1alpha1/types.ts';

/** The subject a provider binds to: exactly one ServiceAccount in one namespace. */
export interface BoundSubject {
  namespace: string;
  serviceAccountName: string;
}

export interface IdentityRef {
  identity: AgentIdentity;
  subject: BoundSubject;
  /** Annotations other providers need on the managed ServiceAccount (e.g. eks.amazonaws.com/role-arn); the kubernetes provider applies them. */
  serviceAccountAnnotations?: Record<string, string>;
}

/** What a provision call established; merged into status by the controller. */
export interface ProvisionResult {
  /** Status fragment for this provider, e.g. { roleArn, policyHash } or { role, policy }. */
  status: Record<string, string>;
  /** Counts merged into the same status fragment (vault: databaseLeases). Never a credential. */
  counts?: Record<string, number>;
  /** Annotations the managed ServiceAccount must carry (e.g. eks.amazonaws.com/role-arn). */
  serviceAccountAnnotations?: Record<string, string>;
  /** What changed; empty when everything was already as desired. */
  changes: PlannedChange[];
}

export interface SecretVersionRef {
  version: number;
  /** Opaque id in the backend (SM VersionId, KV version number as string, ...). */
  id?: string;
  createdAt?: string;
  /**
   * Where `nhictl adopt` took this version's value from (a workload's literal, never the value):
   * set by the kubernetes backend when the target Secret's adoption marks name this version.
   */
  adoptedFrom?: string;
}

/** Secret material handed back to the controller so it can sync the Kubernetes target. Never logged. */
export interface SecretMaterial {
  current: SecretVersionRef & { value: string };
  previous?: SecretVersionRef & { value: string };
}

export interface RotationResult {
  material: SecretMaterial;
  /** Number of writes made to the backend by this rotation (the contract is at most one). */
  writes: number;
}

export interface Observation {
  /** Most recent real use of the identity's credentials, when the backend exposes it. */
  lastUsed?: Date;
  /** Differences between the live state and the desired state (drift), already corrected if `corrected`. */
  drift: Array<{ resource: string; field: string; detail: string }>;
  corrected: boolean;
  /** Pods currently bound to the identity's ServiceAccount, when the backend can count them. */
  boundPods?: number;
}

/** A login a provider issued for a target Secret (a database login). Never logged. */
export interface IssuedLogin {
  username: string;
  password: string;
  /** When its lease ends: the login stops working then. */
  expiresAt: Date;
  /** Revokes the login at once: it could not be stored, so no one may hold it. */
  discard(): Promise<void>;
}

/** What keeping a login target filled did: times and reasons only, never a value. */
export interface LoginTargetResult {
  /** A login was written: why ('first login', 'renewal at 2/3 of its lease', ...). */
  renewed?: string;
  /** The previous login left the Secret (its lease ended). */
  retired?: boolean;
  /** The Secret is quarantined (emptied): nothing written, only restore() lifts it. */
  quarantined?: boolean;
  /** When the Secret needs attention again (renewal, retirement). */
  nextAt?: Date;
}

/**
 * Keeps a login in a Kubernetes Secret of the identity's namespace, with the operator's marks (the
 * Kubernetes provider empties it at quarantine and deletes it at revocation): calls `issue` only
 * when a new login is due, and writes it with the replaced one staged as previous until its lease
 * ends. Implemented over the Kubernetes API (kubernetes/login-secret.ts).
 */
export type LoginTargetSync = (
  ref: IdentityRef,
  secretName: string,
  /** Makes a new login; `reason` says why one is due ('first login', 'renewal at …'). */
  issue: (reason: string) => Promise<IssuedLogin>,
) => Promise<LoginTargetResult>;

/** What the caller of renewLogins hears before a login is made (the audit's intent record). */
export interface LoginHooks {
  beforeIssue?(resource: string, reason: string): Promise<void>;
}

/** Logins kept in target Secrets by one provider for one identity (renewLogins). */
export interface LoginRenewal {
  /** Each target written, for the audit record: resource and why. */
  renewed: PlannedChange[];
  nextAt?: Date;
}

export interface RotateOptions {
  /**
   * The current version the caller based its decision on. When the backend's current version is
   * already different (a previous attempt landed, or someone else rotated), rotate writes nothing
   * and returns the live material with `writes: 0`. Makes a retried rotation idempotent.
   */
  expectedCurrentVersion?: number;
}

/**
 * An existing object this provider does not own, as read for an Observe-mode identity: never written.
 * `digest` is a SHA-256 over everything read (trust, tags, policies), so a change shows up.
 */
export type ForeignRole =
  | {
      kind: 'iam-role';
      name: string;
      arn: string;
      trustPolicy: unknown;
      /** The cluster OIDC issuer(s) whose `sub` conditions name ServiceAccounts. */
      issuers: string[];
      lastUsed?: Date;
      digest: string;
    }
  | {
      kind: 'vault-role';
      name: string;
      boundServiceAccountNames: string[];
      boundServiceAccountNamespaces: string[];
      namespaceSelector: string;
      digest: string;
    };

export interface CredentialProvider {
  readonly kind: ProviderKind;
  /** What provision() would change right now, without changing anything. */
  plan(ref: IdentityRef): Promise<PlannedChange[]>;
  /** Create or adopt, and converge, everything this identity needs from this backend. */
  provision(ref: IdentityRef): Promise<ProvisionResult>;
  /** Staged rotation of one secret owned by this backend: new value becomes current, old stays as previous. */
  rotate(ref: IdentityRef, secret: SecretSpec, options?: RotateOptions): Promise<RotationResult>;
  /** Read the current/previous material of a secret without writing (for syncing targets). */
  readSecret(ref: IdentityRef, secret: SecretSpec): Promise<SecretMaterial | undefined>;
  /** Retire the previous value of a secret after its overlap window. */
  retirePrevious(ref: IdentityRef, secret: SecretSpec): Promise<void>;
  /** Phase 1: disable everything the identity can do, reversibly, cutting off issued credentials. */
  quarantine(ref: IdentityRef): Promise<void>;
  /** Undo quarantine (the workload came back). */
  restore(ref: IdentityRef): Promise<void>;
  /** Phase 2: delete everything we own for this identity. Already gone is success. */
  revoke(ref: IdentityRef): Promise<void>;
  /** Last use and drift; may correct drift when asked. */
  observe(ref: IdentityRef, options: { correctDrift: boolean }): Promise<Observation>;
  /**
   * Optional: keeps the identity's login targets filled (a database login in a Secret), renewing a
   * login when it is due. Never while quarantined. The rotate step calls it after provisioning.
   */
  renewLogins?(ref: IdentityRef, hooks?: LoginHooks): Promise<LoginRenewal>;
  /**
   * Optional: the AgentIdentity goes and its credentials stay (deletionPolicy Retain, or the
   * AgentIdentity API being removed): mark what this backend holds for it as retained, changing
   * nothing a workload uses. A backend without it leaves its objects as they are (ownership tags kept).
   */
  retain?(ref: IdentityRef, why: string): Promise<void>;
  /** Optional, read-only (Observe mode): a role this provider does not own; undefined when it is absent. */
  inspectForeignRole?(name: string): Promise<ForeignRole | undefined>;
}

// ---- writes completed before a failure ----

const COMPLETED = Symbol.for('nhi.dev/completed-changes');

/**
 * Marks `error` with writes the provider completed before it failed (a role created, then its policy
 * write failed), so the caller can audit them: nothing the operator did goes unrecorded. Returns it.
 */
export function withCompletedChanges(error: unknown, changes: readonly PlannedChange[]): unknown {
  if (changes.length === 0 || typeof error !== 'object' || error === null) return error;
  const all = [...completedChanges(error), ...changes];
  Object.defineProperty(error, COMPLETED, { value: all, configurable: true, enumerable: false });
  return error;
}

export function completedChanges(error: unknown): PlannedChange[] {
  if (typeof error !== 'object' || error === null) return [];
  return ((error as Record<symbol, unknown>)[COMPLETED] as PlannedChange[] | undefined) ?? [];
}

// ---- typed errors: each carries a `reason` that maps to a condition reason ----

export class ProviderError extends Error {
  readonly reason: string = 'ProviderError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class NotFoundError extends ProviderError {
  override readonly reason = 'NotFound';
}

/** The object exists under our deterministic name but does not carry our ownership marks. */
export class NotOwnedError extends ProviderError {
  override readonly reason = 'NotOwned';
}

export class ThrottledError extends ProviderError {
  override readonly reason = 'Throttled';
}

export class UnavailableError extends ProviderError {
  override readonly reason = 'ProviderUnavailable';
}

export class InvalidConfigError extends ProviderError {
  override readonly reason = 'InvalidProviderConfig';
}
