// The identity's kubernetes auth role: bound to exactly one ServiceAccount in one namespace (never a
// wildcard, never a namespace selector), issuing short-lived service tokens with only the identity's
// policy. Quarantine swaps the bound name for a sentinel no ServiceAccount can have (':' is not
// allowed in Kubernetes names), so every new login fails while the role itself stays in place.

import type { BoundSubject } from '../types.ts';
import type { KubernetesAuthRole } from './port.ts';

export const QUARANTINE_SENTINEL = 'nhi.dev:quarantined';

export interface RoleSettings {
  tokenTtlSeconds: number;
  tokenMaxTtlSeconds: number;
  audience: string;
}

export function desiredRole(
  subject: BoundSubject,
  policy: string,
  settings: RoleSettings,
  quarantined: boolean,
): KubernetesAuthRole {
  return {
    boundServiceAccountNames: [quarantined ? QUARANTINE_SENTINEL : subject.serviceAccountName],
    boundServiceAccountNamespaces: [subject.namespace],
    boundServiceAccountNamespaceSelector: '',
    tokenPolicies: [policy],
    tokenTtlSeconds: settings.tokenTtlSeconds,
    tokenMaxTtlSeconds: Math.max(settings.tokenMaxTtlSeconds, settings.tokenTtlSeconds),
    tokenPeriodSeconds: 0,
    tokenType: 'service',
    audience: settings.audience,
  };
}

export function isQuarantinedRole(role: KubernetesAuthRole): boolean {
  return role.boundServiceAccountNames.includes(QUARANTINE_SENTINEL);
}

export interface FieldDifference {
  field: string;
  detail: string;
}

const FIELDS: Array<[keyof KubernetesAuthRole, string]> = [
  ['boundServiceAccountNames', 'bound_service_account_names'],
  ['boundServiceAccountNamespaces', 'bound_service_account_namespaces'],
  ['boundServiceAccountNamespaceSelector', 'bound_service_account_namespace_selector'],
  ['tokenPolicies', 'token_policies'],
  ['tokenTtlSeconds', 'token_ttl'],
  ['tokenMaxTtlSeconds', 'token_max_ttl'],
  ['tokenPeriodSeconds', 'token_period'],
  ['tokenType', 'token_type'],
  ['audience', 'audience'],
];

function show(value: unknown): string {
  return Array.isArray(value) ? `[${value.join(', ')}]` : JSON.stringify(value);
}

function same(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && [...a].sort().every((v, i) => v === [...b].sort()[i]);
  }
  return a === b;
}

/** Each field of the live role that differs from the desired one (names and TTLs, never secrets). */
export function roleDifferences(live: KubernetesAuthRole, desired: KubernetesAuthRole): FieldDifference[] {
  const differences: FieldDifference[] = [];
  for (const [key, wire] of FIELDS) {
    if (same(live[key], desired[key])) continue;
    // A token type of 'default' on a kubernetes role issues service tokens: equivalent.
    if (key === 'tokenType' && live.tokenType === 'default' && desired.tokenType === 'service') continue;
    differences.push({ field: wire, detail: `expected ${show(desired[key])}, found ${show(live[key])}` });
  }
  return differences;
}
