// Provisioning (condition Provisioned) and drift: every provider the identity needs converges its
// part, and what someone changed behind the operator's back is put back and recorded.
//
// Order matters for safety:
//  1. which backends will hold credentials is recorded in status.providers before any is created, so
//     a crash can never lose track of one (recordIntent);
//  2. the ServiceAccount must be ours (or free) before any backend is told to trust it — otherwise an
//     identity naming someone else's ServiceAccount would hand that account a cloud role;
//  3. cloud providers run next, so the annotations they need on the ServiceAccount (an IRSA role ARN)
//     reach the kubernetes provider, which runs last and owns the ServiceAccount;
//  4. backends the spec no longer names are revoked, so removing a scope leaves no ghost credential.

import { Controls } from '../../api/v1alpha1/annotations.ts';
import type {
  AgentIdentity,
  AgentIdentityStatus,
  PlannedChange,
  ProviderKind,
} from '../../api/v1alpha1/types.ts';
import { KUBERNETES_KEY, type ProviderEntry } from '../../providers/registry.ts';
import { withRequestIds } from '../../providers/request-ids.ts';
import {
  type CredentialProvider,
  completedChanges,
  type IdentityRef,
  type Observation,
  type ProvisionResult,
} from '../../providers/types.ts';
import { maskSecrets } from '../../runtime/redact.ts';
import { abandonment, applyPhase, reportAbandonment } from './backends.ts';
import type { Decision } from './decision.ts';
import { auditFailure, auditIdentity, auditRequestIds } from './identity.ts';
import type { ReconcilerDeps } from './ports.ts';
import type { StatusDraft } from './status-draft.ts';

export interface ProvisionOutcome {
  status: Pick<AgentIdentityStatus, 'serviceAccount' | 'aws' | 'vault'>;
  changes: PlannedChange[];
  /** The backends now holding credentials (status.providers). */
  providers: string[];
  /** Recorded backends whose ClusterCredentialProvider is gone: nothing can revoke there. */
  stranded: string[];
  /** Recorded backends whose provider is gone, dropped now because the abandon annotation lists them. */
  abandoned: string[];
}

/** A backend whose observation found drift (read by gather, corrected here after a provision). */
export interface Drifted {
  kind: ProviderKind;
  key: string;
  provider: CredentialProvider;
  observation: Observation;
}

function ordered(entries: ProviderEntry[]): ProviderEntry[] {
  return [
    ...entries.filter((p) => p.kind !== 'kubernetes'),
    ...entries.filter((p) => p.kind === 'kubernetes'),
  ];
}

/**
 * Backends the spec needs that status does not record yet. When there are some, writes the intent and
 * returns the identity as written: the caller provisions from it, so no backend is touched before the
 * record of it is durable. Undefined when every backend is recorded already. The built-in Kubernetes
 * backend needs no record first: every phase covers it for every identity (credentialKeys), so an
 * identity with Kubernetes credentials only is provisioned without this write; the status write at the
 * end of the reconcile records it.
 */
export async function recordIntent(
  deps: ReconcilerDeps,
  ref: IdentityRef,
): Promise<AgentIdentity | undefined> {
  const recorded = new Set(ref.identity.status?.providers ?? []);
  const unrecorded = deps.providers
    .forIdentity(ref.identity)
    .map((e) => e.key)
    .filter((k) => !recorded.has(k));
  if (unrecorded.every((k) => k === KUBERNETES_KEY)) return undefined;
  const providers = [...recorded, ...unrecorded];
  const status = { ...ref.identity.status, providers };
  return (await deps.store.writeStatus(ref.identity, status)) ?? { ...ref.identity, status };
}

/**
 * The provision step: converge every backend, report stranded credentials and drift restored by a
 * steady-state provision, and set Provisioned. Returns whether drift was restored (and recorded).
 */
