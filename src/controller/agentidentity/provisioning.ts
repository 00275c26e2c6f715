// Provisioning (condition Provisioned): every provider the identity needs converges its part. Cloud
// providers run first so that the annotations they need on the ServiceAccount (an IRSA role ARN)
// reach the kubernetes provider, which runs last and owns the ServiceAccount.

import type { AgentIdentityStatus, PlannedChange } from '../../api/v1alpha1/types.ts';
import type { IdentityRef } from '../../providers/types.ts';
import type { ReconcilerDeps } from './ports.ts';
import { auditIdentity } from './rotation.ts';

export interface ProvisionOutcome {
  status: Pick<AgentIdentityStatus, 'serviceAccount' | 'aws' | 'vault'>;
  changes: PlannedChange[];
}

function ordered(deps: ReconcilerDeps, ref: IdentityRef) {
  const all = deps.providers.forIdentity(ref.identity);
  return [...all.filter((p) => p.kind !== 'kubernetes'), ...all.filter((p) => p.kind === 'kubernetes')];
}

export async function provisionAll(deps: ReconcilerDeps, ref: IdentityRef): Promise<ProvisionOutcome> {
  const annotations: Record<string, string> = {};
  const status: ProvisionOutcome['status'] = {};
  const changes: PlannedChange[] = [];
  for (const { kind, provider } of ordered(deps, ref)) {
    const result = await provider.provision({ ...ref, serviceAccountAnnotations: annotations });
    Object.assign(annotations, result.serviceAccountAnnotations ?? {});
    if (kind === 'aws') status.aws = result.status;
    if (kind === 'vault') status.vault = result.status;
    if (kind === 'kubernetes')
      status.serviceAccount = result.status.serviceAccount ?? ref.subject.serviceAccountName;
    changes.push(...result.changes);
    for (const change of result.changes) {
      await deps.audit.record({
        action: 'provisioned',
        identity: auditIdentity(ref.identity),
        actor: deps.actor,
        resource: `${kind}:${change.resource}`,
        origin: 'reconcile',
        outcome: 'success',
        detail: `${change.action}: ${change.reason}`,
      });
    }
  }
  return { status, changes };
}

/** What provisioning would change now, without changing anything (status.plan, --dry-run). */
export async function planAll(deps: ReconcilerDeps, ref: IdentityRef): Promise<PlannedChange[]> {
  const plans = await Promise.all(ordered(deps, ref).map(({ provider }) => provider.plan(ref)));
  return plans.flat();
}
