// Two-phase revocation (conditions Quarantined and Revoked): phase 1 disables every credential of the
// identity reversibly, phase 2 deletes what we own. Both are idempotent, so a crash between any two
// provider calls is finished by the next reconcile. Providers run in reverse order of provisioning.

import { parseDuration } from '../../api/v1alpha1/duration.ts';
import type { AuditAction } from '../../governance/audit/audit.ts';
import type { IdentityRef } from '../../providers/types.ts';
import { Defaults } from './lifecycle.ts';
import type { ReconcilerDeps } from './ports.ts';
import { auditIdentity } from './rotation.ts';

type Phase = 'quarantine' | 'restore' | 'revoke';

const auditAction: Record<Phase, AuditAction> = {
  quarantine: 'quarantined',
  restore: 'restored',
  revoke: 'revoked',
};

/** Runs `phase` on every provider of the identity, last-provisioned first. */
export async function applyToAllProviders(
  deps: ReconcilerDeps,
  ref: IdentityRef,
  phase: Phase,
  origin: string,
): Promise<void> {
  const providers = deps.providers.forIdentity(ref.identity).reverse();
  for (const { kind, provider } of providers) {
    await provider[phase](ref);
    await deps.audit.record({
      action: auditAction[phase],
      identity: auditIdentity(ref.identity),
      actor: deps.actor,
      resource: `${kind}:identity/${ref.identity.metadata.namespace}/${ref.identity.metadata.name}`,
      origin,
      outcome: 'success',
      severity: phase === 'restore' ? 'info' : 'warning',
    });
  }
}

export function quarantineUntil(ref: IdentityRef, now: Date): string {
  const period = parseDuration(ref.identity.spec.quarantinePeriod ?? Defaults.quarantinePeriod) ?? 0;
  return new Date(now.getTime() + period).toISOString();
}
