// Provisioning (condition Provisioned): every provider the identity needs converges its part.
//
// Order matters for safety:
//  1. the ServiceAccount must be ours (or free) before any backend is told to trust it — otherwise an
//     identity naming someone else's ServiceAccount would hand that account a cloud role;
//  2. cloud providers run next, so the annotations they need on the ServiceAccount (an IRSA role ARN)
//     reach the kubernetes provider, which runs last and owns the ServiceAccount;
//  3. backends the spec no longer names are revoked, so removing a scope leaves no ghost credential.
// Which backends hold credentials is recorded in status.providers before any is created (the
// reconciler writes that intent first), so a crash can never lose track of one.

import type { AgentIdentityStatus, PlannedChange } from '../../api/v1alpha1/types.ts';
import type { ProviderEntry } from '../../providers/registry.ts';
import type { IdentityRef } from '../../providers/types.ts';
import { ABANDON_ANNOTATION } from './lifecycle.ts';
import type { ReconcilerDeps } from './ports.ts';
import { applyPhase } from './revocation.ts';
import { auditIdentity } from './rotation.ts';

export interface ProvisionOutcome {
  status: Pick<AgentIdentityStatus, 'serviceAccount' | 'aws' | 'vault'>;
  changes: PlannedChange[];
  /** The backends now holding credentials (status.providers). */
  providers: string[];
  /** Recorded backends whose ClusterCredentialProvider is gone: nothing can revoke there. */
  stranded: string[];
}

function ordered(entries: ProviderEntry[]): ProviderEntry[] {
  return [
    ...entries.filter((p) => p.kind !== 'kubernetes'),
    ...entries.filter((p) => p.kind === 'kubernetes'),
  ];
}

/** Backends the spec needs that status does not record yet: their intent must be written first. */
export function unrecordedProviders(deps: ReconcilerDeps, ref: IdentityRef): string[] {
  const recorded = new Set(ref.identity.status?.providers ?? []);
  return deps.providers
    .forIdentity(ref.identity)
    .map((e) => e.key)
    .filter((k) => !recorded.has(k));
}

/**
 * `steady`: the spec did not change since the last successful provision, so any change made now puts
 * back what someone altered behind the operator's back — recorded as drift, with high severity.
 */
export async function provisionAll(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  steady = false,
): Promise<ProvisionOutcome> {
  const entries = deps.providers.forIdentity(ref.identity);
  // Before a cloud backend is told to trust the ServiceAccount, make sure it is ours (or free):
  // plan() throws NotOwnedError otherwise. Without cloud backends the kubernetes provider's own
  // provision refuses before writing anything, so the extra reads are skipped.
  if (entries.some((e) => e.kind !== 'kubernetes')) {
    await entries.find((e) => e.kind === 'kubernetes')?.provider.plan(ref);
  }

  const annotations: Record<string, string> = {};
  const status: ProvisionOutcome['status'] = {};
  const changes: PlannedChange[] = [];
  for (const { kind, key, provider } of ordered(entries)) {
    const result = await provider.provision({ ...ref, serviceAccountAnnotations: annotations });
    Object.assign(annotations, result.serviceAccountAnnotations ?? {});
    if (kind === 'aws') status.aws = result.status;
    if (kind === 'vault') status.vault = result.status;
    if (kind === 'kubernetes')
      status.serviceAccount = result.status.serviceAccount ?? ref.subject.serviceAccountName;
    changes.push(...result.changes);
    for (const change of result.changes) {
      await deps.audit.record({
        action: steady ? 'drift-corrected' : 'provisioned',
        identity: auditIdentity(ref.identity),
        actor: deps.actor,
        resource: `${key}:${change.resource}`,
        origin: steady ? 'drift: restored the desired state' : 'reconcile',
        outcome: 'success',
        ...(steady && { severity: 'high' as const }),
        detail: `${change.action}: ${change.reason}`,
      });
    }
  }

  const wanted = entries.map((e) => e.key);
  const stale = staleBackends(deps, ref, wanted);
  if (stale.revoke.length > 0)
    await applyPhase(deps, ref, stale.revoke, 'revoke', 'scope removed from the spec');
  return { status, changes, providers: [...wanted, ...stale.stranded], stranded: stale.stranded };
}

/**
 * Recorded backends the spec no longer names. Revoked when their backend is gone from the spec;
 * dropped without revoking when another wanted key names the same backend (a ClusterCredentialProvider
 * renamed or re-pointed: the credentials are still in use); kept as stranded when their provider
 * object no longer exists, so nothing can revoke them and a human must decide.
 */
export function staleBackends(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  wanted: string[],
): { revoke: string[]; stranded: string[] } {
  const wantedBackends = new Set(wanted.map((k) => deps.providers.backendOf(k)));
  const abandoned = abandonedBackends(ref);
  const revoke: string[] = [];
  const stranded: string[] = [];
  for (const key of ref.identity.status?.providers ?? []) {
    if (wanted.includes(key) || abandoned.includes(key)) continue;
    const backend = deps.providers.backendOf(key);
    if (backend === undefined) stranded.push(key);
    else if (!wantedBackends.has(backend)) revoke.push(key);
  }
  return { revoke, stranded };
}

export function abandonedBackends(ref: IdentityRef): string[] {
  return (ref.identity.metadata.annotations?.[ABANDON_ANNOTATION] ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
}

/** What provisioning would change now, without changing anything (status.plan, --dry-run). */
export async function planAll(deps: ReconcilerDeps, ref: IdentityRef): Promise<PlannedChange[]> {
  const entries = deps.providers.forIdentity(ref.identity);
  const plans = await Promise.all(ordered(entries).map(({ provider }) => provider.plan(ref)));
  const wanted = entries.map((e) => e.key);
  const stale = (ref.identity.status?.providers ?? []).filter((k) => !wanted.includes(k));
  return [
    ...plans.flat(),
    ...stale.map((key) => ({ action: 'revoke', resource: key, reason: 'scope removed from the spec' })),
  ];
}
