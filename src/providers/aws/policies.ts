// IAM policy documents the provider writes, rendered as stable JSON (sorted keys, sorted and
// de-duplicated lists) so equal inputs always give byte-equal documents and equal hashes.

import type { AwsScope } from '../../api/v1alpha1/types.ts';
import type { BoundSubject } from '../types.ts';
import { shortHash } from './names.ts';

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: Record<string, string | string[]>;
  Action: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: Statement[];
}

/** IAM's limit on the inline policies of one role, in characters (whitespace not counted by IAM). */
export const INLINE_POLICY_MAX = 10_240;

/** JSON with object keys sorted at every level. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return Object.fromEntries(entries.map(([k, v]) => [k, sortKeys(v)]));
  }
  return value;
}

/** IAM treats `"x"` and `["x"]` alike and ignores list order: normalize both before comparing. */
function normalize(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(normalize);
    if (items.every((i) => typeof i === 'string')) {
      const unique = [...new Set(items as string[])].sort();
      return unique.length === 1 ? unique[0] : unique;
    }
    return items
      .map((i) => canonicalJson(i))
      .sort()
      .map((i) => JSON.parse(i) as unknown);
  }
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, normalize(v)]),
    );
  }
  return value;
}

/** Whether a live document (parsed) grants the same as the desired one. */
export function samePolicy(live: unknown, desired: PolicyDocument | undefined): boolean {
  if (desired === undefined) return live === undefined;
  return canonicalJson(normalize(live)) === canonicalJson(normalize(desired));
}

export function policyHash(document: PolicyDocument | undefined): string {
  return document ? shortHash(canonicalJson(document), 16) : 'none';
}

/** `https://oidc.eks.us-east-1.amazonaws.com/id/ABC/` -> `oidc.eks.us-east-1.amazonaws.com/id/ABC`. */
export function issuerHost(issuer: string): string {
  return issuer.replace(/^https:\/\//, '').replace(/\/+$/, '');
}

export function serviceAccountSubject(subject: BoundSubject): string {
  return `system:serviceaccount:${subject.namespace}:${subject.serviceAccountName}`;
}

/** IRSA: only this ServiceAccount's tokens, only for STS, from this cluster's OIDC provider. */
export function irsaTrustPolicy(
  oidcProviderArn: string,
  issuer: string,
  subject: BoundSubject,
): PolicyDocument {
  const host = issuerHost(issuer);
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'NhiIrsaServiceAccount',
        Effect: 'Allow',
        Principal: { Federated: oidcProviderArn },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: {
            [`${host}:aud`]: 'sts.amazonaws.com',
            [`${host}:sub`]: serviceAccountSubject(subject),
          },
        },
      },
    ],
  };
}

/**
 * EKS Pod Identity: the EKS Auth service assumes the role and tags the session; the conditions on
 * those session tags bind the role to this cluster, namespace and ServiceAccount.
 */
export function podIdentityTrustPolicy(
  clusterName: string,
  subject: BoundSubject,
  accountId?: string,
): PolicyDocument {
  const equals: Record<string, string> = {
    'aws:RequestTag/eks-cluster-name': clusterName,
    'aws:RequestTag/kubernetes-namespace': subject.namespace,
    'aws:RequestTag/kubernetes-service-account': subject.serviceAccountName,
  };
  if (accountId) equals['aws:SourceAccount'] = accountId;
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'NhiPodIdentityServiceAccount',
        Effect: 'Allow',
        Principal: { Service: 'pods.eks.amazonaws.com' },
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        Condition: { StringEquals: equals },
      },
    ],
  };
}

const sortedUnique = (items: readonly string[]) => [...new Set(items)].sort();

/** One Allow statement per distinct scope, independent of scope order; undefined when there are none. */
export function scopesPolicy(scopes: readonly AwsScope[]): PolicyDocument | undefined {
  const bodies = new Map<string, { Action: string[]; Resource: string[] }>();
  for (const scope of scopes) {
    if (scope.actions.length === 0 || scope.resources.length === 0) continue;
    const body = { Action: sortedUnique(scope.actions), Resource: sortedUnique(scope.resources) };
    bodies.set(canonicalJson(body), body);
  }
  if (bodies.size === 0) return undefined;
  const ordered = [...bodies.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, body]) => body);
  return {
    Version: '2012-10-17',
    Statement: ordered.map((body, i) => ({ Sid: `NhiScope${i}`, Effect: 'Allow', ...body })),
  };
}

/** Seconds-precision ISO-8601, as IAM condition dates are usually written. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Quarantine: deny everything, and deny every session issued before `nowMs` (the documented way to
 * revoke already-issued role sessions; it still holds if the deny-all statement is edited away).
 */
export function quarantinePolicy(nowMs: number): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'NhiQuarantineDenyAll', Effect: 'Deny', Action: '*', Resource: '*' },
      {
        Sid: 'NhiRevokeEarlierSessions',
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { DateLessThan: { 'aws:TokenIssueTime': isoSeconds(nowMs) } },
      },
    ],
  };
}

/** The deny statements a quarantine policy must contain (its timestamp may be any). */
export function isQuarantinePolicy(live: unknown): boolean {
  const statements = (live as { Statement?: Statement[] } | undefined)?.Statement;
  if (!Array.isArray(statements)) return false;
  const denyAll = statements.some(
    (s) => s.Effect === 'Deny' && s.Action === '*' && s.Resource === '*' && !s.Condition,
  );
  const cutOff = statements.some(
    (s) => s.Effect === 'Deny' && s.Condition?.DateLessThan?.['aws:TokenIssueTime'],
  );
  return denyAll && cutOff;
}

export const renderPolicy = (document: PolicyDocument): string => canonicalJson(document);