export async function provision(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  draft: StatusDraft,
  restore: boolean,
): Promise<{ driftRestored: boolean }> {
  const { identity } = ref;
  const steady =
    !restore &&
    draft.is('Provisioned') &&
    identity.status?.observedGeneration === identity.metadata.generation;
  const outcome = await provisionAll(deps, ref, steady);
  for (const key of outcome.stranded) deps.metrics.credentialsStranded(key);
  if (outcome.stranded.length > 0) {
    await deps.notifier.event(
      identity,
      'Warning',
      'CredentialsStranded',
      `credentials may remain in ${outcome.stranded.join(', ')}: their ClusterCredentialProvider is gone. Re-create it so the operator can revoke them, or give up on them (nhictl abandon; annotation ${Controls.abandonBackends}, which needs the abandon verb)`,
    );
  }
  await reportAbandonment(deps, ref, outcome.abandoned, 'provision');
  const driftRestored = steady && outcome.changes.length > 0;
  if (driftRestored) {
    const what = outcome.changes.map((c) => `${c.action} ${c.resource}`).join(', ');
    await deps.notifier.event(
      identity,
      'Warning',
      'DriftCorrected',
      `restored the desired state: ${what}`.slice(0, 900),
    );
  }
  draft.set('providers', outcome.providers);
  draft.set('serviceAccount', outcome.status.serviceAccount);
  draft.set('aws', outcome.status.aws);
  draft.set('vault', outcome.status.vault);
  draft
    .conditionsOf('provision')
    .set(
      'Provisioned',
      'True',
      'Provisioned',
      `service account ${outcome.status.serviceAccount} and its grants are in place`,
    );
  return { driftRestored };
}

/** Nothing is provisioned while the lifecycle holds: say why. */
export function holdProvisioning(draft: StatusDraft, decision: Extract<Decision, { action: 'hold' }>): void {
  const provisioned = draft.conditionsOf('provision');
  if (decision.reason === 'PolicyViolation' && !draft.is('Provisioned')) {
    provisioned.set(
      'Provisioned',
      'False',
      'PolicyViolation',
      'nothing is provisioned while the policy is violated',
    );
  }
  if (decision.reason === 'WorkloadUnresolvable') {
    provisioned.set('Provisioned', 'False', 'WorkloadUnresolvable', decision.message);
  }
}

/** Revocation deleted every credential. */
export function markDeprovisioned(draft: StatusDraft): void {
  draft.conditionsOf('provision').set('Provisioned', 'False', 'Revoked', 'credentials deleted');
}

export function provisionFailed(draft: StatusDraft, reason: string, message: string): void {
  draft.conditionsOf('provision').set('Provisioned', 'False', reason, message);
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
    const ids: string[] = [];
    const result = await provisionAudited(deps, ref, key, steady, ids, () =>
      provider.provision({ ...ref, serviceAccountAnnotations: annotations }),
    );
    Object.assign(annotations, result.serviceAccountAnnotations ?? {});
    if (kind === 'aws') status.aws = result.status;
    if (kind === 'vault') status.vault = { ...result.status, ...result.counts };
    if (kind === 'kubernetes')
      status.serviceAccount = result.status.serviceAccount ?? ref.subject.serviceAccountName;
    changes.push(...result.changes);
    if (steady && result.changes.length > 0) deps.metrics.driftCorrected(key, 'restored');
    const base = {
      identity: auditIdentity(ref.identity),
      actor: deps.actor,
      outcome: 'success' as const,
    };
    for (const change of result.changes) {
      await deps.audit.record({
        ...base,
        action: steady ? 'drift-corrected' : 'provisioned',
        resource: `${key}:${change.resource}`,
        origin: steady ? 'drift: restored the desired state' : 'reconcile',
        ...(steady && { severity: 'high' as const, ...auditRequestIds(ids) }),
        detail: `${change.action}: ${change.reason}`,
      });
    }
    if (steady) continue;
    // The outcome of the provision's intent, on the same resource, with the backend's request IDs.
    const foundInPlace = result.changes.length === 0 && !statusRecords(kind, ref.identity.status);
    await deps.audit.record({
      ...base,
      action: 'provisioned',
      resource: `${key}:identity/${ref.identity.metadata.namespace}/${ref.identity.metadata.name}`,
      origin: 'reconcile',
      ...auditRequestIds(ids),
      detail: foundInPlace
        ? // Everything is in place but status never recorded it: an earlier reconcile created it and
          // was cut (a crash, a failed status write) before it could say so. Its records may have been
          // lost with it: record the backend once more (at least once).
          'found in place: an earlier reconcile created it and was cut short (crash or failure) before status recorded it'
        : result.changes.length === 0
          ? 'nothing to change: already as desired'
          : `${result.changes.length} change(s), each recorded`,
    });
  }

  const wanted = entries.map((e) => e.key);
  const stale = staleBackends(deps, ref, wanted);
  if (stale.revoke.length > 0)
    await applyPhase(deps, ref, stale.revoke, 'revoke', 'scope removed from the spec');
  return {
    status,
    changes,
    providers: [...wanted, ...stale.stranded],
    stranded: stale.stranded,
    abandoned: stale.abandoned,
  };
}

