// Staged secret rotation (condition SecretsRotated): which secrets are due, rotating them through
// their backend, syncing the Kubernetes target of external backends, and retiring previous values
// when the overlap (the API's one rule, defaults.ts) has passed. A rotation that already happened in
// the backend but never reached status (a crash between the two) is adopted, not repeated. An
// on-demand request (nhi.dev/rotate-requested-at) is handled once per distinct value: each secret
// records the value it handled in status.secrets[].rotationRequest.

import { Controls } from '../../api/v1alpha1/annotations.ts';
import {
  nextRotationAt,
  retireAt,
  rotateRequestTime,
  rotationRequestKey,
} from '../../api/v1alpha1/defaults.ts';
import type { AgentIdentity, PlannedChange, SecretSpec, SecretStatus } from '../../api/v1alpha1/types.ts';
import type { AuditEntry } from '../../governance/audit/audit.ts';
import { targetSecretNameOf } from '../../providers/kubernetes/names.ts';
import { secretProviderKind } from '../../providers/registry.ts';
import { withRequestIds } from '../../providers/request-ids.ts';
import type { IdentityRef, SecretMaterial } from '../../providers/types.ts';
import { registerSecretValue } from '../../runtime/logger.ts';
import { auditFailure, auditIdentity, auditRequestIds } from './identity.ts';
import type { ReconcilerDeps } from './ports.ts';
import type { StatusDraft } from './status-draft.ts';

/** The rotate request on the identity, as status.secrets[].rotationRequest records it. */
function rotateRequest(identity: AgentIdentity): string | undefined {
  const value = identity.metadata.annotations?.[Controls.rotateRequestedAt];
  return value ? rotationRequestKey(value) : undefined;
}

/**
 * Why the secret must rotate now, if it must. A rotate request counts once: only while the secret has
 * not handled that value yet, and only if the secret was last rotated before the time it names (a
 * future time counts as now, so it cannot rotate on every reconcile).
 */
export function rotationDue(
  identity: AgentIdentity,
  state: SecretStatus | undefined,
  now: Date,
): string | undefined {
  if (!state?.currentVersion) return 'initial value';
  const request = rotateRequest(identity);
  const value = identity.metadata.annotations?.[Controls.rotateRequestedAt];
  if (
    request !== undefined &&
    value !== undefined &&
    state.rotationRequest !== request &&
    (!state.lastRotated || new Date(state.lastRotated) < rotateRequestTime(value, now))
  )
    return 'requested';
  if (state.nextRotation && new Date(state.nextRotation) <= now) return 'interval elapsed';
  return undefined;
}

function materialStatus(secret: SecretSpec, material: SecretMaterial, rotatedAt: Date): SecretStatus {
  return {
    name: secret.name,
    currentVersion: material.current.version,
    ...(material.previous && { previousVersion: material.previous.version }),
    lastRotated: rotatedAt.toISOString(),
    nextRotation: nextRotationAt(secret, rotatedAt).toISOString(),
  };
}

export interface RotationOutcome {
  secrets: SecretStatus[];
  rotated: string[];
  /** Earliest time a secret needs attention again (rotation or retirement). */
  nextAt: Date | undefined;
}

/**
 * The rotate step: rotates what is due, retires what outlived its overlap, records status.secrets and
 * SecretsRotated. `restored`: the identity just left quarantine, so status picks up fresh values.
 */
export async function rotate(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  draft: StatusDraft,
  now: Date,
  restored: boolean,
): Promise<Date | undefined> {
  const rotation = await rotateDueSecrets(deps, ref, now, restored);
  const logins = await renewLogins(deps, ref);
  const rotated = [...rotation.rotated, ...logins.renewed];
  draft.set('secrets', rotation.secrets.length > 0 ? rotation.secrets : undefined);
  draft
    .conditionsOf('rotate')
    .set(
      'SecretsRotated',
      'True',
      rotated.length > 0 ? 'Rotated' : 'UpToDate',
      rotated.length > 0 ? `rotated ${rotated.join(', ')}` : 'every secret is within its rotation interval',
    );
  const nextAt = [rotation.nextAt, logins.nextAt].filter((d): d is Date => d !== undefined);
  return nextAt.length > 0 ? new Date(Math.min(...nextAt.map((d) => d.getTime()))) : undefined;
}

