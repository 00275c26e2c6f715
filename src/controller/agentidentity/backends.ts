// The backends an identity holds credentials in, and running one lifecycle phase over all of them.
// Quarantine (phase 1) disables every credential reversibly, revocation (phase 2) deletes what we own,
// restore re-enables. Each phase is idempotent, so a crash between two provider calls is finished by
// the next reconcile, and it keeps going past a failing backend: one unreachable Vault must not keep
// the Kubernetes RoleBinding alive. Owns no condition: the quarantine, revoke and provision steps call it.

import { Controls } from '../../api/v1alpha1/annotations.ts';
import type { AgentIdentity } from '../../api/v1alpha1/types.ts';
import type { AuditAction } from '../../governance/audit/audit.ts';
import { type IdentityRef, ProviderError } from '../../providers/types.ts';
import { auditIdentity } from './identity.ts';
import type { ReconcilerDeps } from './ports.ts';

export type Phase = 'quarantine' | 'restore' | 'revoke';

const auditAction: Record<Phase, AuditAction> = {
  quarantine: 'quarantined',
  restore: 'restored',
  revoke: 'revoked',
};

/** One or more backends failed a phase; the others were still done. Names the backends, never data. */
export class PartialFailureError extends ProviderError {
  override readonly reason: string;
  constructor(
    readonly failures: Array<{ key: string; error: unknown }>,
    phase: Phase,
  ) {
    super(
      `${phase} failed for ${failures
        .map(({ key, error }) => `${key} (${error instanceof Error ? error.message : String(error)})`)
        .join('; ')}`,
    );
    const first = failures[0]?.error;
    this.reason = first instanceof ProviderError ? first.reason : 'ProviderError';
  }
}

/** Backends listed in the abandon annotation: a human gave up revoking there. */
export function abandonedBackends(identity: AgentIdentity): string[] {
  return (identity.metadata.annotations?.[Controls.abandonBackends] ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
}

/** The keys of every backend holding credentials: what status recorded plus what the spec names. */
export function credentialKeys(deps: ReconcilerDeps, identity: AgentIdentity): string[] {
  const abandoned = abandonedBackends(identity);
  const keys = new Set((identity.status?.providers ?? []).filter((k) => !abandoned.includes(k)));
  keys.add('kubernetes');
  try {
    for (const entry of deps.providers.forIdentity(identity)) keys.add(entry.key);
  } catch {
    // A provider the spec names but that cannot be resolved holds nothing yet (provisioning failed too).
  }
  return [...keys];
}

/**
 * Runs `phase` on each backend in `keys` (kubernetes last, as it was provisioned last), continuing past
 * failures, and throws PartialFailureError at the end if any failed. Returns the keys that succeeded.
 */
export async function applyPhase(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  keys: readonly string[],
  phase: Phase,
  origin: string,
  options: { audit: boolean } = { audit: true },
): Promise<string[]> {
  const ordered = [...keys.filter((k) => k !== 'kubernetes'), ...keys.filter((k) => k === 'kubernetes')];
  const failures: Array<{ key: string; error: unknown }> = [];
  const done: string[] = [];
  for (const key of ordered) {
    try {
      await deps.providers.resolveKey(key).provider[phase](ref);
    } catch (error) {
      failures.push({ key, error });
      continue;
    }
    done.push(key);
    if (options.audit) {
      await deps.audit.record({
        action: auditAction[phase],
        identity: auditIdentity(ref.identity),
        actor: deps.actor,
        resource: `${key}:identity/${ref.identity.metadata.namespace}/${ref.identity.metadata.name}`,
        origin,
        outcome: 'success',
        severity: phase === 'restore' ? 'info' : 'warning',
      });
    }
  }
  if (failures.length > 0) throw new PartialFailureError(failures, phase);
  return done;
}

/** Runs `phase` over every backend holding the identity's credentials. */
export function applyPhaseEverywhere(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  phase: Phase,
  origin: string,
  options?: { audit: boolean },
): Promise<string[]> {
  return applyPhase(deps, ref, credentialKeys(deps, ref.identity), phase, origin, options);
}