/** Whether status already records a successful provision of a backend of `kind`. */
function statusRecords(kind: ProviderKind, status: AgentIdentityStatus | undefined): boolean {
  if (kind === 'aws') return Boolean(status?.aws?.roleArn);
  if (kind === 'vault') return Boolean(status?.vault?.role);
  return Boolean(status?.serviceAccount);
}

/**
 * One backend's provision with nothing left unrecorded: an intent record before a provision that
 * may write (not in the steady state, whose writes are drift and recorded as such), and on failure
 * a record of each write the provider completed before it failed (a role created before its policy
 * write failed) and the failure itself, with the backend's request ID when there is one.
 */
async function provisionAudited(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  key: string,
  steady: boolean,
  ids: string[],
  run: () => Promise<ProvisionResult>,
): Promise<ProvisionResult> {
  const base = {
    action: 'provisioned' as const,
    identity: auditIdentity(ref.identity),
    actor: deps.actor,
    origin: steady ? 'drift: restored the desired state' : 'reconcile',
  };
  const whole = `${key}:identity/${ref.identity.metadata.namespace}/${ref.identity.metadata.name}`;
  if (!steady) await deps.audit.record({ ...base, resource: whole, outcome: 'intent' });
  try {
    return await withRequestIds(ids, run);
  } catch (error) {
    for (const change of completedChanges(error)) {
      await deps.audit.record({
        ...base,
        ...(steady && { action: 'drift-corrected' as const, severity: 'high' as const }),
        resource: `${key}:${change.resource}`,
        outcome: 'success',
        detail: `${change.action}: ${change.reason} (before a later write failed)`,
      });
    }
    await deps.audit.record({
      ...base,
      resource: whole,
      outcome: 'failure',
      ...auditRequestIds(ids),
      ...auditFailure(error),
    });
    throw error;
  }
}

/**
 * Recorded backends the spec no longer names. Revoked when their backend is gone from the spec;
 * dropped without revoking when another wanted key names the same backend (a ClusterCredentialProvider
 * renamed or re-pointed: the credentials are still in use); kept as stranded when their provider
 * object no longer exists, so nothing can revoke them and a human must decide — dropped (abandoned)
 * once a human lists them in the abandon annotation. A listed backend whose provider exists is not
 * abandoned: it is revoked like any other.
 */
export function staleBackends(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  wanted: string[],
): { revoke: string[]; stranded: string[]; abandoned: string[] } {
  const wantedBackends = new Set(wanted.map((k) => deps.providers.backendOf(k)));
  const { honoured } = abandonment(deps, ref.identity);
  const revoke: string[] = [];
  const stranded: string[] = [];
  const abandoned: string[] = [];
  for (const key of ref.identity.status?.providers ?? []) {
    if (wanted.includes(key)) continue;
    const backend = deps.providers.backendOf(key);
    if (backend === undefined) (honoured.includes(key) ? abandoned : stranded).push(key);
    else if (!wantedBackends.has(backend)) revoke.push(key);
  }
  return { revoke, stranded, abandoned };
}

/** After a successful provision: restore what drifted, with a high-severity audit record and an Event. */
export async function correctDrift(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  drifted: Drifted[],
): Promise<void> {
  for (const { key, provider, observation } of drifted) {
    const base = {
      action: 'drift-corrected' as const,
      identity: auditIdentity(ref.identity),
      actor: deps.actor,
      resource: `${key}:${observation.drift.map((d) => `${d.resource}.${d.field}`).join(',')}`,
      origin: 'drift check',
      severity: 'high' as const,
    };
    // Intent before the correcting writes, outcome after them (also when the correction throws).
    await deps.audit.record({ ...base, outcome: 'intent' });
    const ids: string[] = [];
    let after: Awaited<ReturnType<typeof provider.observe>>;
    try {
      after = await withRequestIds(ids, () => provider.observe(ref, { correctDrift: true }));
    } catch (error) {
      await deps.audit.record({
        ...base,
        outcome: 'failure',
        ...auditRequestIds(ids),
        ...auditFailure(error),
      });
      throw error;
    }
    const corrected = after.corrected || after.drift.length === 0;
    deps.metrics.driftCorrected(key, corrected ? 'restored' : 'failed');
    const what = observation.drift.map((d) => `${d.resource} ${d.field}`).join(', ');
    await deps.audit.record({
      ...base,
      outcome: corrected ? 'success' : 'failure',
      ...auditRequestIds(ids),
      detail: maskSecrets(observation.drift.map((d) => d.detail).join('; ')),
    });
    await deps.notifier.event(
      ref.identity,
      'Warning',
      'DriftCorrected',
      `${key}: ${what} ${corrected ? 'restored' : 'still differs'}`,
    );
  }
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