/**
 * Logins the providers keep in target Secrets (a database login: renewed at two thirds of its lease,
 * defaults.ts), each renewal with an audit record. Returns what was renewed and when to come back.
 */
async function renewLogins(
  deps: ReconcilerDeps,
  ref: IdentityRef,
): Promise<{ renewed: string[]; nextAt: Date | undefined }> {
  const renewed: string[] = [];
  let nextAt: Date | undefined;
  for (const { key, provider } of deps.providers.forIdentity(ref.identity)) {
    if (!provider.renewLogins) continue;
    const audited = (outcome: AuditEntry['outcome'], resource: string, more: { detail?: string } = {}) =>
      deps.audit.record({
        action: 'rotated',
        identity: auditIdentity(ref.identity),
        actor: deps.actor,
        resource: `${key}:${resource}`,
        origin: 'reconcile: login target',
        outcome,
        ...more,
      });
    let result: Awaited<ReturnType<NonNullable<typeof provider.renewLogins>>>;
    // The failure answers the intent it follows (same resource), so no intent reads as interrupted.
    let pending = 'login-targets';
    try {
      // Intent before the login is made, outcome once it is in its Secret: a crash between the two
      // leaves a record of the login no one holds.
      result = await provider.renewLogins(ref, {
        beforeIssue: async (resource, reason) => {
          pending = resource;
          await audited('intent', resource, { detail: reason });
        },
      });
    } catch (error) {
      await audited('failure', pending, auditFailure(error));
      throw error;
    }
    for (const change of result.renewed) {
      await audited('success', change.resource, { detail: change.reason });
      renewed.push(`${change.resource} (${change.reason})`);
    }
    if (result.nextAt && (!nextAt || result.nextAt < nextAt)) nextAt = result.nextAt;
  }
  return { renewed, nextAt };
}

