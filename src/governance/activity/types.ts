// One activity record: a request an audit source saw, reduced to who, what, on which resource,
// with which outcome, from where and when. Only these fields are kept: no request or response body,
// no token (not even HMAC'd), no secret value. Strings pass through maskSecrets on the way in.

import type { ActivityBackendSummary } from '../../api/v1alpha1/types.ts';

export type ActivityBackend = ActivityBackendSummary['backend'];
export type ActivityOutcome = 'allowed' | 'denied' | 'error';

/** A parsed event, not yet attributed to an AgentIdentity. */
export interface ActivityEvent {
  time: string;
  backend: ActivityBackend;
  /**
   * Who made it, as the backend names the caller: `system:serviceaccount:<ns>:<sa>` (kubernetes),
   * `role=<role> sa=<ns>/<sa>` from the kubernetes auth metadata (vault), the role ARN (aws).
   */
  principal: string;
  /** Kubernetes verb, Vault operation, or `<service>:<EventName>` for AWS. */
  verb: string;
  resource: string;
  outcome: ActivityOutcome;
  /** HTTP status (kubernetes), or the AWS error code; absent when the source gives none. */
  code?: string;
  sourceAddress?: string;
  /** The parts of `principal` that attribution matches on. */
  match: PrincipalMatch;
  /** Kubernetes: the object reference, structured, for right-sizing against RBAC rules. */
  target?: KubernetesTarget;
}

export interface KubernetesTarget {
  /** `''` for the core group. */
  apiGroup: string;
  /** The resource with its subresource: `pods`, `pods/log`. */
  resource: string;
  namespace?: string;
  name?: string;
}

export interface PrincipalMatch {
  /** Kubernetes ServiceAccount as namespace and name (kubernetes; vault's kubernetes auth metadata). */
  serviceAccount?: { namespace: string; name: string };
  /** Vault kubernetes auth role name. */
  vaultRole?: string;
  /** AWS IAM role name (from the session issuer or the assumed-role ARN). */
  awsRoleName?: string;
}

export interface IdentityRefLite {
  namespace: string;
  name: string;
  owner: string;
  purpose: string;
}

/** An event attributed to the AgentIdentity whose principal made it. */
export interface ActivityRecord extends Omit<ActivityEvent, 'match' | 'target'> {
  identity: IdentityRefLite;
}

/** Per backend: requests, denials, errors and the last allowed request (the API's status type). */
export type BackendSummary = ActivityBackendSummary;

export interface ParseStats {
  lines: number;
  /** Lines that were not JSON or not an event of the source's shape (skipped, never fatal). */
  skipped: number;
  /** The time of the earliest event in the source: where its evidence starts. */
  firstEvent?: string;
}
