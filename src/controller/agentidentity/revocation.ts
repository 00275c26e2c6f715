// Two-phase revocation (conditions Quarantined and Revoked): phase 1 disables every credential of the
// identity reversibly, phase 2 deletes what we own. Both are idempotent, so a crash between any two
// provider calls is finished by the next reconcile. They run over every backend the identity has
// credentials in (status.providers) as well as those its spec names, and keep going past a failing
// backend: one unreachable Vault must not keep the Kubernetes RoleBinding alive.

import { parseDuration } from '../../api/v1alpha1/duration.ts';
import type { AgentIdentity } from '../../api/v1alpha1/types.ts';
import type { AuditAction } from '../../governance/audit/audit.ts';
import type { ProviderEntry } from '../../providers/registry.ts';
import { type IdentityRef, ProviderError } from '../../providers/types.ts';
import { ABANDON_ANNOTATION, Defaults } from './lifecycle.ts';
import type { ReconcilerDeps } from './ports.ts';
import { auditIdentity } from './rotation.ts';

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

/** The keys of every backend holding credentials: what status recorded plus what the spec names. */
export function credentialKeys(deps: ReconcilerDeps, identity: AgentIdentity): string[] {
  const abandoned = (identity.metadata.annotations?.[ABANDON_ANNOTATION] ?? '')
    .split(',')
    .map((k) => k.trim());
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
    let entry: ProviderEntry;
    try {
      entry = deps.providers.resolveKey(key);
      await entry.provider[phase](ref);
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

export function quarantineUntil(ref: IdentityRef, now: Date): string {
  const period = parseDuration(ref.identity.spec.quarantinePeriod ?? Defaults.quarantinePeriod) ?? 0;
  return new Date(now.getTime() + period).toISOString();
}