export async function rotateDueSecrets(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  now: Date,
  restored = false,
): Promise<RotationOutcome> {
  const { identity } = ref;
  const previous = new Map((identity.status?.secrets ?? []).map((s) => [s.name, s]));
  const secrets: SecretStatus[] = [];
  const rotated: string[] = [];
  let nextAt: Date | undefined;
  const consider = (d: Date | undefined) => {
    if (d && (!nextAt || d < nextAt)) nextAt = d;
  };

  for (const secret of identity.spec.secrets ?? []) {
    const kind = secretProviderKind(secret);
    const provider = deps.providers.resolve(kind, secret.providerRef);
    let state = previous.get(secret.name);
    const due = rotationDue(identity, state, now);
    if (due) {
      const audited = (
        outcome: AuditEntry['outcome'],
        origin: string,
        more: { detail?: string; requestId?: string; requestIds?: string[] } = {},
      ) =>
        deps.audit.record({
          action: 'rotated',
          identity: auditIdentity(identity),
          actor: deps.actor,
          resource: `${kind}:secret/${secret.name}`,
          origin,
          outcome,
          ...more,
        });
      const live = await provider.readSecret(ref, secret);
      if (live && live.current.version !== state?.currentVersion) {
        // The backend moved on without status knowing (a crash after the write, a target sync that
        // failed, or a value created with the secret itself): adopt it, don't rotate again — and
        // record it, since no rotation record may have been written for it.
        registerSecretValue(live.current.value);
        // A literal `nhictl adopt` moved into the target Secret: the operator takes it over here, so
        // the cluster's chain records it (where it came from, never the value).
        if (live.current.adoptedFrom !== undefined)
          await recordAdoption(deps, ref, secret, live.current, state?.currentVersion);
        // Also an external backend's first value (status had none): it is written by the rotation
        // loop's 'initial value' write, whose intent may be waiting for this outcome. A kubernetes
        // secret's first value comes with its Secret, which provisioning created and recorded.
        else if (state?.currentVersion !== undefined || kind !== 'kubernetes')
          await audited('success', 'reconcile: adopted', {
            detail: `version ${live.current.version} found in the backend (status had ${state?.currentVersion ?? 'none'})`,
          });
        if (kind !== 'kubernetes') await deps.syncTarget(ref, secret, live);
        state = materialStatus(secret, live, now);
      } else {
        // Intent before the backend write, outcome right after it (before the target sync, which
        // may fail on its own): a rotation is never without a record.
        await audited('intent', `reconcile: ${due}`);
        let result: Awaited<ReturnType<typeof provider.rotate>>;
        const ids: string[] = [];
        try {
          result = await withRequestIds(ids, () =>
            provider.rotate(
              ref,
              secret,
              state?.currentVersion !== undefined ? { expectedCurrentVersion: state.currentVersion } : {},
            ),
          );
        } catch (error) {
          await audited('failure', `reconcile: ${due}`, { ...auditRequestIds(ids), ...auditFailure(error) });
          throw error;
        }
        registerSecretValue(result.material.current.value);
        await audited('success', `reconcile: ${due}`, {
          ...auditRequestIds(ids),
          detail: `version ${result.material.current.version}`,
        });
        if (kind !== 'kubernetes') await deps.syncTarget(ref, secret, result.material);
        state = materialStatus(secret, result.material, now);
        rotated.push(`${secret.name} (${due})`);
      }
    } else if (restored) {
      const live = await provider.readSecret(ref, secret);
      if (live) {
        if (kind !== 'kubernetes') await deps.syncTarget(ref, secret, live);
        // Only a value that really changed (the kubernetes backend writes a fresh one on restore)
        // restarts the interval; otherwise quarantine/restore cycles would postpone rotation forever.
        if (live.current.version !== state?.currentVersion) state = materialStatus(secret, live, now);
      }
    } else if (state?.previousVersion && state.lastRotated) {
      if (retireAt(secret, state.lastRotated) <= now) {
        await provider.retirePrevious(ref, secret);
        if (kind !== 'kubernetes') {
          const live = await provider.readSecret(ref, secret);
          if (live) await deps.syncTarget(ref, secret, live);
        }
        const { previousVersion: _retired, ...rest } = state;
        state = rest;
      }
    }
    // Whatever this reconcile did for the secret, the current request is now handled for it.
    const request = rotateRequest(identity);
    if (state && request !== undefined) state = { ...state, rotationRequest: request };
    if (state) {
      secrets.push(state);
      if (state.nextRotation) consider(new Date(state.nextRotation));
      if (state.previousVersion && state.lastRotated) consider(retireAt(secret, state.lastRotated));
    }
  }
  return { secrets, rotated, nextAt };
}

/**
 * The `adopted` record of a value `nhictl adopt` wrote into a kubernetes target Secret, made when the
 * operator takes its version over as current: the managed secret and its target Secret, and where
 * the literal was (the Secret's adoption mark), never the value.
 */
async function recordAdoption(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  secret: SecretSpec,
  current: SecretMaterial['current'],
  hadVersion: number | undefined,
): Promise<void> {
  await deps.audit.record({
    action: 'adopted',
    identity: auditIdentity(ref.identity),
    actor: deps.actor,
    resource: `${secretProviderKind(secret)}:secret/${secret.name}`,
    origin: `nhictl adopt ${current.adoptedFrom}`,
    outcome: 'success',
    severity: 'high',
    detail: `version ${current.version} of Secret ${ref.subject.namespace}/${targetSecretNameOf(ref.identity, secret)} taken over as the current value (status had ${hadVersion ?? 'none'})`,
  });
}

/** The rotations status.plan announces. */
export function plannedRotations(secrets: SecretStatus[] | undefined): PlannedChange[] {
  return (secrets ?? [])
    .filter((s) => s.nextRotation)
    .map((s) => ({
      action: 'rotate',
      resource: `secret/${s.name}`,
      reason: `interval ends ${s.nextRotation}`,
    }));
}
